"""Named blocks beside text: vectors keyed by id, ColumnEncoder, components that read a block, new items."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.components import LightFMComponent, SemanticComponent, TextKNNComponent
from hybridrec.modalities import ColumnEncoder, align_block

from _helpers import assert_raised_by_us


@pytest.fixture(scope="module")
def small(sample):
    users = sorted(sample.interactions["user_id"].unique())[:200]
    return sample.interactions[sample.interactions["user_id"].isin(users)], sample.items


@pytest.fixture(scope="module")
def genre_model(small) -> hr.HybridRecommender:
    """Semantic on a genres+year block alone, text kNN on text: no LightFM, quick to fit."""
    interactions, items = small
    model = hr.HybridRecommender(
        components=[("genre_profile", SemanticComponent(modality="meta")), ("textknn", TextKNNComponent())],
        weights={"genre_profile": 1.0, "textknn": 1.0}, random_state=0,
    )
    return model.fit(interactions, items=items, item_vectors={"meta": ColumnEncoder(multilabel=["genres"], numeric=["year"])})


def test_column_encoder_makes_unit_rows_that_share_genres():
    frame = pd.DataFrame({"genres": ["Animation|Children", "Animation|Comedy", "Horror", "Horror|Thriller", None],
                          "year": [1995, 1996, 1980, np.nan, 2000]})
    encoder = ColumnEncoder(multilabel=["genres"], numeric=["year"], n_bins=3, min_count=1).fit(frame)
    block = encoder.encode(frame)
    assert block.shape == (5, encoder.dim) and block.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(block, axis=1), 1.0, rtol=1e-6)
    sims = block @ block.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[2, 0]
    assert encoder.vocabulary_["genres"] == ["Animation", "Children", "Comedy", "Horror", "Thriller"]
    unseen = encoder.encode(pd.DataFrame({"genres": ["Western"], "year": [np.nan]}))
    assert not unseen.any()  # nothing known: a zero row
    with pytest.raises(ValueError, match="no column"):
        encoder.encode(frame.drop(columns="year"))
    with pytest.raises(ValueError, match="at least one of"):
        ColumnEncoder().fit(frame)


def test_align_block_accepts_frames_mappings_and_aligned_arrays():
    ids = pd.Index([10, 20, 30])
    vectors = np.arange(6, dtype=float).reshape(3, 2)
    expected = np.array([[0, 1], [0, 0], [4, 5]], np.float32)
    as_column = pd.DataFrame({"item_id": [10, 30], "a": [0.0, 4.0], "b": [1.0, 5.0]})
    np.testing.assert_array_equal(align_block("x", as_column, ids), expected)
    np.testing.assert_array_equal(align_block("x", as_column.set_index("item_id"), ids), expected)
    np.testing.assert_array_equal(align_block("x", {10: [0, 1], 30: [4, 5], 99: [7, 7]}, ids), expected)
    np.testing.assert_array_equal(align_block("x", vectors, ids, table_ids=pd.Index([30, 20, 10])), vectors[::-1])
    with pytest.raises(ValueError, match="one row per row"):
        align_block("x", vectors[:2], ids, table_ids=ids)
    with pytest.raises(ValueError, match="NaN"):
        align_block("x", {10: [np.nan, 1]}, ids)
    with pytest.raises(ValueError, match="keyed by item id"):
        align_block("x", vectors, ids)
    with pytest.raises(ValueError, match="duplicate ids"):
        align_block("x", pd.DataFrame({"item_id": [10, 10], "a": [1.0, 2.0]}), ids)


def test_a_profile_over_genres_recommends_the_genres_a_user_likes(genre_model, small):
    interactions, items = small
    genres = items.set_index("item_id")["genres"]
    horror = interactions["item_id"].map(genres).str.contains("Horror")
    fan = horror.groupby(interactions["user_id"]).mean().idxmax()  # the user most into horror
    recs = genre_model.recommend(fan, k=10, domain="thriller", weights={"genre_profile": 1.0})
    base = items.loc[items["domain"] == "thriller", "genres"].str.contains("Horror").mean()
    assert recs["item_id"].map(genres).str.contains("Horror").mean() >= base + 0.3
    assert genre_model.data_.item_blocks["meta"].shape == (genre_model.data_.n_items, genre_model.block_encoders_["meta"].dim)


def test_new_items_bring_their_blocks(genre_model, small):
    import copy

    model = copy.deepcopy(genre_model)
    _, items = small
    user = 1
    before = model.score_items([user])[0]
    new = pd.DataFrame({"item_id": [900001, 900002], "text": ["Toy Story 5", "Toy Story 6"],
                        "domain": ["family", "family"], "genres": ["Animation|Children", "Animation"], "year": [2030, 2031]})
    model.add_items(new)  # the meta block is encoded from the same columns
    after = model.score_items([user])[0]
    np.testing.assert_allclose(after[:len(before)], before, rtol=1e-5, atol=1e-5)
    rows = model.data_.item_blocks["meta"][-2:]
    np.testing.assert_allclose(rows, model.block_encoders_["meta"].encode(new), rtol=1e-6)
    given = pd.DataFrame({"item_id": [900003], "text": ["A western"], "domain": ["drama"]})
    vector = {900003: model.block_encoders_["meta"].encode(pd.DataFrame({"genres": ["Western"], "year": [1960]}))[0]}
    model.add_items(given, vectors={"meta": vector})
    np.testing.assert_allclose(model.data_.item_blocks["meta"][-1], vector[900003])
    with pytest.raises(ValueError, match="not fitted with"):
        model.add_items(given.assign(item_id=900004), vectors={"image": {900004: [1.0]}})
    with pytest.raises(ValueError, match="no column"):
        model.add_items(pd.DataFrame({"item_id": [900005], "text": ["no genres"], "domain": ["drama"]}))
    model.remove_items([900001])
    assert len(model.data_.item_blocks["meta"]) == model.data_.n_items == len(model.data_.item_blocks["text"])


def test_a_component_asking_for_a_missing_block_fails_before_encoding(small):
    interactions, items = small
    model = hr.HybridRecommender(components=[("img", SemanticComponent(modality="image"))], weights={"img": 1.0})
    with pytest.raises(ValueError, match="reads the item blocks \\['image'\\].*item_vectors") as excinfo:
        model.fit(interactions, items=items)
    assert_raised_by_us(excinfo)
    with pytest.raises(ValueError, match="may not name a block 'text'"):
        model.fit(interactions, items=items, item_vectors={"text": np.zeros((len(items), 2))})


def test_lightfm_builds_features_from_every_block(small):
    interactions, items = small
    meta = ColumnEncoder(multilabel=["genres"], numeric=["year"])
    model = hr.HybridRecommender(components=[("lightfm", LightFMComponent(epochs=2, no_components=16))],
                                 weights={"lightfm": 1.0}, random_state=0)
    model.fit(interactions, items=items, item_vectors={"meta": meta})
    assert list(model.components_["lightfm"].compressors_) == ["text", "meta"]
    only_text = hr.HybridRecommender(
        components=[("lightfm", LightFMComponent(epochs=2, no_components=16, block_weights={"text": 1.0}))],
        weights={"lightfm": 1.0}, random_state=0,
    ).fit(interactions, items=items, item_vectors={"meta": meta})
    assert list(only_text.components_["lightfm"].compressors_) == ["text"]
    new = pd.DataFrame({"item_id": [900001], "text": ["Toy Story 5"], "domain": ["family"],
                        "genres": ["Animation|Children"], "year": [2030]})
    model.add_items(new)
    assert np.isfinite(model.score_items([1], [900001])).all()
    with pytest.raises(ValueError, match="'lightfm' reads the item blocks \\['image'\\], which fit was not given"):
        hr.HybridRecommender(components=[("lightfm", LightFMComponent(epochs=1, block_weights={"image": 1.0}))],
                             weights={"lightfm": 1.0}).fit(interactions, items=items)


def test_user_blocks_stay_aligned_when_users_are_folded_in(sample):
    users = sorted(sample.interactions["user_id"].unique())[:60]
    interactions = sample.interactions[sample.interactions["user_id"].isin(users)]
    age = pd.DataFrame({"user_id": users, "young": np.linspace(0, 1, len(users)), "old": np.linspace(1, 0, len(users))})
    model = hr.HybridRecommender(weights={"semantic": 1.0}, random_state=0).fit(
        interactions, items=sample.items, users=sample.users, user_vectors={"age": age})
    assert model.data_.user_blocks["age"].shape == (model.data_.n_users, 2)
    new = pd.DataFrame({"user_id": ["n1", "n1"], "item_id": interactions["item_id"].head(2)})
    model.fold_in_users(new, texts={"n1": "cartoons", "n2": "thrillers"})
    for name, block in model.data_.user_blocks.items():
        assert len(block) == model.data_.n_users, name
    assert not model.data_.user_blocks["age"][-2:].any()  # the new users have no age vector
    assert model.data_.user_blocks["text"][-1].any()
