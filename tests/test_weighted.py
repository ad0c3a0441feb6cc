"""Data as users have it: weights other than 1, repeated events, tuple ids, unordered rows.

Regression tests for four ways the estimator used to rewrite or lose what it was given:

- item-kNN, EASE and PureSVD binarised the model's own stored histories in place;
- a refused ``add_items`` left the catalogue one item longer than the rest of the model;
- ``remove_items`` and ``release_items`` split a tuple id into two ids;
- ``duplicates="max"`` held at fit only (new users' repeated rows were summed).

The weights are the sample's real MovieLens ratings (3.5 to 5 stars become weights 1 to 2.5).
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec import components
from hybridrec.components import Component

from _helpers import assert_raised_by_us

#: A small blend that has every component which used to binarise (item-kNN, EASE, PureSVD) next
#: to the components that build users from their weighted histories at scoring time.
PARTS = ("als", "itemknn", "ease", "svd", "semantic")


def _model(**params) -> hr.HybridRecommender:
    comps = [(name, components.create(name)) for name in PARTS]
    model = hr.HybridRecommender(components=comps, weights={name: 1.0 for name in PARTS}, random_state=0)
    return model.set_params(als__factors=16, als__iterations=5, svd__factors=16, ease__min_count=2, **params)


@pytest.fixture(scope="module")
def weighted(sample) -> pd.DataFrame:
    """The sample's positives weighted by rating, 10% of them repeated later, rows shuffled."""
    frame = sample.interactions.assign(weight=sample.interactions["rating"] - 2.5)
    rng = np.random.default_rng(0)
    repeats = frame.sample(frac=0.1, random_state=0).assign(timestamp=lambda f: f["timestamp"] + 1)
    frame = pd.concat([frame, repeats], ignore_index=True)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


@pytest.fixture(scope="module")
def weighted_model(weighted, sample) -> hr.HybridRecommender:
    return _model().fit(weighted, items=sample.items, users=sample.users)


def test_weighted_fixture_is_really_weighted(weighted):
    assert set(np.unique(weighted["weight"])) == {1.0, 1.5, 2.0, 2.5}
    assert weighted.duplicated(["user_id", "item_id"]).sum() > 1000


def test_fit_keeps_the_weighted_histories_it_was_given(weighted_model, weighted, sample):
    expected = hr.InteractionData.from_frames(weighted, sample.items, sample.users).matrix
    stored = weighted_model.data_.matrix
    assert (stored != expected).nnz == 0
    assert len(np.unique(stored.data)) > 4  # ratings summed over repeats: more than the four weights


def test_fitted_training_data_is_read_only(weighted_model):
    data = weighted_model.data_
    for array in (data.matrix.data, data.matrix.indices, data.matrix.indptr, *data.item_blocks.values()):
        with pytest.raises(ValueError, match="read-only"):
            array[:1] = 0


def test_a_known_user_scores_as_their_own_history_posted_as_new(weighted_model, weighted):
    counts = weighted["user_id"].value_counts()
    for user in (counts.index[0], counts.index[len(counts) // 2], counts.index[-1]):
        history = weighted[weighted["user_id"] == user]
        new = weighted_model.score_new(history, [user])
        seen = weighted_model.score_items([user])
        np.testing.assert_allclose(new, seen, rtol=1e-5, atol=1e-5)


@pytest.fixture()
def extras():
    """Two small components, registered for one test only: one keeps the base refusal of item
    edits, one declares it can edit items and then fails halfway (a full disk, say)."""
    from hybridrec.components import _registry

    class Fixed(Component):
        name = "test_weighted_fixed"

        def fit(self, data):
            self.n_items_ = data.matrix.shape[1]
            return self

        def user_state(self, users):
            return len(users)

        def score(self, state, items):
            return np.tile(np.asarray(items, dtype=np.float32) / max(self.n_items_, 1), (state, 1))

    class Failing(Fixed):
        name = "test_weighted_failing"

        def add_items(self, blocks, domains):
            raise RuntimeError("disk full")

        def remove_items(self, keep):
            raise RuntimeError("disk full")

    try:
        yield {"refuses": Fixed, "fails": Failing}
    finally:
        for cls in (Fixed, Failing):
            _registry._REGISTRY.pop(cls.name, None)


def _snapshot(model):
    return (model.data_.n_items, len(model.catalogue_.popularity), len(model.catalogue_.held),
            model.score_items([1, 2]).copy(), model.recommend([1, 2], k=5).copy())


@pytest.mark.parametrize("kind", ["refuses", "fails"])
def test_item_edits_that_fail_leave_the_model_unchanged(sample, kind, extras):
    model = hr.HybridRecommender(components=[("als", components.create("als", factors=8, iterations=2)),
                                             ("semantic", components.create("semantic")), ("extra", extras[kind]())],
                                 random_state=0).fit(sample.interactions, items=sample.items)
    before = _snapshot(model)
    new = pd.DataFrame({"item_id": [10**9], "text": ["a film about a new toy"], "domain": ["family"]})
    expected = NotImplementedError if kind == "refuses" else RuntimeError
    with pytest.raises(expected) as excinfo:
        model.add_items(new)
    if kind == "refuses":
        assert "extra" in str(excinfo.value) and "nothing was changed" in str(excinfo.value)
        assert_raised_by_us(excinfo)
    with pytest.raises(expected):
        model.remove_items([sample.items["item_id"].iloc[0]])
    after = _snapshot(model)
    assert after[:3] == before[:3]
    np.testing.assert_array_equal(after[3], before[3])
    pd.testing.assert_frame_equal(after[4], before[4])
    assert 10**9 not in set(model.data_.item_ids)


def test_add_then_remove_restores_every_score(weighted_model, sample):
    model = copy.deepcopy(weighted_model)
    before = model.score_items([1, 2, 3])
    new = pd.DataFrame({"item_id": [10**9, 10**9 + 1], "text": ["a toy adventure", "a dark thriller"],
                        "domain": ["family", "thriller"]})
    model.add_items(new)
    assert model.score_items([1, 2, 3]).shape == (3, len(sample.items) + 2)
    model.remove_items([10**9, 10**9 + 1])
    np.testing.assert_allclose(model.score_items([1, 2, 3]), before, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def tuple_model(sample) -> hr.HybridRecommender:
    """The sample with tuple item ids ("movie", id) and tuple user ids ("eu", id)."""
    items = sample.items.assign(item_id=[("movie", int(i)) for i in sample.items["item_id"]])
    inter = sample.interactions.assign(item_id=[("movie", int(i)) for i in sample.interactions["item_id"]],
                                       user_id=[("eu", int(u)) for u in sample.interactions["user_id"]])
    return hr.HybridRecommender(weights={"als": 1.0, "semantic": 0.5}, random_state=0).set_params(
        als__factors=8, als__iterations=2).fit(inter, items=items)


def test_a_tuple_is_one_id_everywhere(tuple_model):
    model = copy.deepcopy(tuple_model)
    one = model.data_.item_ids[5]
    assert isinstance(one, tuple)
    assert len(model.recommend(("eu", 1), k=3)) == 3  # one user
    model.release_items(one)  # not held: accepted and left as it is
    n = model.data_.n_items
    model.remove_items(one)
    assert model.data_.n_items == n - 1 and one not in set(model.data_.item_ids)
    model.remove_items([model.data_.item_ids[0], model.data_.item_ids[1]])  # a list is several ids
    assert model.data_.n_items == n - 3


def test_duplicates_max_holds_for_new_users(weighted, sample):
    model = _model().fit(weighted, items=sample.items, duplicates="max")
    items = sample.items["item_id"].tolist()
    a, b = items[0], items[10]
    repeated = pd.DataFrame({"user_id": "n", "item_id": [a, a, b], "weight": [2.0, 3.0, 4.0]})
    once = pd.DataFrame({"user_id": "n", "item_id": [a, b], "weight": [3.0, 4.0]})
    np.testing.assert_allclose(model.score_new(repeated, ["n"]), model.score_new(once, ["n"]), rtol=1e-6, atol=1e-6)
    counts = weighted["user_id"].value_counts()
    user = counts.index[0]
    own = weighted[weighted["user_id"] == user]
    assert own.duplicated("item_id").any()
    np.testing.assert_allclose(model.score_new(own, [user]), model.score_items([user]), rtol=1e-5, atol=1e-5)
