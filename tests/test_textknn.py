"""TextKNNComponent on the bundled sample: the soft maximum, temperature, cross-domain weight, new items."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.blend import cross_domain_item_weights
from hybridrec.components import SemanticComponent, TextKNNComponent, UserBatch
from hybridrec.components import textknn as textknn_module


def _fit(sample, **params) -> hr.HybridRecommender:
    model = hr.HybridRecommender(components=[("textknn", TextKNNComponent(**params))], weights={"textknn": 1.0},
                                 random_state=0, show_progress=False)
    return model.fit(sample.interactions, items=sample.items)


@pytest.fixture(scope="module")
def model(sample) -> hr.HybridRecommender:
    return _fit(sample)


def _raw(model, user, domain: str, cdw: float, items=None) -> np.ndarray:
    """The component's raw scores of one user, for ``domain`` at ``cdw``."""
    comp = model.components_["textknn"]
    row = model.data_.user_index([user])
    weights = cross_domain_item_weights(model.data_.item_domain, model.data_.domain_code(domain), cdw)
    batch = UserBatch(model.data_.matrix[row], item_weights=weights)
    items = np.arange(model.data_.n_items) if items is None else items
    return comp.score(comp.user_state(batch), items)[0]


def _lone_user(sample, domain: str):
    """A user of the sample whose whole history lies in ``domain``."""
    joined = sample.interactions.merge(sample.items[["item_id", "domain"]], on="item_id")
    per_user = joined.groupby("user_id")["domain"].agg(["nunique", "first"])
    return per_user[(per_user["nunique"] == 1) & (per_user["first"] == domain)].index[0]


def test_scores_are_the_soft_maximum_of_history_similarities(model, sample):
    user = sample.interactions["user_id"].iloc[0]
    emb = model.item_embeddings_
    row = model.data_.matrix[model.data_.user_index([user])]
    weights = row.data * np.where(model.data_.item_domain[row.indices] == model.data_.domain_code("drama"), 1.0, 0.5)
    sims = emb[row.indices] @ emb.T
    expected = 0.1 * np.log((weights[:, None] * np.exp(sims.astype(np.float64) / 0.1)).sum(axis=0))
    np.testing.assert_allclose(_raw(model, user, "drama", 0.5), expected, rtol=1e-4, atol=1e-4)


def test_the_soft_maximum_follows_the_closest_history_item_more_than_the_mean_does(model, sample):
    """The point of the soft maximum: an item close to any one liked item scores high."""
    counts = sample.interactions["user_id"].value_counts()
    emb = model.item_embeddings_
    for user in (counts.index[len(counts) // 2], counts.index[len(counts) // 10]):  # a median and a heavy user
        scores = _raw(model, user, "drama", 1.0)
        row = model.data_.matrix[model.data_.user_index([user])]
        sims = emb[row.indices] @ emb.T
        closest, mean = sims.max(axis=0), sims.mean(axis=0)
        assert np.corrcoef(scores, closest)[0, 1] > np.corrcoef(mean, closest)[0, 1]


def test_a_large_temperature_ranks_like_the_mean_text_profile(sample):
    warm = _fit(sample, temperature=100.0, user_text_weight=0.0)
    mean = hr.HybridRecommender(components=[("semantic", SemanticComponent(user_text_weight=0.0))],
                                weights={"semantic": 1.0}, show_progress=False)
    mean.fit(sample.interactions, items=sample.items)
    users = sample.interactions["user_id"].drop_duplicates().iloc[:5].tolist()
    a = warm.recommend(users, k=10, domain="family")
    b = mean.recommend(users, k=10, domain="family")
    overlap = a.merge(b, on=["user_id", "item_id"]).shape[0] / len(a)
    assert overlap >= 0.8


def test_cross_domain_weight_switches_other_domain_history_on(model, sample):
    user = _lone_user(sample, "thriller")
    assert not _raw(model, user, "drama", 0.0).any()  # no drama history, other domains off: no signal
    on = _raw(model, user, "drama", 1.0)
    assert np.isfinite(on).all() and on.std() > 0
    half = _raw(model, user, "drama", 0.5)
    np.testing.assert_allclose(half, on + 0.1 * np.log(0.5), rtol=1e-4, atol=1e-4)  # same ranking, shifted


def test_blocks_do_not_change_the_scores(model, sample, monkeypatch):
    users = sample.interactions["user_id"].drop_duplicates().iloc[:40].tolist()
    whole = model.score_items(users)
    monkeypatch.setattr(textknn_module, "_BLOCK", 5_000)
    np.testing.assert_allclose(model.score_items(users), whole, rtol=1e-5, atol=1e-5)


def test_new_items_are_scored_from_text_and_warm_scores_stay(sample):
    model = _fit(sample)
    users = sample.interactions["user_id"].drop_duplicates().iloc[:3].tolist()
    before = _raw(model, users[0], "family", 0.5)
    toy_story = sample.items.set_index("item_id").loc[1, "text"]  # the sample's item 1
    new = pd.DataFrame({"item_id": ["n1"], "text": [toy_story.replace("Toy Story (1995)", "Toy Story 5 (2030)")],
                        "domain": ["family"]})
    model.add_items(new)
    after = _raw(model, users[0], "family", 0.5)
    np.testing.assert_allclose(after[:-1], before, rtol=1e-6)  # warm items' scores do not move
    fans = sample.interactions.loc[sample.interactions["item_id"] == 1, "user_id"]
    toy_fan = sample.interactions["user_id"].value_counts()[fans].idxmin()  # the lightest user who liked it
    scores = _raw(model, toy_fan, "family", 0.5)
    assert (scores < scores[-1]).mean() > 0.99  # the new sequel ranks in the fan's top 1%


def test_explain_splits_the_score_over_history(model, sample):
    user = sample.interactions["user_id"].iloc[0]
    top = model.recommend(user, k=1, domain="family")["item_id"].iloc[0]
    comp = model.components_["textknn"]
    row = model.data_.matrix[model.data_.user_index([user])]
    weights = cross_domain_item_weights(model.data_.item_domain, model.data_.domain_code("family"), model.cross_domain_weight)
    batch = UserBatch(row, item_weights=weights)
    item = int(model.data_.item_index([top])[0])
    contributions = comp.history_contributions(batch, item)
    assert contributions.shape == (row.nnz,)
    raw = comp.score(comp.user_state(batch), np.array([item]))[0, 0]
    np.testing.assert_allclose(contributions.sum(), raw, rtol=1e-4)
    explanation = model.explain(user, top)
    assert explanation["history"] and "textknn" in explanation["components"]


def test_text_queries_and_users_without_anything(model):
    recs = model.recommend_for_text(["animated movies about toys", ""], k=5)
    first = recs[recs["query"] == "animated movies about toys"]
    assert len(first) == 5 and recs["score"].notna().all()


@pytest.mark.parametrize("params, message", [({"temperature": 0.0}, "'temperature'"), ({"temperature": -1.0}, "'temperature'"),
                                             ({"user_text_weight": -1.0}, "'user_text_weight'")])
def test_bad_parameters(sample, params, message):
    with pytest.raises(ValueError, match=message):
        _fit(sample, **params)
