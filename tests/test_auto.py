"""weights="auto": the blend a model chooses on its own training rows; the tower in the default set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec._auto import holdout
from hybridrec.components import ALSComponent, ItemKNNComponent, PopularityComponent, SemanticComponent
from hybridrec.evaluation import leave_last_split


def _components() -> list:
    return [("als", ALSComponent(factors=16, iterations=5)), ("itemknn", ItemKNNComponent()),
            ("semantic", SemanticComponent()), ("popularity", PopularityComponent())]


def _auto(**params) -> hr.HybridRecommender:
    return hr.HybridRecommender(components=_components(), weights="auto", cross_domain_weight="auto",
                                normalization="auto", random_state=0, **params)


@pytest.fixture(scope="module")
def weighted(sample: hr.datasets.Dataset) -> pd.DataFrame:
    """The sample with its ratings as weights, rows shuffled (order comes from the timestamps)."""
    frame = sample.interactions.copy()
    rng = np.random.default_rng(1)
    frame["weight"] = rng.integers(1, 4, len(frame)).astype(float)
    return frame.sample(frac=1.0, random_state=2).reset_index(drop=True)


@pytest.fixture(scope="module")
def auto_model(weighted: pd.DataFrame, sample: hr.datasets.Dataset) -> hr.HybridRecommender:
    return _auto().fit(weighted, items=sample.items)


def test_auto_blend_is_never_below_its_best_component(auto_model: hr.HybridRecommender) -> None:
    report = auto_model.auto_report_
    distinct = auto_model.data_.matrix.getnnz(axis=1)
    assert report["users"] == min(1000, int((distinct >= 2).sum()))  # every eligible user, up to 1,000
    assert report["heldout_ndcg@10"] >= max(report["single"].values()) - 1e-12
    assert set(report["single"]) == {"als", "itemknn", "semantic", "popularity"}
    chosen = {n for n, w in report["weights"].items() if w > 0}
    assert set(auto_model.components_) == chosen  # only the weighted components are refitted
    assert auto_model.weights_ == {n: report["weights"][n] for n in chosen}
    assert auto_model.cross_domain_weight_ == report["cross_domain_weight"] in (0.0, 0.25, 0.5, 1.0)
    assert auto_model.normalization_ == report["normalization"] in ("zscore", "minmax")
    recs = auto_model.recommend([auto_model.data_.user_ids[0]], k=5)
    assert len(recs) == 5


def test_auto_fits_are_seeded(auto_model: hr.HybridRecommender, weighted: pd.DataFrame,
                              sample: hr.datasets.Dataset) -> None:
    again = _auto().fit(weighted, items=sample.items)
    strip = ("trial_fit_seconds", "search_seconds")
    assert {k: v for k, v in again.auto_report_.items() if k not in strip} == \
        {k: v for k, v in auto_model.auto_report_.items() if k not in strip}
    users, items = list(weighted["user_id"].unique()[:5]), list(sample.items["item_id"][:50])
    np.testing.assert_array_equal(again.score_items(users, items), auto_model.score_items(users, items))


def test_auto_holds_out_training_rows_only(weighted: pd.DataFrame, sample: hr.datasets.Dataset) -> None:
    """The held-out events are each chosen user's last training event, and the trial fit never sees them."""
    split = leave_last_split(weighted, timestamp_col="timestamp", seed=0, items=sample.items)
    data = hr.InteractionData.from_frames(split.train, sample.items)
    rest, inner = holdout(data, 200, seed=0)
    train = split.train.sort_values("timestamp", kind="stable")
    last = train.groupby("user_id")["item_id"].last()
    assert len(inner.test) == 200
    assert (inner.test.set_index("user_id")["item_id"] == last.reindex(inner.test["user_id"])).all()
    held = set(zip(inner.test["user_id"], inner.test["item_id"]))
    kept = rest.matrix.tocoo()
    assert not held & set(zip(data.user_ids[kept.row], data.item_ids[kept.col]))
    assert rest.matrix.nnz < data.matrix.nnz and rest.n_users == data.n_users
    assert rest.sequences.indptr[-1] < data.sequences.indptr[-1]  # their events are gone from the order too


def test_the_held_out_events_follow_the_target(weighted: pd.DataFrame, sample: hr.datasets.Dataset) -> None:
    """``auto_target``: one random item per user, or all of one domain (the user becomes cold there)."""
    data = hr.InteractionData.from_frames(weighted, sample.items)
    pairs = set(zip(weighted["user_id"], weighted["item_id"]))
    rest, inner = holdout(data, 300, seed=0, target="random")
    assert len(inner.test) == inner.test["user_id"].nunique() == 300
    assert set(zip(inner.test["user_id"], inner.test["item_id"])) <= pairs
    ordered = weighted.sort_values("timestamp", kind="stable").groupby("user_id")["item_id"].last()
    assert (inner.test.set_index("user_id")["item_id"] != ordered.reindex(inner.test["user_id"])).any()
    assert rest.matrix.nnz == data.matrix.nnz - 300

    rest, inner = holdout(data, 300, seed=0, target="cross_domain")
    domain = sample.items.set_index("item_id")["domain"]
    test = inner.test.assign(domain=inner.test["item_id"].map(domain))
    assert test["user_id"].nunique() == 300 and (test.groupby("user_id")["domain"].nunique() == 1).all()
    user_domains = weighted.assign(domain=weighted["item_id"].map(domain)).groupby("user_id")["domain"]
    for user, rows in test.groupby("user_id"):  # every item of that domain is held out; another domain stays
        mine = weighted[(weighted["user_id"] == user) & (weighted["item_id"].map(domain) == rows["domain"].iloc[0])]
        assert set(rows["item_id"]) == set(mine["item_id"])
        assert user_domains.get_group(user).nunique() >= 2
    kept = rest.matrix.tocoo()
    assert not set(zip(test["user_id"], test["item_id"])) & set(zip(data.user_ids[kept.row], data.item_ids[kept.col]))
    assert set(inner.train["user_id"]) == set(test["user_id"])  # each keeps a history in its other domains


def test_auto_target_cross_domain_chooses_for_users_new_to_a_domain(weighted: pd.DataFrame,
                                                                     sample: hr.datasets.Dataset) -> None:
    model = _auto(auto_target="cross_domain").fit(weighted, items=sample.items)
    report = model.auto_report_
    assert report["target"] == "cross_domain" and report["heldout_events"] > report["users"]
    assert report["heldout_ndcg@10"] >= max(report["single"].values()) - 1e-12
    with pytest.raises(ValueError, match="'auto_target' parameter of HybridRecommender must be one of"):
        _auto(auto_target="last").fit(weighted, items=sample.items)


def test_auto_settings_need_auto_weights(sample: hr.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match="weights='auto'"):
        hr.HybridRecommender(weights={"als": 1.0}, cross_domain_weight="auto").fit(sample.interactions)
    with pytest.raises(ValueError, match="weights='auto'"):
        hr.HybridRecommender(normalization="auto").fit(sample.interactions)


def test_default_tower_follows_the_order_of_the_interactions(sample: hr.datasets.Dataset) -> None:
    """Timestamps (or ordered=True) fit the default sequence tower; without order it gets weight 0."""
    small = sample.interactions[sample.interactions["user_id"].isin(sample.interactions["user_id"].unique()[:60])]
    unordered = small.drop(columns="timestamp")

    def model() -> hr.HybridRecommender:
        return hr.HybridRecommender(random_state=0).set_params(tower__max_epochs=1, als__iterations=2, lightfm__epochs=1)

    timed = model().fit(small, items=sample.items)
    assert "tower" in timed.components_ and timed.components_["tower"].encoder == "sequence"
    assert timed.columns_["ordered"] is True
    plain = model().fit(unordered, items=sample.items)
    assert "tower" not in plain.components_ and plain.columns_["ordered"] is False
    assert set(plain.components_) == {"als", "lightfm", "semantic", "itemknn"}
    told = model().fit(unordered, items=sample.items, ordered=True)
    assert "tower" in told.components_
    # named explicitly, the tower is fitted on row order too
    explicit = hr.HybridRecommender(weights={"tower": 1.0}, random_state=0).set_params(tower__max_epochs=1)
    assert list(explicit.fit(unordered, items=sample.items).components_) == ["tower"]
    # weights="auto" tries the tower only on ordered interactions
    auto = hr.HybridRecommender(weights="auto", random_state=0).set_params(
        tower__max_epochs=1, als__iterations=2, lightfm__epochs=1).fit(unordered, items=sample.items)
    assert "tower" not in auto.auto_report_["single"] and "als" in auto.auto_report_["single"]
