"""Item-kNN builds its co-occurrence block by block; the blocks change nothing."""
from __future__ import annotations

import numpy as np

import hybridrec.components.itemknn as itemknn
from hybridrec.components import ItemKNNComponent
from hybridrec.components.base import TrainingData


def _training(sample) -> TrainingData:
    data = sample.interactions
    users, user_idx = np.unique(data["user_id"], return_inverse=True)
    items, item_idx = np.unique(data["item_id"], return_inverse=True)
    import scipy.sparse as sp

    matrix = sp.csr_matrix((np.ones(len(data), np.float32), (user_idx, item_idx)), shape=(len(users), len(items)))
    domain = sample.items.set_index("item_id")["domain"].reindex(items).astype("category").cat.codes.to_numpy()
    return TrainingData(matrix, domain, random_state=0)


def test_row_blocks_cover_every_item_once_within_the_budget(sample):
    X = _training(sample).matrix
    blocks = itemknn.row_blocks(X, budget=200_000)
    assert len(blocks) > 10
    starts, stops = np.array(blocks).T
    assert starts[0] == 0 and stops[-1] == X.shape[1] and np.array_equal(starts[1:], stops[:-1])
    work = np.asarray(X.T @ np.diff(X.indptr).astype(float)).ravel()
    # A block ends at the first item past a multiple of the budget: at most one item's work over it.
    for start, stop in blocks:
        assert work[start:stop].sum() <= 200_000 + work.max()


def test_many_small_blocks_give_the_one_block_similarity(sample, monkeypatch):
    data = _training(sample)
    whole = ItemKNNComponent(k=20).fit(data).similarity_
    monkeypatch.setattr(itemknn, "_BLOCK_WORK", 50_000)
    assert len(itemknn.row_blocks(data.matrix, 50_000)) > 20
    blocked = ItemKNNComponent(k=20).fit(data).similarity_
    assert whole.nnz == blocked.nnz > 0
    assert abs(whole - blocked).max() == 0
