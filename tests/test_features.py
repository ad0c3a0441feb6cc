"""LightFM's text features: the PCA block, the text codes, and the matrices a raw LightFM fit takes."""
from __future__ import annotations

import numpy as np
import pytest

import hybridrec as hr
from hybridrec.components import LightFMComponent
from hybridrec.components.base import TrainingData
from hybridrec.features import BlockQuantizer


@pytest.fixture(scope="module")
def embeddings(sample):
    return hr.TextEncoder().encode(sample.items["text"].tolist())


def test_text_codes_give_one_cluster_per_level_and_similar_texts_share_them(embeddings, sample):
    quantizer = BlockQuantizer(levels=(8, 64), weight=0.5, random_state=0).fit(embeddings)
    assert quantizer.dim == 72
    codes = quantizer.transform(embeddings)
    assert codes.shape == (len(embeddings), 72)
    assert np.array_equal((codes != 0).sum(axis=1), np.full(len(codes), 2))
    np.testing.assert_allclose(np.linalg.norm(codes, axis=1), 0.5, rtol=1e-6)
    assert np.array_equal(quantizer.transform(embeddings[:10]), codes[:10])  # a new item: same text, same codes
    empty = quantizer.transform(np.zeros((3, embeddings.shape[1]), np.float32))
    assert not empty.any()  # no text: no code
    # Items sharing a fine cluster are closer in text than items that do not.
    fine = codes[:, 8:].argmax(axis=1)
    sims = embeddings @ embeddings.T
    same = fine[:, None] == fine[None, :]
    other = ~same
    np.fill_diagonal(same, False)
    np.fill_diagonal(other, False)
    assert sims[same].mean() > sims[other].mean() + 0.1  # 0.57 against 0.43 here


def test_levels_are_capped_by_the_rows(embeddings):
    quantizer = BlockQuantizer(levels=(4, 1024), random_state=0).fit(embeddings[:80])
    assert [km.n_clusters for km in quantizer.kmeans_] == [4, 10]


@pytest.mark.parametrize("text_features, per_item", [("pca", 33), ("codes", 4)])
def test_training_inputs_are_what_lightfm_trains_on(sample, embeddings, text_features, per_item):
    model = hr.HybridRecommender(components=[("lightfm", LightFMComponent(epochs=1))], random_state=0,
                                 show_progress=False).fit(sample.interactions, items=sample.items)
    data = TrainingData(matrix=model.data_.matrix, item_domain=model.data_.item_domain,
                        item_blocks={"text": model.encoder_.encode(model.data_.item_texts)}, random_state=0)
    component = LightFMComponent(epochs=2, text_features=text_features)
    inputs = component.training_inputs(data)
    n_users, n_items = data.matrix.shape
    assert inputs["interactions"].shape == (n_users, n_items) and inputs["interactions"].nnz == data.matrix.nnz
    features = inputs["item_features"]
    assert features.shape[0] == n_items
    assert np.diff(features.indptr).max() == per_item  # identity + 32 PCA dims, or identity + 3 codes
    raw = component.lightfm_model(0).fit(inputs["interactions"], item_features=features, epochs=1)
    assert raw.item_embeddings.shape == (features.shape[1], component.no_components)
    fitted = component.fit(data)
    assert fitted.item_vectors_.shape == (n_items, component.no_components)


def test_unknown_text_features_are_refused(sample):
    model = hr.HybridRecommender(components=[("lightfm", LightFMComponent(text_features="hash"))])
    with pytest.raises(ValueError, match="text_features"):
        model.fit(sample.interactions, items=sample.items)
