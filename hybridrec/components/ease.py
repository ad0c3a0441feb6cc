"""EASE component: a closed-form item-item regression (Steck, WWW 2019)."""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from .._validation import check_memory, check_non_negative, check_positive_int
from .base import Component, TrainingData, UserBatch
from .catalogue import CatalogueMap, TrainedItemsOnly

logger = logging.getLogger(__name__)


class EASEComponent(TrainedItemsOnly, Component):
    """Embarrassingly shallow autoencoder: ``B = argmin ||X - XB||^2 + l2 ||B||^2``, ``diag(B) = 0``.

    ``B`` is a dense item x item matrix, so it is learned on the ``max_items`` most-interacted
    items that have at least ``min_count`` interactions; other items score 0 (neutral after
    normalisation). ``B`` takes ``4 * max_items**2`` bytes (about 0.9 GB for 15,000 items) and
    the model file grows by as much; fitting peaks at about ``20 * n**2`` bytes for ``n`` items
    (the float64 Gram matrix and its inverse), and fit refuses with a ``ValueError`` when that
    is more than the memory available.

    Parameters
    ----------
    l2 : float, default=500.0
        Ridge penalty.
    min_count : int, default=8
        Items need at least this many interactions to enter ``B``.
    max_items : int, default=15000
        Upper bound on the items in ``B`` (the most interacted are kept).
    """

    name = "ease"
    default_weight = 1.0

    def __init__(self, l2: float = 500.0, min_count: int = 8, max_items: int = 15000) -> None:
        self.l2 = l2
        self.min_count = min_count
        self.max_items = max_items

    def check_params(self) -> None:
        check_non_negative(self.l2, "l2", "EASEComponent")
        check_positive_int(self.min_count, "min_count", "EASEComponent")
        check_positive_int(self.max_items, "max_items", "EASEComponent")

    def fit(self, data: TrainingData) -> "EASEComponent":
        self.check_params()
        l2, max_items = float(self.l2), int(self.max_items)
        X = data.binary()
        counts = np.diff(X.tocsc().indptr)
        eligible = np.flatnonzero(counts >= self.min_count)
        keep = np.sort(eligible[np.argsort(-counts[eligible], kind="stable")[:max_items]])
        if len(keep) == 0:
            raise ValueError(f"EASEComponent: no item has min_count={self.min_count} interactions; lower min_count.")
        check_memory(20.0 * len(keep) ** 2, f"EASEComponent on {len(keep):,} items",
                     "lower max_items or raise min_count")
        Xs = X[:, keep]
        gram = (Xs.T @ Xs).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += l2
        precision = np.linalg.inv(gram)
        B = precision / (-np.diag(precision))
        B[np.diag_indices_from(B)] = 0.0
        self.B_ = B.astype(np.float32)
        logger.info("EASE on %d items (of %d)", len(keep), X.shape[1])
        position = np.full(X.shape[1], -1, dtype=np.int64)
        position[keep] = np.arange(len(keep))
        self.position_ = position  # trained item -> row of B, or -1
        self.catalogue_ = CatalogueMap(X.shape[1])
        self.observed_ = position >= 0  # items outside B get no score from EASE
        return self

    def _positions(self, catalogue_items: np.ndarray) -> np.ndarray:
        trained = self.catalogue_.trained_index[catalogue_items]
        return np.where(trained >= 0, self.position_[np.maximum(trained, 0)], -1)

    def user_state(self, users: UserBatch) -> sp.csr_matrix:
        weighted = users.weighted_history().tocoo()
        pos = self._positions(weighted.col)
        keep = pos >= 0
        return sp.csr_matrix((weighted.data[keep], (weighted.row[keep], pos[keep])), shape=(len(users), len(self.B_)))

    def score(self, state: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        pos = self._positions(items)
        out = np.zeros((state.shape[0], len(items)), dtype=np.float32)
        live = pos >= 0
        if live.any() and state.nnz:
            # (sparse history @ B) first, then pick columns: never copies columns of B.
            out[:, live] = np.asarray(state @ self.B_)[:, pos[live]]
        return out

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        hist = users.history.indices
        weights = users.history_weights()
        target = self._positions(np.array([item]))[0]
        out = np.zeros(len(hist), dtype=np.float32)
        pos = self._positions(hist)
        live = (pos >= 0) & (target >= 0)
        out[live] = weights[live] * self.B_[pos[live], target]
        return out
