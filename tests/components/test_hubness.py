"""The CSLS hubness correction of the semantic and text-kNN components, on the bundled sample.

A listing stuffed with the texts of the most popular items is added with ``add_items``; with
the correction it must enter fewer users' top-10 lists than without, while items that have
interactions keep exactly the raw scores they had.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.components import SemanticComponent, TextKNNComponent
from hybridrec.components.hubness import copies, reach
from hybridrec.privacy import without_user_data
from hybridrec.users import query_users


def _fit(sample, name: str, correction: float) -> hr.HybridRecommender:
    comp = {"semantic": SemanticComponent, "textknn": TextKNNComponent}[name](hubness_correction=correction)
    model = hr.HybridRecommender(components=[(name, comp)], weights={name: 1.0}, text_weights={name: 1.0},
                                 random_state=0, show_progress=False, screen_texts="off")  # the correction alone
    return model.fit(sample.interactions, items=sample.items)


def _stuffed(sample, domain: str) -> pd.DataFrame:
    """A listing stuffed with the texts of the 4 most popular items of ``domain``, joined."""
    counts = sample.interactions["item_id"].value_counts()
    items = sample.items[sample.items["domain"] == domain].copy()
    items["count"] = counts.reindex(items["item_id"]).fillna(0).to_numpy()
    text = " ".join(items.sort_values(["count", "item_id"], ascending=[False, True])["text"].head(4))
    return pd.DataFrame({"item_id": ["stuffed"], "text": [text], "domain": [domain]})


def test_reach_is_the_mean_of_the_k_largest_cosines():
    rng = np.random.default_rng(0)
    probes = rng.normal(size=(50, 8)).astype(np.float32)
    rows = rng.normal(size=(7, 8)).astype(np.float32)
    expected = np.sort(rows @ probes.T, axis=1)[:, -5:].mean(axis=1)
    np.testing.assert_allclose(reach(probes, rows, k=5), expected, rtol=1e-5)
    assert reach(probes[:0], rows).tolist() == [0.0] * 7  # no probes: no correction


@pytest.mark.parametrize("name", ["semantic", "textknn"])
def test_a_stuffed_item_enters_fewer_lists_with_the_correction(sample, name):
    users = sample.interactions["user_id"].unique()[:300].tolist()
    hits = {}
    for correction in (0.0, 1.0):
        model = _fit(sample, name, correction).add_items(_stuffed(sample, "drama"))
        top = model.recommend(users, k=10, domain="drama")
        hits[correction] = int((top["item_id"] == "stuffed").sum())
    assert hits[0.0] >= 10, f"the stuffed item should reach many lists without the correction: {hits}"
    assert hits[1.0] * 2 <= hits[0.0], hits


@pytest.mark.parametrize("name", ["semantic", "textknn"])
def test_items_with_interactions_keep_their_raw_scores(sample, name):
    on, off = _fit(sample, name, 1.0), _fit(sample, name, 0.0)
    counts = np.diff(on.data_.matrix.tocsc().indptr)
    assert np.all(on.components_[name].hub_offsets_[counts > 0] == 0)
    assert np.any(on.components_[name].hub_offsets_[counts == 0] > 0)  # the sample has items nobody interacted with
    assert on.components_[name].hub_offsets_.min() >= 0  # it only ever lowers a score
    users = query_users(on.data_, on.encoder_, ["a slow drama about a family", "space battles"]).batch(None)
    raw = {value: model.components_[name].score(model.components_[name].user_state(users), np.arange(len(counts)))
           for value, model in ((1.0, on), (0.0, off))}
    np.testing.assert_allclose(raw[1.0][:, counts > 0], raw[0.0][:, counts > 0], rtol=1e-6)
    assert not np.allclose(raw[1.0][:, counts == 0], raw[0.0][:, counts == 0])


def test_semantic_retrieval_vectors_include_the_correction(sample):
    model = _fit(sample, "semantic", 1.0).add_items(_stuffed(sample, "drama"))
    comp = model.components_["semantic"]
    batch = query_users(model.data_, model.encoder_, ["a slow drama about a family"]).batch(None)
    state = comp.user_state(batch)
    items = np.arange(model.data_.n_items)
    np.testing.assert_allclose(comp.user_vectors(state) @ comp.item_vectors(items).T, comp.score(state, items),
                               rtol=1e-5, atol=1e-5)
    assert comp.hub_offsets_[-1] != 0


def test_a_model_without_user_data_adds_items_without_the_correction(sample):
    model = without_user_data(_fit(sample, "semantic", 1.0))
    assert len(model.components_["semantic"].hub_probes_) == 0
    model.add_items(_stuffed(sample, "drama"))
    assert model.components_["semantic"].hub_offsets_[-1] == 0
    assert "stuffed" in set(model.recommend_for_text(["Star Wars"], k=model.data_.n_items)["item_id"])


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "strong"])
def test_a_bad_correction_is_refused_naming_the_parameter(sample, bad):
    with pytest.raises(ValueError, match="hubness_correction"):
        _fit(sample, "semantic", bad)


def test_adding_a_copy_of_an_existing_text_warns_naming_both_items(sample):
    model = _fit(sample, "semantic", 0.0)
    original = sample.items.iloc[7]
    copy = pd.DataFrame({"item_id": ["copy"], "text": [original["text"]], "domain": [original["domain"]]})
    with pytest.warns(UserWarning, match=rf"1 of 1 new items .* copies .*'copy' \(of {int(original['item_id'])!r}\)"):
        model.add_items(copy)
    honest = pd.DataFrame({"item_id": ["new"], "text": ["A quiet documentary about beekeepers in Wales"],
                           "domain": ["drama"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.add_items(honest)
    assert not [w for w in caught if "copies" in str(w.message)]


def test_copies_finds_the_closest_existing_row_at_or_above_the_threshold():
    existing = np.eye(4, dtype=np.float32)
    new = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    rows, of = copies(new, existing, threshold=0.98)
    assert rows.tolist() == [0] and of.tolist() == [0]
    rows, of = copies(new, existing, threshold=0.75)
    assert rows.tolist() == [0, 1] and of.tolist() == [0, 1]


def test_off_by_default_it_computes_nothing_and_scores_plain_cosines(sample):
    model = hr.HybridRecommender(components=[("semantic", SemanticComponent())], weights={"semantic": 1.0},
                                 random_state=0, show_progress=False).fit(sample.interactions, items=sample.items)
    comp = model.components_["semantic"]
    assert comp.hubness_correction == 0 and comp.hub_offsets_ is None and len(comp.hub_probes_) == 0
    model.add_items(_stuffed(sample, "drama"))
    comp = model.components_["semantic"]  # add_items swaps in a new fitted component
    assert comp.hub_offsets_ is None
    batch = query_users(model.data_, model.encoder_, ["a slow drama about a family"]).batch(None)
    state = comp.user_state(batch)
    items = np.arange(model.data_.n_items)
    np.testing.assert_allclose(comp.score(state, items), state @ comp.item_embeddings_.T, rtol=1e-6)
    assert comp.item_vectors(items).shape == comp.item_embeddings_.shape
