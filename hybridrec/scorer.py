"""The one per-domain scoring loop behind every score and ranking of a fitted HybridRecommender.

A :class:`Scorer` is built from what a fit produced (the training data with its
:class:`~hybridrec.catalogue.Catalogue`, the fitted components) and the blend settings in use (the
weights, the normalisation). :meth:`Scorer.domain_scores` yields the normalised component scores
of user batches x domains; :meth:`Scorer.parts` (behind ``component_scores``),
:meth:`Scorer.scores` (``score_items``, ``score_new``, ``predict``), :meth:`Scorer.ranked`
(``recommend``, ``recommend_new``, ``recommend_for_text``) and the explanations all read it, and
:mod:`hybridrec.blend` blends.

A scorer never changes: the estimator builds a new one whenever the state it was built from
changes (``HybridRecommender.scorer_``), handing over the caches of known users' states and item
matrices (:mod:`hybridrec._linear`) when the data and the components are the same objects.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Hashable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from ._linear import LinearRanker, StateCache
from ._ranking import mask_seen, merge_top_k, top_k_block
from ._validation import check_fraction
from .blend import blend_users, call_weights, cross_domain_item_weights, normalize_with_stats, row_weights, scored_names
from .components import UserBatch
from .data import InteractionData
from .users import Users

__all__ = ["DomainScores", "OUTPUTS", "Scorer", "TopItems"]

#: Scale of the popularity tie-break added when ranking (never to reported scores).
_TIE_BREAK = 1e-6
#: Users ranked at once by the linear path (it holds no users x items matrix).
_LINEAR_BATCH = 2048


#: What ``recommend``, ``recommend_new`` and ``recommend_for_text`` return: a tidy frame or arrays.
OUTPUTS = ("frame", "arrays")


@dataclass(frozen=True)
class TopItems:
    """Top-k lists as arrays, one row per user or query (``recommend(..., output="arrays")``).

    The same lists and scores as the tidy frame, without building it: what the server turns
    into JSON. Rows with fewer than ``k`` candidates are padded. Every parameter is kept as a
    (read-only) attribute of the same name.

    Parameters
    ----------
    users : ndarray of shape (n,), dtype object
        The user ids (or the query texts).
    positions : ndarray of shape (n, k), dtype int64
        The items' rows in the fitted catalogue (``data_.item_ids``, ``data_.item_texts``); -1 pads.
    item_ids : ndarray of shape (n, k), dtype object
        The item ids, best first; None pads.
    scores : ndarray of shape (n, k), dtype float64
        The blended scores; NaN pads.
    domains : ndarray of shape (n, k), dtype object
        Each item's domain; None pads.
    """

    users: np.ndarray
    positions: np.ndarray
    item_ids: np.ndarray
    scores: np.ndarray
    domains: np.ndarray


@dataclass
class DomainScores:
    """One block of the per-domain loop: some users' normalised component scores over a scope.

    ``rows`` locates the users in the full user set; ``items`` are the domain's items and
    ``scope`` the items the scores cover (``items``, or the whole catalogue when domains are
    ranked together); ``scores[name]`` is NaN where the component cannot score the item, and
    ``spreads[name]`` the per-user scale the raw scores were divided by.
    """

    code: int
    rows: slice
    users: Users
    batch: UserBatch
    items: np.ndarray
    scope: np.ndarray
    scores: dict[str, np.ndarray]
    spreads: dict[str, np.ndarray]


class Scorer:
    """Users x domains -> normalised component scores -> blends, rankings and tidy frames.

    Parameters
    ----------
    data : InteractionData
        The fitted training data (``data_``): users' histories and the items' catalogue, whose
        popularity breaks ties, reference items fit the normalisation and held items are never
        ranked (``catalogue``, the same object as ``data.catalogue``).
    components : dict of str -> Component
        The fitted components (``components_``).
    weights : dict of str -> float
        The blend weights of known and new users (``weights_``).
    query : dict of str -> float or None
        The weights of users known only by a text (:func:`~hybridrec.blend.query_weights`).
    normalization : str
        The per-user score normalisation in use (``normalization_``).
    columns : dict
        The column names of output frames (``columns_``: ``user``, ``item``, ``domain``).
    batch_size : int
        Users scored at once by the exact path.
    show_progress : bool
        A progress bar over batches when there are several.
    cross_domain_weight : float, default=1.0
        The cross-domain weight in use (``cross_domain_weight_``), for calls that give none.
    declared : list of str, optional
        The recommender's component names, fitted or not (a per-call weight may name an unfitted
        one with weight 0); default: the fitted ones.
    caches : tuple of (StateCache, LinearRanker), optional
        Caches built for the same ``data`` and ``components`` (new empty ones by default).
    """

    def __init__(self, data: InteractionData, components: Mapping[str, Any],
                 weights: Mapping[str, float], query: Mapping[str, float] | None, normalization: str,
                 columns: Mapping[str, Any], batch_size: int, show_progress: bool, cross_domain_weight: float = 1.0,
                 declared: Sequence[str] | None = None,
                 caches: tuple[StateCache, LinearRanker] | None = None) -> None:
        self.data, self.catalogue, self.components = data, data.catalogue, components
        self.weights, self.query, self.normalization = weights, query, normalization
        self.columns, self.batch_size, self.show_progress = columns, batch_size, show_progress
        self.cross_domain_weight = cross_domain_weight
        self.declared = list(components) if declared is None else list(declared)
        self.states, self.ranker = caches if caches is not None else (StateCache(), LinearRanker())

    # ------------------------------------------------------------------ a call's arguments
    def positions(self, item_ids: Iterable[Hashable] | None) -> np.ndarray:
        """Catalogue positions of raw item ids (a tuple is one id); every item for None. Unknown ids raise."""
        return np.arange(self.data.n_items) if item_ids is None else self.data.item_index(list(item_ids))

    def call_cross_domain_weight(self, value: float | None, method: str) -> float:
        """A call's cross-domain weight: ``value`` checked to be in [0, 1], or the one in use for None."""
        return self.cross_domain_weight if value is None else check_fraction(value, "cross_domain_weight", method)

    def call_weights(self, weights: Mapping[str, float] | None, method: str) -> dict[str, float] | None:
        """A call's blend weights, checked against the components (None: the weights in use)."""
        return call_weights(weights, list(self.components), self.declared, method)

    def shares_fit(self, data: InteractionData, components: Mapping[str, Any]) -> bool:
        """Whether this scorer was built from these very objects (its caches then hold for them)."""
        return data is self.data and components is self.components

    def state(self, name: str, users: Users, batch: UserBatch, code: int, cross_domain_weight: float) -> Any:
        """A component's state for a batch of users in domain ``code`` (cached for known users)."""
        return self.states.state(name, self.components[name], users, batch,
                                       (code, float(cross_domain_weight)), self.data.n_users)

    def domain_scores(
        self, users: Users, codes: Iterable[int], cross_domain_weight: float, *, whole_catalogue: bool = False,
        names: Iterable[str] | None = None, normalization: str | None = None, desc: str = "score",
    ) -> Iterator[DomainScores]:
        """Normalised scores of the components ``names`` for user batches x domains ``codes``.

        For domain ``d`` every component builds its user profiles with the cross-domain item
        weights of ``d`` and scores the scope: ``d``'s items, or the whole catalogue with
        ``whole_catalogue=True`` (``recommend(domain=None)`` ranks domains together, so they
        need one scale). Statistics use the scope's reference items (those fitted), so items
        added later never move existing scores. Batches come first, then domains.
        """
        method = self.normalization if normalization is None else normalization
        names = list(self.components) if names is None else list(names)
        for rows, part, code, items, scope, batch in self.batches(users, codes, cross_domain_weight,
                                                                   whole_catalogue, self.batch_size, desc):
            reference = self.catalogue.reference[scope]
            scores, spreads = {}, {}
            for name in names:
                comp = self.components[name]
                state = self.state(name, part, batch, code, cross_domain_weight)
                raw = comp.score(state, scope)
                stats = None
                if comp.can_retrieve and method == "zscore":  # statistics from item moments, no pass
                    stats = self.ranker.stats(name, comp, state, (code, whole_catalogue), scope[reference])
                scores[name], spreads[name] = normalize_with_stats(raw, method, reference, stats)
                scores[name][:, ~comp.knows(scope)] = np.nan  # no signal: the blend defers to the others
            yield DomainScores(code, rows, part, batch, items, scope, scores, spreads)

    def batches(self, users: Users, codes: Iterable[int], cross_domain_weight: float, whole_catalogue: bool,
                 size: int, desc: str) -> Iterator[tuple[slice, Users, int, np.ndarray, np.ndarray, UserBatch]]:
        """THE per-domain loop: batches of ``size`` users, then domains (those with items).

        Yields ``(rows, users, code, items, scope, batch)``: the batch's rows in ``users``, those
        users, the domain, its items, the items scored (``items``, or the whole catalogue with
        ``whole_catalogue``) and the components' view of the users with ``code``'s cross-domain
        item weights.
        """
        codes = list(codes)
        catalogue = np.arange(self.data.n_items)
        starts = range(0, len(users), size)
        if self.show_progress and len(users) > size:
            starts = tqdm(starts, desc=desc, unit="batch")
        for start in starts:
            rows = slice(start, min(start + size, len(users)))
            part = users.take(rows)
            for code in codes:
                items = self.data.items_in_domain(code)
                if len(items) == 0:
                    continue
                scope = catalogue if whole_catalogue else items
                batch = part.batch(cross_domain_item_weights(self.data.item_domain, code, cross_domain_weight))
                yield rows, part, code, items, scope, batch

    def parts(self, users: Users, items: np.ndarray, cross_domain_weight: float,
               names: Iterable[str] | None = None, normalization: str | None = None) -> dict[str, np.ndarray]:
        """``name -> (n_users, len(items))`` normalised scores, each item scored within its own domain."""
        names = list(self.components) if names is None else list(names)
        out = {name: np.empty((len(users), len(items)), dtype=np.float32) for name in names}
        codes = self.data.item_domain[items]
        for block in self.domain_scores(users, np.unique(codes), cross_domain_weight, names=names,
                                         normalization=normalization):
            cols = np.flatnonzero(codes == block.code)
            pick = np.searchsorted(block.items, items[cols])
            for name, scores in block.scores.items():
                out[name][block.rows, cols] = scores[:, pick]
        return out

    def blend_weights(self, weights: Mapping[str, float] | None) -> tuple[Mapping[str, float], dict | None]:
        """The weights to blend with, and the query weights for text-only users (None with per-call weights)."""
        return (self.weights, self.query) if weights is None else (weights, None)

    def scores(self, users: Users, items: np.ndarray, cross_domain_weight: float,
                weights: Mapping[str, float] | None = None) -> np.ndarray:
        blend_w, query = self.blend_weights(weights)
        parts = self.parts(users, items, cross_domain_weight, scored_names(blend_w, query))
        return blend_users(parts, blend_w, query, users.text_only())

    def pair_scores(self, users: Users, items: np.ndarray, cross_domain_weight: float) -> np.ndarray:
        """One blended score per (user row, item) pair, each item scored in its own domain (``predict``)."""
        out = np.empty(len(items), dtype=np.float64)
        _, first, user_pos = np.unique(users.index, return_index=True, return_inverse=True)
        unique = users.take(first)
        for code in np.unique(self.data.item_domain[items]) if len(items) else []:
            rows = np.flatnonzero(self.data.item_domain[items] == code)
            need = np.unique(user_pos[rows])
            domain_items = self.data.items_in_domain(code)
            scores = self.scores(unique.take(need), domain_items, cross_domain_weight)
            out[rows] = scores[np.searchsorted(need, user_pos[rows]), np.searchsorted(domain_items, items[rows])]
        return out

    def rank(self, users: Users, k: int, domain: str | None, exclude_seen: bool, cross_domain_weight: float,
              weights: Mapping[str, float] | None = None, user_column: str | None = None,
              candidates: int | None = None, output: str = "frame") -> pd.DataFrame | TopItems:
        """Top-k of every user (known, new or a query) as a tidy frame or, with ``output="arrays"``, a :class:`TopItems`."""
        if output not in OUTPUTS:
            raise ValueError(f"The 'output' parameter must be one of {OUTPUTS}. Got {output!r} instead.")
        labels, items, scores = self.ranked(users, k, domain, exclude_seen, cross_domain_weight, weights, candidates)
        if output == "arrays":
            return self.arrays(labels, items, scores)
        return self.frame(labels, items, scores, user_column)

    def ranked(self, users: Users, k: int, domain: str | None, exclude_seen: bool, cross_domain_weight: float,
                weights: Mapping[str, float] | None, candidates: int | None
                ) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
        """``(labels, inner item ids, scores)`` of every user's top-k: per domain, then merged (``candidates``: ANN)."""
        codes = self.domain_codes(domain)
        k = min(k, self.data.n_items)  # a k beyond the catalogue returns every item, not a giant empty block
        blend_w, query = self.blend_weights(weights)
        names = scored_names(blend_w, query)
        whole = domain is None
        scope = np.arange(self.data.n_items)
        linear = all(LinearRanker.applies(self.components, names, scope if whole else self.data.items_in_domain(c),
                                          self.normalization) for c in codes)
        if candidates is not None and not linear:
            raise ValueError("recommend(candidates=...) needs a blend of dot-product components (ALS, PureSVD, "
                             "LightFM, semantic, tower) under 'zscore' or 'none' normalisation; this blend "
                             f"({names}, {self.normalization!r}) is always ranked exactly.")
        top = partial(self.top_linear, candidates=candidates) if linear else self.top_exact
        items_out, scores_out, found, current = [], [], [], None
        for rows, _, items_k, scores_k in top(users, codes, cross_domain_weight, blend_w, query, k, exclude_seen, whole):
            if current is not None and rows != current:  # the previous batch is complete: merge its domains
                merged = merge_top_k([f[0] for f in found], [f[1] for f in found], k)
                items_out.append(merged[0])
                scores_out.append(merged[1])
                found = []
            current = rows
            found.append((items_k, scores_k))
        if found:
            merged = merge_top_k([f[0] for f in found], [f[1] for f in found], k)
            items_out.append(merged[0])
            scores_out.append(merged[1])
        if not items_out:
            return [], np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0))
        return list(users.labels), np.vstack(items_out), np.vstack(scores_out)

    def top_exact(self, users: Users, codes: list[int], cross_domain_weight: float, blend_w: Mapping[str, float],
                   query: Mapping[str, float] | None, k: int, exclude_seen: bool, whole: bool
                   ) -> Iterator[tuple[slice, Users, np.ndarray, np.ndarray]]:
        """Per batch x domain: ``(rows, users, inner item ids, scores)`` of the top-k, from the blended score matrix."""
        for block in self.domain_scores(users, codes, cross_domain_weight, whole_catalogue=whole,
                                         names=scored_names(blend_w, query), desc="recommend"):
            scores = blend_users(block.scores, blend_w, query, block.users.text_only())
            if whole:
                scores = scores[:, block.items]
            if exclude_seen:
                mask_seen(scores, block.users.history, block.items)
            scores[:, self.catalogue.held_positions(block.items)] = np.nan  # screen_texts="hold"
            # Exact ties (a user nothing is known about) go to the more popular item.
            top = top_k_block(scores + _TIE_BREAK * self.catalogue.popularity[block.items], k)
            yield (block.rows, block.users, np.where(top >= 0, block.items[np.maximum(top, 0)], -1),
                   np.where(top >= 0, np.take_along_axis(scores, np.maximum(top, 0), axis=1), np.nan))

    def top_linear(self, users: Users, codes: list[int], cross_domain_weight: float, blend_w: Mapping[str, float],
                    query: Mapping[str, float] | None, k: int, exclude_seen: bool, whole: bool,
                    candidates: int | None = None) -> Iterator[tuple[slice, Users, np.ndarray, np.ndarray]]:
        """:meth:`_top_exact` for blends of dot-product components, by one product per domain (same rankings)."""
        ranker = self.ranker
        names = scored_names(blend_w, query)
        size = max(self.batch_size, _LINEAR_BATCH)  # memory per user is O(k), not O(items)
        for rows, part, code, items, scope, batch in self.batches(users, codes, cross_domain_weight, whole,
                                                                   size, "recommend"):
            states = {n: self.state(n, part, batch, code, cross_domain_weight) for n in names}
            seen = self.catalogue.never_ranked(sp.csr_matrix(part.history[:, items]) if exclude_seen else None, items, len(part))
            pos, scores = ranker.top_k(self.components, states, row_weights(names, blend_w, query, part.text_only()),
                                       (code, whole), items, scope[self.catalogue.reference[scope]], self.normalization,
                                       _TIE_BREAK * self.catalogue.popularity[items], k, seen, candidates)
            yield rows, part, np.where(pos >= 0, items[np.maximum(pos, 0)], -1), scores

    def frame(self, labels: Sequence[Hashable], items: np.ndarray, scores: np.ndarray,
               user_column: str | None = None) -> pd.DataFrame:
        """Tidy rows from ``(n_users, k)`` blocks of inner item ids (-1 = no candidate) and scores.

        Columns are named as in fit (``user_id, item_id, score, rank, domain`` by default).
        """
        n, k = items.shape
        valid = items >= 0
        users = np.repeat(np.arange(n), k).reshape(n, k)[valid]
        inner = items[valid]
        ids = np.empty(len(labels), dtype=object)
        ids[:] = list(labels)
        return pd.DataFrame({
            user_column or self.columns["user"]: ids[users],
            self.columns["item"]: self.data.item_ids[inner].to_numpy(),
            "score": scores[valid].astype(np.float64),
            "rank": np.broadcast_to(np.arange(1, k + 1), (n, k))[valid].astype(np.int64),
            self.columns["domain"]: np.asarray(self.data.domains, dtype=object)[self.data.item_domain[inner]],
        })

    def arrays(self, labels: Sequence[Hashable], items: np.ndarray, scores: np.ndarray) -> TopItems:
        """:class:`TopItems` from ``(n_users, k)`` blocks of inner item ids (-1 = no candidate) and scores."""
        valid = items >= 0
        picked = np.maximum(items, 0)
        users = np.empty(len(labels), dtype=object)
        users[:] = list(labels)
        ids = np.asarray(self.data.item_ids.take(picked.ravel()), dtype=object).reshape(picked.shape)
        item_ids = np.where(valid, ids, None)
        domains = np.where(valid, np.asarray(self.data.domains, dtype=object)[self.data.item_domain[picked]], None)
        return TopItems(users, items, item_ids, np.where(valid, scores, np.nan).astype(np.float64), domains)

    def domain_codes(self, domain: str | None) -> list[int]:
        if domain is None:
            return list(range(len(self.data.domains)))
        if not isinstance(domain, str):
            raise ValueError(f"The 'domain' parameter must be a domain name (str) or None. Got {domain!r} instead.")
        return [self.data.domain_code(domain)]
