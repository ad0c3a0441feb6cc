"""Item-kNN component: co-occurrence neighbours, kept per domain so that domains can talk."""
from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp

from .._validation import check_choice, check_fraction, check_non_negative, check_positive_int
from .base import Component, TrainingData, UserBatch
from .catalogue import CatalogueMap, TrainedItemsOnly

logger = logging.getLogger(__name__)

#: Column blocks of the similarity kept by ``score`` (one per domain asked for, typically).
_COLUMN_CACHE = 4
#: Multiply-adds per block of co-occurrence rows: bounds the memory of the unpruned block.
_BLOCK_WORK = 30_000_000


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


def row_blocks(X: sp.csr_matrix, budget: int = _BLOCK_WORK) -> list[tuple[int, int]]:
    """Item ranges ``[start, stop)`` whose rows of ``X.T @ X`` cost about ``budget`` multiply-adds each.

    Item ``h``'s row costs the summed history lengths of its users, which also bounds its
    stored entries, so each block's unpruned product stays small whatever the catalogue.
    """
    lengths = np.diff(X.indptr).astype(np.float64)
    work = np.asarray(X.T @ lengths).ravel()
    ends = np.searchsorted(np.cumsum(work), np.arange(budget, work.sum() + budget, budget), side="right")
    bounds = np.unique(np.clip(np.concatenate([[0], ends, [X.shape[1]]]), 0, X.shape[1]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _unit_spread(scores: np.ndarray) -> np.ndarray:
    """Rows divided by their standard deviation (constant rows stay as they are)."""
    spread = scores.std(axis=1, keepdims=True)
    return np.divide(scores, spread, out=scores.copy(), where=spread > 0).astype(np.float32)


class ItemKNNComponent(TrainedItemsOnly, Component):
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
        Shrinkage: ``co(h, j) / (n_h**alpha * n_j**(1 - alpha) + shrink)`` damps pairs seen by
        few users (``n_i`` = users of item ``i``).
    alpha : float in [0, 1], default=0.5
        Asymmetry of the normalisation: 0.5 is cosine; towards 1 it approaches
        ``P(j | h)``, which favours popular neighbours ``j``.
    per_domain : bool, default=True
        Keep ``k`` neighbours in each domain (True) or ``k`` in all (False).
    hops : {1, 2}, default=1
        2 adds a second step through the neighbour graph, ``hop_weight`` times
        ``(history @ S) @ S`` (each step scaled to unit spread per user): items that are
        neighbours of neighbours, which reaches target-domain items that co-occur with the
        bridge items of a user's other-domain history. Dense in the catalogue, so slower.
    hop_weight : float, default=0.5
        Weight of the second step.
    """

    name = "itemknn"
    default_weight = 1.0

    def __init__(
        self,
        k: int = 100,
        shrink: float = 0.0,
        alpha: float = 0.5,
        per_domain: bool = True,
        hops: int = 1,
        hop_weight: float = 0.5,
    ) -> None:
        self.k = k
        self.shrink = shrink
        self.alpha = alpha
        self.per_domain = per_domain
        self.hops = hops
        self.hop_weight = hop_weight

    def check_params(self) -> None:
        check_positive_int(self.k, "k", "ItemKNNComponent")
        check_non_negative(self.shrink, "shrink", "ItemKNNComponent")
        check_fraction(self.alpha, "alpha", "ItemKNNComponent")
        check_choice(self.hops, "hops", [1, 2], "ItemKNNComponent")
        check_non_negative(self.hop_weight, "hop_weight", "ItemKNNComponent")

    def fit(self, data: TrainingData) -> "ItemKNNComponent":
        self.check_params()
        similarity = self.neighbours(data)
        self.similarity_ = similarity.tocsc()
        self.similarity_rows_ = similarity if self.hops == 2 else None
        logger.info("item-kNN: %d neighbour pairs", similarity.nnz)
        self.catalogue_ = CatalogueMap(data.matrix.shape[1])
        self.observed_ = np.diff(data.binary().tocsc().indptr) > 0
        return self

    def neighbours(self, data: TrainingData) -> sp.csr_matrix:
        """The pruned similarity: row ``h`` holds item ``h``'s ``k`` neighbours (in each domain).

        Parameters
        ----------
        data : TrainingData
            The training interactions (read as binary: who interacted with what).

        Returns
        -------
        csr_matrix of float32, shape (n_items, n_items)
            ``co(h, j) / (n_h**alpha * n_j**(1 - alpha) + shrink)``, no diagonal.
        """
        k, shrink = int(self.k), float(self.shrink)
        X = data.binary()
        XT = X.T.tocsr()
        counts = np.diff(X.tocsc().indptr).astype(np.float32)
        alpha, groups = float(self.alpha), (data.item_domain if self.per_domain else None)
        blocks = []
        for start, stop in row_blocks(X, _BLOCK_WORK):  # co-occurrence rows block by block, each pruned at once
            coo = sp.csr_matrix(XT[start:stop] @ X, dtype=np.float32).tocoo()
            off = coo.col != coo.row + start
            row, col = coo.row[off], coo.col[off]
            values = coo.data[off] / (np.power(counts[row + start], alpha) * np.power(counts[col], 1 - alpha) + shrink)
            blocks.append(prune_rows(sp.csr_matrix((values, (row, col)), shape=(stop - start, X.shape[1])), k, groups))
        return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix(X.T @ X, dtype=np.float32)

    def user_state(self, users: UserBatch) -> sp.csr_matrix | np.ndarray:
        history = self.catalogue_.to_trained(users.weighted_history())
        if self.hops == 1:
            return history
        # Two steps, over all trained items: (H S) and (H S) S, each scaled to unit spread per user.
        first = (history @ self.similarity_).toarray()
        second = np.asarray((self.similarity_rows_.T @ first.T).T, dtype=np.float32)
        return _unit_spread(first) + float(self.hop_weight) * _unit_spread(second)

    def score(self, state: sp.csr_matrix | np.ndarray, items: np.ndarray) -> np.ndarray:
        trained = self.catalogue_.trained_index[items]
        out = np.zeros((state.shape[0], len(items)), dtype=np.float32)
        live = trained >= 0
        if not live.any():
            return out
        if isinstance(state, np.ndarray):
            out[:, live] = state[:, trained[live]]
        elif state.nnz:
            out[:, live] = (state @ self._columns(trained[live])).toarray()
        return out

    def _columns(self, trained: np.ndarray) -> sp.csr_matrix:
        """``similarity_[:, trained]`` as CSR; the last few are kept, since every batch asks for a domain's columns."""
        cache = self.__dict__.setdefault("_columns_cache", OrderedDict())
        key = trained.tobytes()
        if key not in cache:
            cache[key] = self.similarity_[:, trained].tocsr()
            while len(cache) > _COLUMN_CACHE:
                cache.popitem(last=False)
        return cache[key]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_columns_cache", None)  # rebuilt on demand, never saved
        return state

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Each history item's direct-neighbour share (the second step, if any, is not split).

        Parameters and return value as in
        :meth:`~hybridrec.components.Component.history_contributions`. Zeros for history items fit did
        not train on, all zeros when ``item`` is such an item.
        """
        out = np.zeros(users.history.nnz, dtype=np.float32)
        target = self.catalogue_.trained_index[item]
        if target < 0:
            return out
        hist = users.history.indices
        trained = self.catalogue_.trained_index[hist]
        weights = users.history_weights()
        column = self.similarity_[:, target].toarray().ravel()
        live = trained >= 0
        out[live] = weights[live] * column[trained[live]]
        return out
