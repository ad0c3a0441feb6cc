"""``add_interactions``: new events for stored users (and new users) without a refit.

A stored user with added rows must score exactly as their whole history (stored rows, then the
new ones, newest last) posted as a new user: weights combine by the fitted ``duplicates`` rule
and the sequence tower reads the added events as the most recent. Data as users have it:
ratings as weights, repeated events, tuple ids, shuffled rows.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec import components

PARTS = ("als", "itemknn", "semantic", "tower")


def _model(**fit) -> hr.HybridRecommender:
    comps = [(name, components.create(name)) for name in PARTS]
    model = hr.HybridRecommender(components=comps, weights={name: 1.0 for name in PARTS}, random_state=0)
    return model.set_params(als__factors=8, als__iterations=3, tower__encoder="sequence", tower__max_epochs=1,
                            tower__dim=16, tower__hidden=32)


@pytest.fixture(scope="module")
def weighted(sample) -> pd.DataFrame:
    """Ratings as weights (1 to 2.5), 10% of events repeated later, rows shuffled, tuple user ids."""
    frame = sample.interactions.assign(weight=sample.interactions["rating"] - 2.5)
    repeats = frame.sample(frac=0.1, random_state=0).assign(timestamp=lambda f: f["timestamp"] + 1)
    frame = pd.concat([frame, repeats], ignore_index=True)
    frame = frame.assign(user_id=[("eu", int(u)) for u in frame["user_id"]])
    return frame.iloc[np.random.default_rng(0).permutation(len(frame))].reset_index(drop=True)


@pytest.fixture(scope="module", params=["sum", "max"])
def fitted(request, weighted, sample) -> tuple[hr.HybridRecommender, str]:
    return _model().fit(weighted, items=sample.items, duplicates=request.param), request.param


def _added(weighted: pd.DataFrame, user, items: list) -> pd.DataFrame:
    """Events for ``user``: ``items`` in this order, after everything the user did, weights 0.5, 3, 1.5..."""
    last = weighted["timestamp"].max()
    return pd.DataFrame({"user_id": [user] * len(items), "item_id": items,
                         "weight": [(0.5, 3.0, 1.5)[i % 3] for i in range(len(items))],
                         "timestamp": last + 1 + np.arange(len(items))})


def test_a_stored_user_scores_as_their_whole_history_posted(fitted, weighted):
    model, rule = fitted
    model = copy.copy(model)
    counts = weighted["user_id"].value_counts()
    user = counts.index[len(counts) // 2]
    own = weighted[weighted["user_id"] == user]
    seen = own["item_id"].tolist()
    fresh = [i for i in model.data_.item_ids[:400] if i not in set(seen)][:3]
    added = _added(weighted, user, [fresh[0], seen[0], fresh[1], fresh[0], fresh[2]])  # a stored item, a repeat
    before = model.score_items([user]).copy()
    n_users = model.data_.n_users
    assert model.add_interactions(added) is model
    after = model.score_items([user])
    expected = model.score_new(pd.concat([own, added], ignore_index=True), [user])
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(after - before).max() > 1e-3  # the profile moved
    # the stored row: the rule of fit merges the stored weight with the new ones
    row = model.data_.matrix[model.data_.user_index([user])[0]]
    stored = own.groupby("item_id")["weight"].agg(rule)
    combined = pd.concat([own, added]).groupby("item_id")["weight"].agg(rule)
    got = dict(zip(model.data_.item_ids[row.indices], row.data))
    assert got == pytest.approx(combined.to_dict()) and got != pytest.approx(stored.to_dict())
    # newest last: the tower reads the added events as the most recent
    sequence = model.data_.sequences.user(int(model.data_.user_index([user])[0]))
    assert model.data_.item_ids[sequence[-5:]].tolist() == added["item_id"].tolist()
    assert model.data_.n_users == n_users
    top = model.recommend(user, k=20)["item_id"].tolist()
    assert not set(top) & set(fresh)  # seen now


def test_new_users_are_folded_in_and_other_users_do_not_move(fitted, weighted, sample):
    model = copy.copy(fitted[0])
    other = weighted["user_id"].iloc[0]
    before = model.score_items([other]).copy()
    items = sample.items["item_id"].tolist()
    rows = pd.DataFrame({"user_id": [("new", 1), ("new", 1), ("new", 2)], "item_id": [items[3], items[9], items[3]],
                         "weight": [2.0, 1.0, 0.5]})
    model.add_interactions(rows, texts={("new", 3): "space adventure"})
    assert {("new", 1), ("new", 2), ("new", 3)} <= set(model.data_.user_ids)
    np.testing.assert_allclose(model.score_items([("new", 1)]), model.score_new(rows.iloc[:2], [("new", 1)]),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.score_items([other]), before)
    assert len(model.recommend(("new", 3), k=5)) == 5


def test_bad_input_changes_nothing(fitted, weighted):
    model = copy.copy(fitted[0])
    user = weighted["user_id"].iloc[0]
    data = model.data_
    with pytest.raises(ValueError, match="unknown item"):
        model.add_interactions(pd.DataFrame({"user_id": [user, ("new", 9)], "item_id": [1, -12345]}))
    with pytest.raises(ValueError, match="texts are for users the model does not store"):
        model.add_interactions(pd.DataFrame({"user_id": [user], "item_id": [1]}), texts={user: "a text"})
    with pytest.raises(ValueError, match="has no column 'item_id'"):
        model.add_interactions(pd.DataFrame({"user_id": [user]}))
    with pytest.raises(ValueError, match="finite"):
        model.add_interactions(pd.DataFrame({"user_id": [user], "item_id": [1], "weight": [-1.0]}))
    assert model.data_ is data
