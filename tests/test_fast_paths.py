"""The scoring loop's fast paths give the exact path's answers: linear blends by one product, cached user states."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec._linear import LinearRanker
from hybridrec.blend import scored_names
from hybridrec.components import ALSComponent, LightFMComponent, PureSVDComponent
from hybridrec.users import known_users


@pytest.fixture(scope="module")
def linear_model(sample: hr.datasets.Dataset) -> hr.HybridRecommender:
    """ALS, PureSVD and LightFM (every one a dot product) on the sample, z-scored."""
    model = hr.HybridRecommender(
        components=[("als", ALSComponent(factors=16, iterations=5)), ("svd", PureSVDComponent(factors=16)),
                    ("lightfm", LightFMComponent(epochs=3))],
        weights={"als": 1.0, "svd": 0.5, "lightfm": 0.25}, random_state=0,
    )
    return model.fit(sample.interactions, items=sample.items, users=sample.users)


def _exact_top(model: hr.HybridRecommender, users: list, domain: str, k: int, cdw: float | None = None) -> list[list]:
    """Top-k item ids per user from score_items (the exact path): seen masked, popularity breaking ties."""
    items = model.data_.item_ids[model.data_.items_in_domain(model.data_.domain_code(domain))]
    scores = model.score_items(users, items, cross_domain_weight=cdw).astype(np.float64)
    seen = model.data_.matrix[model.data_.user_index(users)][:, model.data_.item_index(list(items))].toarray() > 0
    scores[seen] = -np.inf
    tie = model.catalogue_.popularity[model.data_.item_index(list(items))]
    order = np.argsort(-(scores + 1e-6 * tie), axis=1, kind="stable")[:, :k]
    return [list(items[row]) for row in order]


def test_a_linear_blend_ranks_as_the_exact_path(linear_model, sample):
    users = sample.interactions["user_id"].drop_duplicates().iloc[:40].tolist()
    scope = np.arange(linear_model.data_.n_items)
    assert LinearRanker.applies(linear_model.components_, list(linear_model.weights_), scope, "zscore")
    for domain in linear_model.data_.domains:
        fast = linear_model.recommend(users, k=10, domain=domain)
        assert fast.groupby("user_id").size().eq(10).all()
        got = [fast[fast["user_id"] == u]["item_id"].tolist() for u in users]
        assert got == _exact_top(linear_model, users, domain, 10)
        # The reported scores are the blended scores score_items gives.
        exact = linear_model.score_items(users, fast["item_id"].unique())
        col = {item: j for j, item in enumerate(fast["item_id"].unique())}
        row = {u: i for i, u in enumerate(users)}
        expected = [exact[row[u], col[i]] for u, i in zip(fast["user_id"], fast["item_id"])]
        np.testing.assert_allclose(fast["score"], expected, rtol=1e-4, atol=1e-4)


def test_the_linear_path_equals_the_exact_one_in_every_mode(linear_model, sample):
    users = sample.interactions["user_id"].drop_duplicates().iloc[:25].tolist()
    known = known_users(linear_model.data_, users, "test")
    args = dict(users=known, codes=list(range(len(linear_model.data_.domains))), blend_w=linear_model.weights_,
                query=None, k=7)
    for cdw, exclude, whole in [(0.0, True, False), (1.0, False, False), (0.5, True, True)]:
        fast = list(linear_model.scorer_.top_linear(cross_domain_weight=cdw, exclude_seen=exclude, whole=whole, **args))
        exact = list(linear_model.scorer_.top_exact(cross_domain_weight=cdw, exclude_seen=exclude, whole=whole, **args))
        assert len(fast) == len(exact) == len(linear_model.data_.domains)  # one block per domain (one batch)
        for (_, _, fast_items, fast_scores), (_, _, exact_items, exact_scores) in zip(fast, exact):
            np.testing.assert_array_equal(fast_items, exact_items)
            np.testing.assert_allclose(fast_scores, exact_scores, rtol=1e-4, atol=1e-4)


def test_cached_states_follow_the_call_and_the_models_changes(linear_model, sample):
    model = copy.deepcopy(linear_model)
    assert "_scorer" not in model.__dict__  # the scorer and its caches are never copied or saved
    users = sample.interactions["user_id"].drop_duplicates().iloc[:30].tolist()
    first = model.recommend(users, k=10, cross_domain_weight=0.0)
    other = model.recommend(users, k=10, cross_domain_weight=1.0)
    assert not first.equals(other)  # the cache is keyed by the weight
    pd.testing.assert_frame_equal(model.recommend(users, k=10, cross_domain_weight=0.0), first)
    # A subset served from the cache equals the same users scored on a fresh copy.
    fresh = copy.deepcopy(linear_model).recommend(users[:5], k=10, cross_domain_weight=0.0)
    pd.testing.assert_frame_equal(model.recommend(users[:5], k=10, cross_domain_weight=0.0), fresh)
    # Removed items are never served from a stale cache; folded-in users are served.
    top = first.groupby("user_id")["item_id"].first().unique()[:3].tolist()
    model.remove_items(top)
    assert not model.recommend(users, k=10, cross_domain_weight=0.0)["item_id"].isin(top).any()
    history = sample.interactions[sample.interactions["user_id"] == users[0]].assign(user_id="someone new")
    history = history[~history["item_id"].isin(top)]
    model.fold_in_users(history)
    pd.testing.assert_frame_equal(
        model.recommend(["someone new"], k=10).drop(columns="user_id"),
        model.recommend_new(history, k=10).drop(columns="user_id"))


def test_lightfm_reports_each_epoch(linear_model):
    lightfm = linear_model.components_["lightfm"]
    assert len(lightfm.epoch_seconds_) == 3 and all(t > 0 for t in lightfm.epoch_seconds_)


def test_non_linear_blends_take_the_exact_path(fitted_sample_model, sample):
    users = sample.interactions["user_id"].drop_duplicates().iloc[:10].tolist()
    names = scored_names(fitted_sample_model.weights_)
    scope = np.arange(fitted_sample_model.data_.n_items)
    assert not LinearRanker.applies(fitted_sample_model.components_, names, scope, "zscore")
    got = fitted_sample_model.recommend(users, k=5, domain=fitted_sample_model.data_.domains[0])
    assert got.groupby("user_id").size().eq(5).all()


def test_ann_candidates_rank_exactly_when_they_cover_the_domain(linear_model, sample):
    pytest.importorskip("faiss", reason='recommend(candidates=...) needs faiss (pip install "hybridrec[ann]")')
    users = sample.interactions["user_id"].drop_duplicates().iloc[:30].tolist()
    domain = linear_model.data_.domains[0]
    n_items = len(linear_model.data_.items_in_domain(linear_model.data_.domain_code(domain)))
    exact = linear_model.recommend(users, k=10, domain=domain)
    pd.testing.assert_frame_equal(linear_model.recommend(users, k=10, domain=domain, candidates=n_items), exact)
    # A small search list still gives k unseen items per user, most of them the exact ones.
    approx = linear_model.recommend(users, k=10, domain=domain, candidates=50)
    assert approx.groupby("user_id").size().eq(10).all()
    seen = sample.interactions.groupby("user_id")["item_id"].apply(set)
    assert not any(item in seen[user] for user, item in zip(approx["user_id"], approx["item_id"]))
    overlap = np.mean([len(set(exact[exact.user_id == u].item_id) & set(approx[approx.user_id == u].item_id)) / 10
                       for u in users])
    assert overlap >= 0.8


def test_ann_candidates_are_refused_for_blends_it_cannot_reproduce(fitted_sample_model, sample):
    user = sample.interactions["user_id"].iloc[0]
    with pytest.raises(ValueError, match="candidates=.*dot-product components"):
        fitted_sample_model.recommend([user], k=5, candidates=100)
    with pytest.raises(ValueError, match="'candidates' parameter of recommend must be a positive int"):
        fitted_sample_model.recommend([user], k=5, candidates=0)


def test_the_scorer_is_rebuilt_when_its_state_changes_and_keeps_valid_caches(linear_model, sample):
    model = copy.deepcopy(linear_model)
    users = sample.interactions["user_id"].drop_duplicates().iloc[:20].tolist()
    scorer = model.scorer_
    assert model.scorer_ is scorer  # nothing changed: the same scorer, caches and all
    before = model.score_items(users)
    model.reweight({"als": 1.0})
    reweighted = model.scorer_
    assert reweighted is not scorer and reweighted.weights == {"als": 1.0, "svd": 0.0, "lightfm": 0.0}
    assert reweighted.states is scorer.states  # same data and components: known users' states still hold
    np.testing.assert_allclose(model.score_items(users), model.component_scores(users, components=["als"])["als"],
                               rtol=1e-5, atol=1e-5)
    model.set_params(normalization="minmax")
    assert model.scorer_.normalization == "minmax"
    assert not np.allclose(model.score_items(users), before)
    model.set_params(normalization="zscore").reweight(dict(linear_model.weights_))
    np.testing.assert_allclose(model.score_items(users), before, rtol=1e-5, atol=1e-5)
    # New data (an item added) means new caches: nothing computed for the old catalogue is served.
    item = sample.items.iloc[[0]].assign(item_id="new-item")
    model.add_items(item)
    assert not model.scorer_.shares_fit(linear_model.data_, linear_model.components_)
    assert model.scorer_.states is not scorer.states
    assert model.score_items(users, ["new-item"]).shape == (20, 1)
