"""Two fast paths of the scoring loop: cached states of known users, and linear blends ranked by one product.

**Cached states.** A known user's state in a component depends only on their stored history,
their text and the cross-domain item weights of the target domain. :class:`StateCache` keeps
the states of known users per (component, domain, cross-domain weight) and computes only the
users it has not seen yet, so ALS does not re-solve a user's factors on every call. States that
are not arrays (or tuples of arrays) with one row per user are never cached. The recommender
clears the cache whenever its users, items or histories change (fit, fold-in, add and remove
items).

**Linear blends.** For components whose score is a dot product (``can_retrieve``), a z-scored
blend is itself one dot product::

    sum_c w_c (u_c . y_ci - u_c . m_c) / s_c  =  q_u . z_i,
    q_u = [w_c u_c / s_c]_c,   z_i = [y_ci - m_c]_c,

where ``m_c`` is the mean item vector of the reference items and ``s_c^2 = u_c^T C_c u_c``
with ``C_c`` their covariance: exactly the per-user mean and standard deviation the z-score
computes over the reference items, at O(d^2) per user instead of a pass over the catalogue.
The popularity tie-break is one more column. :class:`LinearRanker` then ranks with implicit's
multithreaded top-k (``implicit.cpu.topk``), which never materialises the users x items score
matrix. Blends with other components, min-max normalisation or items a component cannot score
take the exact path.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Hashable, Mapping

import numpy as np
import scipy.sparse as sp

from .blend import flat_to_zero
from .components import UserBatch

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .users import Users

#: Entries (component x domain x cross-domain weight) kept, and the most bytes one may hold.
_MAX_ENTRIES = 16
_MAX_BYTES = 512 * 2**20
#: Beyond this many seen items in one user's row, implicit's own filter drops them.
_MAX_EXTRA = 2000
#: HNSW graph degree and build-time search list of the ANN index.
_HNSW_LINKS = 32
_HNSW_BUILD = 80
#: Normalisations the linear path reproduces.
LINEAR_NORMALIZATIONS = ("zscore", "none")


def _arrays(state: Any, n: int) -> tuple[np.ndarray, ...] | None:
    """The state as a tuple of arrays with ``n`` rows, or None when it is anything else."""
    parts = state if isinstance(state, tuple) else (state,)
    if all(isinstance(p, np.ndarray) and p.ndim >= 1 and len(p) == n for p in parts):
        return parts
    return None


class StateCache:
    """Known users' component states per (component, domain, cross-domain weight), filled on demand."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, tuple[np.ndarray, tuple[np.ndarray, ...], bool] | None] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()

    def state(self, name: str, comp: Any, users: "Users", batch: UserBatch, key: Hashable, n_known: int) -> Any:
        """``comp.user_state(batch)``, from the cache for the known users already computed under ``key``."""
        if users.index is None or len(users) == 0:
            return comp.user_state(batch)
        full_key = (name, key)
        entry = self._entries.get(full_key, ())
        if entry is None:  # this component's states cannot be cached
            return comp.user_state(batch)
        idx = users.index
        if entry == ():
            state = comp.user_state(batch)
            parts = _arrays(state, len(users))
            size = None if parts is None else sum(p[:1].nbytes for p in parts) * n_known
            if parts is None or size > _MAX_BYTES:
                self._entries[full_key] = None
                return state
            filled = np.zeros(n_known, dtype=bool)
            stored = tuple(np.zeros((n_known, *p.shape[1:]), dtype=p.dtype) for p in parts)
            for target, part in zip(stored, parts):
                target[idx] = part
            filled[idx] = True
            self._store(full_key, (filled, stored, isinstance(state, tuple)))
            return state
        filled, stored, is_tuple = entry
        self._entries.move_to_end(full_key)
        missing = np.flatnonzero(~filled[idx])
        if len(missing):
            sub = users.take(missing).batch(batch.item_weights)
            parts = _arrays(comp.user_state(sub), len(missing))
            if parts is None:  # pragma: no cover - a component changed the kind of its state
                self._entries[full_key] = None
                return comp.user_state(batch)
            for target, part in zip(stored, parts):
                target[idx[missing]] = part
            filled[idx[missing]] = True
        out = tuple(p[idx] for p in stored)
        return out if is_tuple else out[0]

    def _store(self, key: Hashable, entry: Any) -> None:
        self._entries[key] = entry
        while sum(e is not None for e in self._entries.values()) > _MAX_ENTRIES:
            oldest = next(k for k, e in self._entries.items() if e is not None)
            del self._entries[oldest]


def _item_moments(comp: Any, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean item vector and covariance of the component's reference items (float64)."""
    vectors = np.asarray(comp.item_vectors(reference), dtype=np.float64)
    if not len(vectors):
        dim = comp.item_vectors(reference[:0]).shape[1]
        return np.zeros(dim), np.zeros((dim, dim))
    mean = vectors.mean(axis=0)
    centred = vectors - mean
    return mean, centred.T @ centred / len(vectors)


def _centre_spread(vectors: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``vectors @ items.T`` over items with this mean and covariance.

    A spread that is float noise next to the centre counts as 0 (a constant row), by
    :func:`hybridrec.blend.flat_to_zero` as in :func:`hybridrec.blend.normalization_stats`.
    """
    centre = vectors @ mean
    spread = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", vectors, cov, vectors), 0.0))
    return centre, flat_to_zero(centre, spread)


class LinearRanker:
    """Top-k of a blend of dot-product components under z-score (or no) normalisation, by one product.

    Also gives the exact path the z-score statistics of dot-product components from item
    moments (:meth:`stats`). Item moments, item-side matrices and ANN indices are cached per
    component (or blend) and scope; the recommender clears them with its other caches when the
    catalogue changes.
    """

    def __init__(self) -> None:
        self._items: dict[Hashable, np.ndarray] = {}
        self._moments: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}

    def clear(self) -> None:
        self._items.clear()
        self._moments.clear()

    @staticmethod
    def applies(components: Mapping[str, Any], names: list[str], scope: np.ndarray, normalization: str) -> bool:
        """Whether the blend of ``names`` over ``scope`` is linear (and the fast path reproduces it)."""
        return (normalization in LINEAR_NORMALIZATIONS and bool(names)
                and all(components[n].can_retrieve and components[n].knows(scope).all() for n in names))

    def moments(self, name: str, comp: Any, key: Hashable, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean item vector and covariance of ``comp``'s ``reference`` items (cached under ``key``)."""
        if (name, key) not in self._moments:
            self._moments[(name, key)] = _item_moments(comp, reference)
        return self._moments[(name, key)]

    def stats(self, name: str, comp: Any, state: Any, key: Hashable, reference: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Per-user ``(centre, spread)`` of ``comp``'s scores over ``reference``, shape (n, 1), float32.

        The mean and standard deviation :func:`hybridrec.blend.normalization_stats` computes
        with ``"zscore"``, from the item moments instead of a pass over the items.
        """
        mean, cov = self.moments(name, comp, key, reference)
        centre, spread = _centre_spread(np.asarray(comp.user_vectors(state), dtype=np.float64), mean, cov)
        return centre[:, None].astype(np.float32), spread[:, None].astype(np.float32)

    def _item_side(self, components: Mapping[str, Any], names: list[str], key: Hashable, items: np.ndarray,
                   reference: np.ndarray, normalization: str, tie: np.ndarray) -> np.ndarray:
        cache_key = (tuple(names), normalization, key)
        if cache_key not in self._items:
            blocks = []
            for n in names:
                vectors = np.asarray(components[n].item_vectors(items), dtype=np.float64)
                if normalization == "zscore":
                    vectors = vectors - self.moments(n, components[n], key, reference)[0]
                blocks.append(vectors)
            blocks.append(tie[:, None])
            self._items[cache_key] = np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)
        return self._items[cache_key]

    def top_k(self, components: Mapping[str, Any], states: Mapping[str, Any], weights: Mapping[str, np.ndarray],
              key: Hashable, items: np.ndarray, reference: np.ndarray, normalization: str, tie: np.ndarray,
              k: int, seen: sp.csr_matrix | None, candidates: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, scores)`` of each user's top-k among ``items`` (-1 / NaN padded).

        ``weights[name]`` holds each user's blend weight; ``tie`` is the tie-break added to the
        ranking (never to the scores); ``seen`` marks (user, position) pairs never ranked.
        ``candidates``: search an approximate index (:func:`ann_search`) with this many
        candidates per user instead of scoring every item (exact when it covers ``items``).
        """
        names = list(states)
        item_matrix = self._item_side(components, names, key, items, reference, normalization, tie)
        queries = []
        for n in names:
            vectors = np.asarray(components[n].user_vectors(states[n]), dtype=np.float64)
            factor = np.asarray(weights[n], dtype=np.float64)
            if normalization == "zscore":
                _, spread = _centre_spread(vectors, *self.moments(n, components[n], key, reference))
                factor = np.divide(factor, spread, out=np.zeros_like(spread), where=spread > 0)
            queries.append(vectors * factor[:, None])
        n_users = len(queries[0])
        queries.append(np.ones((n_users, 1)))
        query = np.ascontiguousarray(np.hstack(queries), dtype=np.float32)
        kk = min(k, len(items))
        out_items = np.full((n_users, k), -1, dtype=np.int64)
        out_scores = np.full((n_users, k), np.nan, dtype=np.float32)
        if kk == 0 or n_users == 0:
            return out_items, out_scores
        index = None
        if candidates is not None and candidates < len(items):
            index_key = (tuple(names), normalization, key, "ann")
            if index_key not in self._items:
                self._items[index_key] = ann_index(item_matrix)
            index = self._items[index_key]
        ids = _top_unseen(item_matrix, query, kk, seen, index, candidates)
        picked = item_matrix[np.maximum(ids, 0), :-1]
        scores = np.einsum("ukd,ud->uk", picked, query[:, :-1])
        out_items[:, :kk] = ids
        out_scores[:, :kk] = np.where(ids >= 0, scores, np.nan)
        return out_items, out_scores



def _top_unseen(item_matrix: np.ndarray, query: np.ndarray, k: int, seen: sp.csr_matrix | None,
                index: Any = None, candidates: int | None = None) -> np.ndarray:
    """Top-k positions per query (-1 padded), leaving out each row's ``seen`` positions.

    Asks for ``k`` plus the most seen items of any row and drops the seen ones here (implicit's
    own filter slices the sparse matrix once per user); very long histories use its filter.
    With an ANN ``index``, :func:`ann_search` finds them instead of implicit's exact top-k.
    """
    from implicit.cpu.topk import topk

    n_items = len(item_matrix)
    extra = 0 if seen is None else int(np.diff(seen.indptr).max(initial=0))
    if extra > _MAX_EXTRA and index is None:
        ids, ranked = topk(item_matrix, query, k, filter_query_items=seen, num_threads=0)
        # Filtered items come back with the lowest float when fewer than k remain.
        return np.where(ranked <= np.finfo(np.float32).min, -1, ids.astype(np.int64))
    wanted = min(k + extra, n_items)
    if index is not None:
        ids = ann_search(index, query, wanted, max(int(candidates), wanted))
    else:
        ids = topk(item_matrix, query, wanted, num_threads=0)[0].astype(np.int64)
    if extra:
        seen = seen.tocsr()
        seen.sort_indices()
        keys = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr)) * n_items + seen.indices
        found = np.arange(len(ids), dtype=np.int64)[:, None] * n_items + ids
        hit = np.searchsorted(keys, found).clip(max=max(len(keys) - 1, 0))
        drop = (keys[hit] == found) & (ids >= 0) if len(keys) else np.zeros(ids.shape, dtype=bool)
        ids = np.where(drop, -1, ids)
    # Keep each row's first k survivors, in rank order.
    order = np.argsort(ids < 0, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(ids, order, axis=1)


def ann_index(item_matrix: np.ndarray) -> Any:
    """An HNSW inner-product index (faiss) over the rows of ``item_matrix``.

    Built once per blend and domain and cached with the item matrix; needs
    ``pip install "hybridrec[ann]"`` (faiss-cpu). (Reducing inner product to Euclidean search
    by one extra coordinate, Bachrach et al. 2014, lowered recall on Amazon's kitchen items
    from 0.95 to 0.31 at 200 candidates, so the graph searches inner products directly.)
    """
    try:
        import faiss
    except ImportError as exc:
        raise ImportError('recommend(..., candidates=...) needs faiss: pip install "hybridrec[ann]".') from exc
    index = faiss.IndexHNSWFlat(item_matrix.shape[1], _HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = _HNSW_BUILD
    index.add(np.ascontiguousarray(item_matrix, dtype=np.float32))
    return index


def ann_search(index: Any, query: np.ndarray, k: int, candidates: int) -> np.ndarray:
    """The ``k`` rows of largest inner product per query (-1 padded), ``candidates`` being HNSW's search list (efSearch)."""
    import faiss

    params = faiss.SearchParametersHNSW()
    params.efSearch = int(candidates)
    _, ids = index.search(np.ascontiguousarray(query, dtype=np.float32), int(k), params=params)
    return ids.astype(np.int64)
