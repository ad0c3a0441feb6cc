"""Everything per item (ids, domains, texts, blocks, popularity, reference items, held items) has one owner: the Catalogue.

Its arrays cannot be written in place, every change returns a new catalogue, an item edit swaps
it in with the rest of the model, and models saved in the layouts of earlier versions (the
items in the training data, the priors beside it as three arrays or a catalogue of three
arrays) load into one.
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
from hybridrec.data import InteractionData


@pytest.fixture(scope="module")
def model(sample) -> hr.HybridRecommender:
    comps = [("als", components.create("als", factors=8, iterations=3)), ("semantic", components.create("semantic"))]
    return hr.HybridRecommender(components=comps, random_state=0).fit(sample.interactions, items=sample.items)


def _catalogue() -> Catalogue:
    return Catalogue(pd.Index(["a", ("b", 1), "c"]), [0, 1, 0], ["food", "kitchen"], ["apple", "pan", "pear"],
                     {"text": np.eye(3, dtype=np.float32)}, popularity=[0.5, 1.0, 0.0])


def test_a_catalogue_is_read_only_and_changes_return_new_ones():
    cat = _catalogue()
    assert cat.reference.all() and not cat.held.any()  # the defaults: every item a reference item, none held
    with pytest.raises(ValueError, match="read-only"):
        cat.held[0] = True
    with pytest.raises(ValueError, match="read-only"):
        cat.domain[0] = 1
    with pytest.raises(TypeError):
        cat.blocks["other"] = np.zeros((3, 2))  # a read-only mapping
    held = cat.holding(np.array([2]), True)
    assert held.held.tolist() == [False, False, True] and cat.held.tolist() == [False, False, False]
    grown = held.appended(pd.Index([("d", 2), "e"]), ["kitchen", "garden"], ["wok", "spade"],
                          {"text": np.ones((2, 3), np.float32)}, held=np.array([True, False]))
    assert len(grown) == 5 and len(held) == 3
    assert grown.ids.tolist() == ["a", ("b", 1), "c", ("d", 2), "e"]
    assert grown.domains == ["food", "kitchen", "garden"] and grown.domain.tolist() == [0, 1, 0, 1, 2]
    assert grown.texts == ["apple", "pan", "pear", "wok", "spade"]
    assert grown.blocks["text"].shape == (5, 3) and grown.blocks["text"][3:].sum() == 6
    assert grown.popularity.tolist() == [0.5, 1.0, 0.0, 0.0, 0.0]
    assert grown.reference.tolist() == [True, True, True, False, False]  # added items are never reference items
    assert grown.held.tolist() == [False, False, True, True, False]
    with pytest.raises(ValueError, match="already exist"):
        grown.appended(pd.Index(["a"]), ["food"], ["again"])
    with pytest.raises(ValueError, match="not fitted with"):
        grown.appended(pd.Index(["f"]), ["food"], ["fig"], {"image": np.ones((1, 2), np.float32)})
    kept = grown.kept(np.array([True, False, True, True, False]))
    assert kept.ids.tolist() == ["a", "c", ("d", 2)] and kept.texts == ["apple", "pear", "wok"]
    assert kept.blocks["text"].shape == (3, 3)
    assert kept.popularity.tolist() == [0.5, 0.0, 0.0] and kept.held.tolist() == [False, True, True]
    assert kept.held_positions(np.array([2, 0, 1])).tolist() == [0, 2]
    fitted = kept.fitted(sp.csr_matrix(np.array([[1.0, 0, 0], [1.0, 0, 1.0]])), held=np.array([False, False, True]))
    assert fitted.reference.all() and fitted.popularity.tolist() == [1.0, 0.0, pytest.approx(np.log(2) / np.log(3))]
    with pytest.raises(ValueError, match="one row per item"):
        Catalogue(pd.Index(["a", "b"]), [0, 0], ["food"], ["x"])
    with pytest.raises(ValueError, match="one row per item"):
        Catalogue(pd.Index(["a"]), [0], ["food"], ["x"], held=[False, True])
    with pytest.raises(ValueError, match="mask over the 3 items"):
        cat.kept(np.array([True]))


def test_popularity_counts_events_per_item_whatever_their_weights():
    matrix = sp.csr_matrix(np.array([[5.0, 0, 1], [2.0, 0, 0], [1.0, 0, 0]]))
    pop = item_popularity(matrix)
    assert pop[0] == 1.0 and pop[1] == 0.0
    assert pop[2] == pytest.approx(np.log(2) / np.log(4))


def test_a_fitted_model_owns_one_catalogue_over_its_items(model):
    cat = model.catalogue_
    assert cat is model.data_.catalogue and len(cat) == model.data_.n_items
    assert model.data_.item_ids is cat.ids and model.data_.item_texts is cat.texts
    assert model.data_.item_blocks["text"] is cat.blocks["text"] and not cat.blocks["text"].flags.writeable
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


def _legacy_data(data: InteractionData) -> InteractionData:
    """``data`` as models saved before the catalogue held the items rebuild it: items as its own attributes."""
    state = dict(data.__dict__)
    cat = state.pop("catalogue")
    state.update(item_ids=cat.ids, item_domain=np.array(cat.domain), domains=list(cat.domains),
                 item_texts=list(cat.texts), item_blocks=dict(cat.blocks))
    old = InteractionData.__new__(InteractionData)
    old.__setstate__(state)
    return old


@pytest.mark.parametrize("layout", ["three arrays", "three arrays, no held mask", "catalogue of three arrays"])
def test_models_saved_in_earlier_layouts_load_into_one_catalogue(model, layout):
    state = model.__getstate__()
    cat = state["data_"].catalogue
    mask = np.zeros(len(cat), bool)
    mask[[3, 5]] = True
    state["data_"] = _legacy_data(state["data_"])
    if layout == "catalogue of three arrays":
        priors = Catalogue.__new__(Catalogue)
        priors.__setstate__({"popularity": np.array(cat.popularity), "reference": np.array(cat.reference), "held": mask})
        state["catalogue_"] = priors
    else:
        state.update(item_popularity_=np.array(cat.popularity), reference_items_=np.array(cat.reference))
        if layout == "three arrays":  # models saved before the text screen have no held mask
            state["held_items_"] = mask
    held = layout != "three arrays, no held mask"
    old = hr.HybridRecommender.__new__(hr.HybridRecommender)
    old.__setstate__(state)
    assert not {"item_popularity_", "held_items_", "catalogue_"} & set(old.__dict__)
    assert old.catalogue_ is old.data_.catalogue and old.catalogue_.ids.equals(cat.ids)
    assert old.catalogue_.texts == cat.texts and np.array_equal(old.catalogue_.blocks["text"], cat.blocks["text"])
    assert np.array_equal(old.catalogue_.popularity, cat.popularity)
    assert old.catalogue_.held.tolist() == (mask if held else np.zeros(len(cat), bool)).tolist()
    users = list(model.data_.user_ids[:3])
    if held:
        top = old.recommend(users, k=old.data_.n_items)
        assert not set(top["item_id"]) & set(old.data_.item_ids[[3, 5]])
    else:
        pd.testing.assert_frame_equal(old.recommend(users, k=5), model.recommend(users, k=5))
