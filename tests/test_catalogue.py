"""The recommender's per-item state (popularity, reference items, held items) has one owner: the Catalogue.

Its arrays cannot be written in place, every change returns a new catalogue, an item edit swaps
it in with the rest of the model, and models saved with the three separate arrays of earlier
versions load into one.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import hybridrec as hr
from hybridrec import components
from hybridrec.catalogue import Catalogue, item_popularity


@pytest.fixture(scope="module")
def model(sample) -> hr.HybridRecommender:
    comps = [("als", components.create("als", factors=8, iterations=3)), ("semantic", components.create("semantic"))]
    return hr.HybridRecommender(components=comps, random_state=0).fit(sample.interactions, items=sample.items)


def test_a_catalogue_is_read_only_and_changes_return_new_ones():
    cat = Catalogue([0.5, 1.0, 0.0], [True, True, True], [False, False, False])
    with pytest.raises(ValueError, match="read-only"):
        cat.held[0] = True
    held = cat.holding(np.array([2]), True)
    assert held.held.tolist() == [False, False, True] and cat.held.tolist() == [False, False, False]
    grown = held.appended(np.array([True, False]))
    assert len(grown) == 5 and len(held) == 3
    assert grown.popularity.tolist() == [0.5, 1.0, 0.0, 0.0, 0.0]
    assert grown.reference.tolist() == [True, True, True, False, False]  # added items are never reference items
    assert grown.held.tolist() == [False, False, True, True, False]
    kept = grown.kept(np.array([True, False, True, True, False]))
    assert kept.popularity.tolist() == [0.5, 0.0, 0.0] and kept.held.tolist() == [False, True, True]
    assert kept.held_positions(np.array([2, 0, 1])).tolist() == [0, 2]
    with pytest.raises(ValueError, match="one length"):
        Catalogue([0.5], [True, False], [False])
    with pytest.raises(ValueError, match="mask over the 3 items"):
        cat.kept(np.array([True]))


def test_popularity_counts_events_per_item_whatever_their_weights():
    matrix = sp.csr_matrix(np.array([[5.0, 0, 1], [2.0, 0, 0], [1.0, 0, 0]]))
    pop = item_popularity(matrix)
    assert pop[0] == 1.0 and pop[1] == 0.0
    assert pop[2] == pytest.approx(np.log(2) / np.log(4))


def test_a_fitted_model_owns_one_catalogue_over_its_items(model):
    cat = model.catalogue_
    assert len(cat) == model.data_.n_items
    assert cat.reference.all()
    assert np.array_equal(cat.popularity, item_popularity(model.data_.matrix))
    with pytest.raises(ValueError, match="read-only"):
        cat.popularity[0] = 2.0


def test_item_edits_swap_in_a_new_catalogue(model, sample):
    original = model.catalogue_
    edited = copy.deepcopy(model)
    before = edited.catalogue_
    first = edited.data_.item_ids[0]
    edited.hold_items([first])
    assert edited.catalogue_ is not before and not before.held.any()
    assert list(edited.held_item_ids_) == [first]
    new = pd.DataFrame({"item_id": ["new-1"], "text": ["a quiet family drama about two sisters"],
                        "domain": [sample.items["domain"].iloc[0]]})
    edited.add_items(new)
    assert len(edited.catalogue_) == model.data_.n_items + 1
    assert not edited.catalogue_.reference[-1] and edited.catalogue_.popularity[-1] == 0.0
    edited.remove_items([first])
    assert len(edited.catalogue_) == model.data_.n_items and len(edited.held_item_ids_) == 0
    assert model.catalogue_ is original  # the original model is untouched


@pytest.mark.parametrize("held", [True, False])
def test_models_saved_with_separate_per_item_arrays_load_into_a_catalogue(model, held):
    state = model.__getstate__()
    cat = state.pop("catalogue_")
    mask = np.zeros(len(cat), bool)
    mask[[3, 5]] = True
    state.update(item_popularity_=np.array(cat.popularity), reference_items_=np.array(cat.reference))
    if held:  # models saved before the text screen have no held mask
        state["held_items_"] = mask
    old = hr.HybridRecommender.__new__(hr.HybridRecommender)
    old.__setstate__(state)
    assert "item_popularity_" not in old.__dict__ and "held_items_" not in old.__dict__
    assert np.array_equal(old.catalogue_.popularity, cat.popularity)
    assert old.catalogue_.held.tolist() == (mask if held else np.zeros(len(cat), bool)).tolist()
    users = list(model.data_.user_ids[:3])
    if held:
        top = old.recommend(users, k=old.data_.n_items)
        assert not set(top["item_id"]) & set(old.data_.item_ids[[3, 5]])
    else:
        pd.testing.assert_frame_equal(old.recommend(users, k=5), model.recommend(users, k=5))
