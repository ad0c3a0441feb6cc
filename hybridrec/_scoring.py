"""The one per-domain scoring loop every entry point of HybridRecommender goes through.

Mixed into :class:`~hybridrec.HybridRecommender`: ``_domain_scores`` yields the normalised
component scores of user batches x domains; ``_parts`` (behind the public ``component_scores``),
``_scores`` (score_items, score_new, predict), ``_rank`` (recommend, recommend_new,
recommend_for_text) and the explanations all read it, and :mod:`hybridrec.blend` blends.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Hashable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted
from tqdm import tqdm

from ._linear import LinearRanker, StateCache
from ._ranking import mask_seen, merge_top_k, top_k_block
from ._validation import check_fraction
from .catalogue import legacy_catalogue
from .blend import (blend_users, call_weights, cross_domain_item_weights, normalize_with_stats, query_weights, row_weights,
                    scored_names)
from .components import UserBatch
from .users import Users, history_users, known_users, query_users

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
    into JSON. Rows with fewer than ``k`` candidates are padded.

    Attributes
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


class ScoringMixin:
    """Users x domains -> normalised component scores -> blends, rankings and tidy frames."""

    @property
    def cross_domain_weight_(self) -> float:
        """The ``cross_domain_weight`` in use: the parameter, or the value ``"auto"`` chose in fit."""
        return float(self._chosen("cross_domain_weight"))

    @property
    def normalization_(self) -> str:
        """The ``normalization`` in use: the parameter, or the one ``"auto"`` chose in fit."""
        return str(self._chosen("normalization"))

    def _chosen(self, name: str) -> Any:
        """A blend setting's value in use: the parameter, or, for "auto", what fit chose (``auto_report_``)."""
        value = getattr(self, name)
        if value != "auto":
            return value
        check_is_fitted(self, "components_")
        return self.auto_report_[name]

    def _caches(self) -> tuple[StateCache, LinearRanker]:
        """Known users' states and the linear ranker's item matrices (see :mod:`hybridrec._linear`).

        They belong to the ``data_`` and ``components_`` they were built from: every change of
        users, items, histories or fitted components assigns new ones (nothing is edited in
        place), so a cache built for the old objects is dropped here, never served.
        """
        cached = self.__dict__.get("_fast")
        if cached is None or cached[0] is not self.data_ or cached[1] is not self.components_:
            cached = self.__dict__["_fast"] = (self.data_, self.components_, StateCache(), LinearRanker())
        return cached[2], cached[3]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_fast", None)  # rebuilt on demand, never saved
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(legacy_catalogue(state))  # type: ignore[misc]

    def _state(self, name: str, users: Users, batch: UserBatch, code: int, cross_domain_weight: float) -> Any:
        """A component's state for a batch of users in domain ``code`` (cached for known users)."""
        return self._caches()[0].state(name, self.components_[name], users, batch,
                                       (code, float(cross_domain_weight)), self.data_.n_users)

    def _domain_scores(
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
        method = self.normalization_ if normalization is None else normalization
        names = list(self.components_) if names is None else list(names)
        for rows, part, code, items, scope, batch in self._batches(users, codes, cross_domain_weight,
                                                                   whole_catalogue, self.batch_size, desc):
            reference = self.catalogue_.reference[scope]
            scores, spreads = {}, {}
            for name in names:
                comp = self.components_[name]
                state = self._state(name, part, batch, code, cross_domain_weight)
                raw = comp.score(state, scope)
                stats = None
                if comp.can_retrieve and method == "zscore":  # statistics from item moments, no pass
                    stats = self._caches()[1].stats(name, comp, state, (code, whole_catalogue), scope[reference])
                scores[name], spreads[name] = normalize_with_stats(raw, method, reference, stats)
                scores[name][:, ~comp.knows(scope)] = np.nan  # no signal: the blend defers to the others
            yield DomainScores(code, rows, part, batch, items, scope, scores, spreads)

    def _batches(self, users: Users, codes: Iterable[int], cross_domain_weight: float, whole_catalogue: bool,
                 size: int, desc: str) -> Iterator[tuple[slice, Users, int, np.ndarray, np.ndarray, UserBatch]]:
        """THE per-domain loop: batches of ``size`` users, then domains (those with items).

        Yields ``(rows, users, code, items, scope, batch)``: the batch's rows in ``users``, those
        users, the domain, its items, the items scored (``items``, or the whole catalogue with
        ``whole_catalogue``) and the components' view of the users with ``code``'s cross-domain
        item weights.
        """
        codes = list(codes)
        catalogue = np.arange(self.data_.n_items)
        starts = range(0, len(users), size)
        if self.show_progress and len(users) > size:
            starts = tqdm(starts, desc=desc, unit="batch")
        for start in starts:
            rows = slice(start, min(start + size, len(users)))
            part = users.take(rows)
            for code in codes:
                items = self.data_.items_in_domain(code)
                if len(items) == 0:
                    continue
                scope = catalogue if whole_catalogue else items
                batch = part.batch(cross_domain_item_weights(self.data_.item_domain, code, cross_domain_weight))
                yield rows, part, code, items, scope, batch

    def _parts(self, users: Users, items: np.ndarray, cross_domain_weight: float,
               names: Iterable[str] | None = None, normalization: str | None = None) -> dict[str, np.ndarray]:
        """``name -> (n_users, len(items))`` normalised scores, each item scored within its own domain."""
        names = list(self.components_) if names is None else list(names)
        out = {name: np.empty((len(users), len(items)), dtype=np.float32) for name in names}
        codes = self.data_.item_domain[items]
        for block in self._domain_scores(users, np.unique(codes), cross_domain_weight, names=names,
                                         normalization=normalization):
            cols = np.flatnonzero(codes == block.code)
            pick = np.searchsorted(block.items, items[cols])
            for name, scores in block.scores.items():
                out[name][block.rows, cols] = scores[:, pick]
        return out

    def _blend_weights(self, weights: Mapping[str, float] | None) -> tuple[Mapping[str, float], dict | None]:
        """The weights to blend with, and the query weights for text-only users (None with per-call weights)."""
        return (self.weights_, query_weights(self.text_weights, self.components_)) if weights is None else (weights, None)

    def _scores(self, users: Users, items: np.ndarray, cross_domain_weight: float,
                weights: Mapping[str, float] | None = None) -> np.ndarray:
        blend_w, query = self._blend_weights(weights)
        parts = self._parts(users, items, cross_domain_weight, scored_names(blend_w, query))
        return blend_users(parts, blend_w, query, users.text_only())

    def _pair_scores(self, users: Users, items: np.ndarray, cross_domain_weight: float) -> np.ndarray:
        """One blended score per (user row, item) pair, each item scored in its own domain (``predict``)."""
        out = np.empty(len(items), dtype=np.float64)
        _, first, user_pos = np.unique(users.index, return_index=True, return_inverse=True)
        unique = users.take(first)
        for code in np.unique(self.data_.item_domain[items]) if len(items) else []:
            rows = np.flatnonzero(self.data_.item_domain[items] == code)
            need = np.unique(user_pos[rows])
            domain_items = self.data_.items_in_domain(code)
            scores = self._scores(unique.take(need), domain_items, cross_domain_weight)
            out[rows] = scores[np.searchsorted(need, user_pos[rows]), np.searchsorted(domain_items, items[rows])]
        return out

    def _rank(self, users: Users, k: int, domain: str | None, exclude_seen: bool, cross_domain_weight: float,
              weights: Mapping[str, float] | None = None, user_column: str | None = None,
              candidates: int | None = None, output: str = "frame") -> pd.DataFrame | TopItems:
        """Top-k of every user (known, new or a query) as a tidy frame or, with ``output="arrays"``, a :class:`TopItems`."""
        if output not in OUTPUTS:
            raise ValueError(f"The 'output' parameter must be one of {OUTPUTS}. Got {output!r} instead.")
        labels, items, scores = self._ranked(users, k, domain, exclude_seen, cross_domain_weight, weights, candidates)
        if output == "arrays":
            return self._arrays(labels, items, scores)
        return self._frame(labels, items, scores, user_column)

    def _ranked(self, users: Users, k: int, domain: str | None, exclude_seen: bool, cross_domain_weight: float,
                weights: Mapping[str, float] | None, candidates: int | None
                ) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
        """``(labels, inner item ids, scores)`` of every user's top-k: per domain, then merged (``candidates``: ANN)."""
        codes = self._domain_codes(domain)
        k = min(k, self.data_.n_items)  # a k beyond the catalogue returns every item, not a giant empty block
        blend_w, query = self._blend_weights(weights)
        names = scored_names(blend_w, query)
        whole = domain is None
        scope = np.arange(self.data_.n_items)
        linear = all(LinearRanker.applies(self.components_, names, scope if whole else self.data_.items_in_domain(c),
                                          self.normalization_) for c in codes)
        if candidates is not None and not linear:
            raise ValueError("recommend(candidates=...) needs a blend of dot-product components (ALS, PureSVD, "
                             "LightFM, semantic, tower) under 'zscore' or 'none' normalisation; this blend "
                             f"({names}, {self.normalization_!r}) is always ranked exactly.")
        top = partial(self._top_linear, candidates=candidates) if linear else self._top_exact
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

    def _top_exact(self, users: Users, codes: list[int], cross_domain_weight: float, blend_w: Mapping[str, float],
                   query: Mapping[str, float] | None, k: int, exclude_seen: bool, whole: bool
                   ) -> Iterator[tuple[slice, Users, np.ndarray, np.ndarray]]:
        """Per batch x domain: ``(rows, users, inner item ids, scores)`` of the top-k, from the blended score matrix."""
        for block in self._domain_scores(users, codes, cross_domain_weight, whole_catalogue=whole,
                                         names=scored_names(blend_w, query), desc="recommend"):
            scores = blend_users(block.scores, blend_w, query, block.users.text_only())
            if whole:
                scores = scores[:, block.items]
            if exclude_seen:
                mask_seen(scores, block.users.history, block.items)
            scores[:, self.catalogue_.held_positions(block.items)] = np.nan  # screen_texts="hold"
            # Exact ties (a user nothing is known about) go to the more popular item.
            top = top_k_block(scores + _TIE_BREAK * self.catalogue_.popularity[block.items], k)
            yield (block.rows, block.users, np.where(top >= 0, block.items[np.maximum(top, 0)], -1),
                   np.where(top >= 0, np.take_along_axis(scores, np.maximum(top, 0), axis=1), np.nan))

    def _top_linear(self, users: Users, codes: list[int], cross_domain_weight: float, blend_w: Mapping[str, float],
                    query: Mapping[str, float] | None, k: int, exclude_seen: bool, whole: bool,
                    candidates: int | None = None) -> Iterator[tuple[slice, Users, np.ndarray, np.ndarray]]:
        """:meth:`_top_exact` for blends of dot-product components, by one product per domain (same rankings)."""
        ranker = self._caches()[1]
        names = scored_names(blend_w, query)
        size = max(self.batch_size, _LINEAR_BATCH)  # memory per user is O(k), not O(items)
        for rows, part, code, items, scope, batch in self._batches(users, codes, cross_domain_weight, whole,
                                                                   size, "recommend"):
            states = {n: self._state(n, part, batch, code, cross_domain_weight) for n in names}
            seen = self.catalogue_.never_ranked(sp.csr_matrix(part.history[:, items]) if exclude_seen else None, items, len(part))
            pos, scores = ranker.top_k(self.components_, states, row_weights(names, blend_w, query, part.text_only()),
                                       (code, whole), items, scope[self.catalogue_.reference[scope]], self.normalization_,
                                       _TIE_BREAK * self.catalogue_.popularity[items], k, seen, candidates)
            yield rows, part, np.where(pos >= 0, items[np.maximum(pos, 0)], -1), scores

    def _frame(self, labels: Sequence[Hashable], items: np.ndarray, scores: np.ndarray,
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
            user_column or self.columns_["user"]: ids[users],
            self.columns_["item"]: self.data_.item_ids[inner].to_numpy(),
            "score": scores[valid].astype(np.float64),
            "rank": np.broadcast_to(np.arange(1, k + 1), (n, k))[valid].astype(np.int64),
            self.columns_["domain"]: np.asarray(self.data_.domains, dtype=object)[self.data_.item_domain[inner]],
        })

    def _arrays(self, labels: Sequence[Hashable], items: np.ndarray, scores: np.ndarray) -> TopItems:
        """:class:`TopItems` from ``(n_users, k)`` blocks of inner item ids (-1 = no candidate) and scores."""
        valid = items >= 0
        picked = np.maximum(items, 0)
        users = np.empty(len(labels), dtype=object)
        users[:] = list(labels)
        ids = np.asarray(self.data_.item_ids.take(picked.ravel()), dtype=object).reshape(picked.shape)
        item_ids = np.where(valid, ids, None)
        domains = np.where(valid, np.asarray(self.data_.domains, dtype=object)[self.data_.item_domain[picked]], None)
        return TopItems(users, items, item_ids, np.where(valid, scores, np.nan).astype(np.float64), domains)

    def _domain_codes(self, domain: str | None) -> list[int]:
        if domain is None:
            return list(range(len(self.data_.domains)))
        if not isinstance(domain, str):
            raise ValueError(f"The 'domain' parameter must be a domain name (str) or None. Got {domain!r} instead.")
        return [self.data_.domain_code(domain)]

    def _check_cdw(self, value: float | None, method: str) -> float:
        return self.cross_domain_weight_ if value is None else check_fraction(value, "cross_domain_weight", method)

    def _call_weights(self, weights: Mapping[str, float] | None, method: str) -> dict[str, float] | None:
        return call_weights(weights, list(self.components_), [n for n, _ in self.named_components()], method)

    def _items(self, item_ids: Iterable[Hashable] | None) -> np.ndarray:
        return np.arange(self.data_.n_items) if item_ids is None else self.data_.item_index(list(item_ids))

    def _users(self, user_ids: Any, history: pd.DataFrame | None, texts: Any, method: str) -> Users:
        """Resolve the users of a call: known ids, new users from a history table, or query texts."""
        if history is not None:
            encoder = None if texts is None else self._text_encoder(method)
            return history_users(self.data_, self.columns_, encoder, history, user_ids, texts)
        if texts is not None:
            if user_ids is not None or hasattr(texts, "items"):
                raise ValueError(f"{method}: texts without a history describe queries: pass a list of strings "
                                 "and no user_ids (texts of new users go with history=...).")
            texts = [texts] if isinstance(texts, str) else list(texts)
            return query_users(self.data_, self._text_encoder(method), texts)
        if user_ids is None:
            raise ValueError(f"{method} needs user_ids, history=... (new users) or texts=... (queries).")
        return known_users(self.data_, user_ids, method)
