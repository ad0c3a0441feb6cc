"""Item-kNN component: co-occurrence neighbours, kept per domain so that domains can talk."""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from .._validation import check_non_negative, check_positive_int
from .base import CatalogueMap, Component, TrainingData, UserBatch

logger = logging.getLogger(__name__)


def prune_rows(matrix: sp.csr_matrix, k: int, groups: np.ndarray | None = None) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row (of every row and column group), vectorised."""
    coo = matrix.tocoo()
    group = np.zeros(coo.nnz, dtype=np.int64) if groups is None else groups[coo.col].astype(np.int64)
    order = np.lexsort((-coo.data, group, coo.row))
    row, grp = coo.row[order], group[order]
    new_block = np.ones(len(order), dtype=bool)
    new_block[1:] = (row[1:] != row[:-1]) | (grp[1:] != grp[:-1])
    starts = np.flatnonzero(new_block)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    keep = order[rank < k]
    return sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape, dtype=np.float32)


class ItemKNNComponent(Component):
    """Cosine item-item neighbours scored over the (cross-domain weighted) history.

    ``score(u, j) = sum_h w_h * sim(h, j)``. Neighbours are kept **per domain**: every item
    keeps its ``k`` most similar items in each domain. Within-domain co-occurrence is much
    denser than cross-domain co-occurrence, so a single top-k list would leave a food item
    almost no kitchen neighbours; per-domain lists keep the signal that users active in both
    domains provide, which is what carries a user's history from one domain into another.

    Parameters
    ----------
    k : int, default=100
        Neighbours kept per item and domain.
    shrink : float, default=0.0
        Cosine shrinkage: ``co(i, j) / (sqrt(n_i n_j) + shrink)`` damps pairs seen by few users.
    per_domain : bool, default=True
        Keep ``k`` neighbours in each domain (True) or ``k`` in all (False).
    """

    name = "itemknn"

    def __init__(self, k: int = 100, shrink: float = 0.0, per_domain: bool = True) -> None:
        self.k = k
        self.shrink = shrink
        self.per_domain = per_domain

    def check_params(self) -> None:
        check_positive_int(self.k, "k", "ItemKNNComponent")
        check_non_negative(self.shrink, "shrink", "ItemKNNComponent")

    def fit(self, data: TrainingData) -> "ItemKNNComponent":
        self.check_params()
        k, shrink = int(self.k), float(self.shrink)
        X = sp.csr_matrix(data.matrix, dtype=np.float32)
        X.data[:] = 1.0
        co = sp.csr_matrix(X.T @ X, dtype=np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        counts = np.diff(X.tocsc().indptr).astype(np.float32)
        coo = co.tocoo()
        coo.data = coo.data / (np.sqrt(counts[coo.row] * counts[coo.col]) + shrink)
        similarity = prune_rows(coo.tocsr(), k, data.item_domain if self.per_domain else None)
        self.similarity_ = similarity.tocsc()
        logger.info("item-kNN: %d neighbour pairs", similarity.nnz)
        self.catalogue_ = CatalogueMap(data.matrix.shape[1])
        return self

    def user_state(self, users: UserBatch) -> sp.csr_matrix:
        return self.catalogue_.to_trained(users.weighted_history())

    def score(self, state: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        trained = self.catalogue_.trained_index[items]
        out = np.zeros((state.shape[0], len(items)), dtype=np.float32)
        live = trained >= 0
        if live.any() and state.nnz:
            out[:, live] = (state @ self.similarity_[:, trained[live]]).toarray()
        return out

    def add_items(self, embeddings: np.ndarray, domains: np.ndarray) -> None:
        self.catalogue_.add(len(embeddings))

    def remove_items(self, keep: np.ndarray) -> None:
        self.catalogue_.remove(keep)

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        out = np.zeros(users.history.nnz, dtype=np.float32)
        target = self.catalogue_.trained_index[item]
        if target < 0:
            return out
        hist = users.history.indices
        trained = self.catalogue_.trained_index[hist]
        weights = users.history.data * (1.0 if users.item_weights is None else users.item_weights[hist])
        column = self.similarity_[:, target].toarray().ravel()
        live = trained >= 0
        out[live] = weights[live] * column[trained[live]]
        return out
