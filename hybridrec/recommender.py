"""HybridRecommender: a scikit-learn style blend of collaborative, hybrid and semantic scorers."""
from __future__ import annotations

import logging
import time
from typing import Any, Hashable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted
from tqdm import tqdm

from ._ranking import top_k_block
from ._validation import check_choice, check_fraction, check_positive_int, preview
from .blend import NORMALIZATIONS, check_weights, cross_domain_item_weights, normalize_scores
from .components import (
    ALSComponent,
    Component,
    ItemKNNComponent,
    LightFMComponent,
    PopularityComponent,
    SemanticComponent,
    TrainingData,
    UserBatch,
)
from .coldstart import ColdStartMixin
from .data import InteractionData
from .explain import ExplainMixin
from .text import TextEncoder

logger = logging.getLogger(__name__)

#: Scale of the popularity tie-break added when ranking (never to reported scores).
_TIE_BREAK = 1e-6

#: Blend weights for users known only by a text (queries) when ``text_weights=None``. Measured on
#: Amazon Food-Kitchen cold users described by the titles of 3 of their items (1,061 users, seed 0,
#: benchmarks/results/quality.md): semantic alone NDCG@10 0.0152, ALS through its text -> factor
#: map alone 0.0226, these weights 0.0247.
DEFAULT_TEXT_WEIGHTS = {"semantic": 1.0, "als": 0.5}

#: Blend weights used when ``weights=None``.
DEFAULT_WEIGHTS = {"als": 1.0, "lightfm": 0.5, "semantic": 0.5, "itemknn": 1.0, "popularity": 0.0}


def default_components() -> list[tuple[str, Component]]:
    """The components a recommender uses when ``components=None``."""
    return [
        ("als", ALSComponent()),
        ("lightfm", LightFMComponent()),
        ("semantic", SemanticComponent()),
        ("itemknn", ItemKNNComponent()),
        ("popularity", PopularityComponent()),
    ]


class HybridRecommender(ColdStartMixin, ExplainMixin, BaseEstimator):
    """Blend collaborative (ALS), hybrid (LightFM + text features) and semantic scores.

    Parameters
    ----------
    components : list of (name, Component) or None, default=None
        The scorers. ``None`` uses ALS, LightFM, semantic, item-kNN and popularity with default
        parameters. Nested parameters work as in a scikit-learn Pipeline:
        ``set_params(als__factors=128)``.
    weights : dict of str -> float or None, default=None
        Blend weight per component name. Components not named get weight 0 and are not fitted,
        so ``weights={"als": 1}`` is ALS alone. ``None`` uses :data:`DEFAULT_WEIGHTS`.
        :meth:`reweight` changes them after fitting, without refitting.
    text_weights : dict of str -> float or None, default=None
        Blend weights for queries (:meth:`recommend_for_text`), whose users have a text and no
        history; only fitted components count. ``None`` uses :data:`DEFAULT_TEXT_WEIGHTS`
        (semantic 1, ALS 0.5): the collaborative components know a text only through learned
        maps, which help next to the semantic match but should not drown it.
    cross_domain_weight : float in [0, 1], default=0.5
        How much a user's history in other domains counts when recommending in a target domain:
        0 uses same-domain history only, 1 treats all domains alike. It scales the other-domain
        part of every component's user profile. ``recommend`` can override it per call.
    normalization : {"zscore", "minmax", "none"}, default="zscore"
        How each component's scores are normalised per user, over all items of the domain,
        before they are weighted and summed.
    encoder : TextEncoder or None, default=None
        Text encoder; ``None`` uses ``TextEncoder()`` (all-MiniLM-L6-v2, offline, cached).
    batch_size : int, default=256
        Users scored per block.
    random_state : int or None, default=None
        Seed handed to every component that has no seed of its own.
    show_progress : bool, default=False
        Progress bars for encoding, fitting and batch scoring.

    Attributes
    ----------
    data_ : InteractionData
        Id maps, domains, texts and the users' histories (needed to build profiles and to
        exclude seen items; saved with the model).
    components_ : dict of str -> Component
        Fitted components with a weight > 0.
    weights_ : dict of str -> float
        The validated weights of the fitted components.
    item_embeddings_ : ndarray or None
        Item text embeddings (None when no text component was fitted).
    user_embeddings_ : ndarray or None
        User text embeddings, when users had text.
    encoder_ : TextEncoder or None
        The encoder used in fit.

    Notes
    -----
    Unknown user ids in :meth:`recommend` and :meth:`predict` raise ``ValueError``; score new
    users with ``recommend_new`` or ``recommend_for_text`` instead.
    """

    def __init__(
        self,
        components: Sequence[tuple[str, Component]] | None = None,
        weights: Mapping[str, float] | None = None,
        text_weights: Mapping[str, float] | None = None,
        cross_domain_weight: float = 0.5,
        normalization: str = "zscore",
        encoder: TextEncoder | None = None,
        batch_size: int = 256,
        random_state: int | None = None,
        show_progress: bool = False,
    ) -> None:
        self.components = components
        self.weights = weights
        self.text_weights = text_weights
        self.cross_domain_weight = cross_domain_weight
        self.normalization = normalization
        self.encoder = encoder
        self.batch_size = batch_size
        self.random_state = random_state
        self.show_progress = show_progress

    # ------------------------------------------------------------------ parameters
    def _named_components(self) -> list[tuple[str, Component]]:
        comps = default_components() if self.components is None else list(self.components)
        names = [name for name, _ in comps]
        if len(set(names)) != len(names):
            raise ValueError(f"The 'components' parameter of HybridRecommender has duplicate names: {names}.")
        for name, comp in comps:
            if not isinstance(comp, Component):
                raise ValueError(
                    f"The 'components' parameter of HybridRecommender must hold (name, Component) pairs. "
                    f"Got {type(comp).__name__} for {name!r}."
                )
            if "__" in name:
                raise ValueError(f"Component names may not contain '__'. Got {name!r}.")
        return comps

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=False)
        if deep:
            if self.encoder is not None:
                params.update({f"encoder__{k}": v for k, v in self.encoder.get_params().items()})
            if self.components is not None:
                for name, comp in self.components:
                    params[name] = comp
                    params.update({f"{name}__{k}": v for k, v in comp.get_params().items()})
        return params

    def set_params(self, **params: Any) -> "HybridRecommender":
        if "components" in params:
            self.components = params.pop("components")
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            head, sep, tail = key.partition("__")
            if sep:
                nested.setdefault(head, {})[tail] = value
            elif key in self._param_names():
                setattr(self, key, value)
            else:
                self._replace_component(key, value)
        for head, sub in nested.items():
            if head == "encoder":
                if self.encoder is None:
                    self.encoder = TextEncoder()
                self.encoder.set_params(**sub)
            else:
                self._component(head).set_params(**sub)
        return self

    @classmethod
    def _param_names(cls) -> list[str]:
        return cls._get_param_names()

    def _component(self, name: str) -> Component:
        if self.components is None:
            self.components = default_components()
        for comp_name, comp in self.components:
            if comp_name == name:
                return comp
        raise ValueError(
            f"Invalid parameter {name!r} for HybridRecommender. Valid parameters are "
            f"{self._param_names()} and the component names {[n for n, _ in self.components]}."
        )

    def _replace_component(self, name: str, value: Component) -> None:
        self._component(name)  # raises for unknown names
        self.components = [(n, value if n == name else c) for n, c in self.components]

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        *,
        user_col: str = "user_id",
        item_col: str = "item_id",
        weight_col: str | None = "weight",
        text_col: str | Sequence[str] = "text",
        user_text_col: str | Sequence[str] = "text",
        domain_col: str = "domain",
        duplicates: str = "sum",
    ) -> "HybridRecommender":
        """Fit every component with a weight > 0.

        Parameters
        ----------
        interactions : DataFrame
            ``user_col``, ``item_col`` and optionally ``weight_col`` (weights >= 0; default 1).
        items : DataFrame, optional
            ``item_col``, text column(s) ``text_col`` and ``domain_col`` (optional for a single
            domain). Needed by the text components.
        users : DataFrame, optional
            ``user_col`` and text column(s) ``user_text_col``.
        user_col, item_col, weight_col, text_col, user_text_col, domain_col, duplicates
            See :meth:`hybridrec.InteractionData.from_frames`.

        Returns
        -------
        self
        """
        check_fraction(self.cross_domain_weight, "cross_domain_weight", "HybridRecommender")
        check_choice(self.normalization, "normalization", NORMALIZATIONS, "HybridRecommender")
        check_positive_int(self.batch_size, "batch_size", "HybridRecommender")
        comps = self._named_components()
        weights = check_weights(self.weights, [n for n, _ in comps], DEFAULT_WEIGHTS)
        active = [(name, comp) for name, comp in comps if weights[name] > 0]
        for _, comp in active:
            comp.check_params()  # fail before minutes of text encoding, not after

        data = InteractionData.from_frames(
            interactions, items, users,
            user_col=user_col, item_col=item_col, weight_col=weight_col, text_col=text_col,
            user_text_col=user_text_col, domain_col=domain_col, duplicates=duplicates,
        )
        encoder = None
        item_emb = user_emb = None
        if any(comp.uses_text for _, comp in active):
            encoder = clone(self.encoder) if self.encoder is not None else TextEncoder()
            if self.show_progress:
                encoder.set_params(show_progress=True)
            item_emb = encoder.encode(data.item_texts)
            if data.user_texts is not None and any(data.user_texts):
                user_emb = encoder.encode(data.user_texts)
        training = TrainingData(
            matrix=data.matrix,
            item_embeddings=item_emb,
            user_embeddings=user_emb,
            item_domain=data.item_domain,
            random_state=self.random_state,
            show_progress=self.show_progress,
        )
        fitted = {}
        for name, comp in active:
            start = time.perf_counter()
            fitted[name] = clone(comp).fit(training)
            logger.info("Fitted component %r in %.1fs", name, time.perf_counter() - start)

        self.data_ = data
        self.encoder_ = encoder
        self.item_embeddings_ = item_emb
        self.user_embeddings_ = user_emb
        self.components_ = fitted
        self.weights_ = {name: weights[name] for name in fitted}
        counts = np.log1p(np.diff(data.matrix.tocsc().indptr)).astype(np.float32)
        self.item_popularity_ = counts / max(float(counts.max(initial=0)), 1.0)
        self.reference_items_ = np.ones(data.n_items, dtype=bool)
        self.columns_ = {"user": user_col, "item": item_col, "domain": domain_col, "weight": weight_col}
        return self

    # ------------------------------------------------------------------ scoring core
    def _batches(self, n: int, desc: str) -> Iterator[slice]:
        size = self.batch_size
        starts = range(0, n, size)
        if self.show_progress and n > size:
            starts = tqdm(starts, desc=desc, unit="batch")
        for start in starts:
            yield slice(start, min(start + size, n))

    def _user_batch(self, history: sp.csr_matrix, texts: np.ndarray | None, code: int, weight: float) -> UserBatch:
        item_weights = cross_domain_item_weights(self.data_.item_domain, code, weight)
        return UserBatch(history=history, item_weights=item_weights, text_embeddings=texts)

    def _component_scores(
        self, users: UserBatch, scope: np.ndarray, weights: Mapping[str, float] | None = None
    ) -> dict[str, np.ndarray]:
        """Normalised (unweighted) scores of every fitted component over the items ``scope``.

        ``scope`` is the set of items being ranked: one domain's items for a ranking within a
        domain (and for ``predict``/``score_items``, which score an item as it ranks in its
        domain), the whole catalogue for ``recommend(domain=None)``, whose domains are ranked
        together and so need one common scale. Statistics use the scope's reference items, so
        items added later never move existing scores. Returns ``name -> (n_users, len(scope))``.
        """
        reference = self.reference_items_[scope]
        out = {}
        for name, comp in self.components_.items():
            if weights is not None and not weights.get(name):
                continue
            raw = comp.score(comp.user_state(users), scope)
            scores = normalize_scores(raw, self.normalization, reference)
            scores[:, ~comp.knows(scope)] = np.nan  # no signal: the blend defers to the others
            out[name] = scores
        return out

    def _blend(self, parts: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None) -> np.ndarray:
        # parts may hold components that only the query weights use; weights pick what counts.
        """Weighted sum of normalised component scores.

        A component marks items it cannot score (an item added from text, for item-kNN) with
        NaN; for those items the weights of the components that can score them are scaled up
        to the full total. The missing score is thus taken as the weighted mean of the others:
        no penalty for the gap, and a lift over warm items whose missing-here component scores
        low when the others score the new item high.
        """
        weights = self.weights_ if weights is None else weights
        used = [(weights.get(name, 0.0), scores) for name, scores in parts.items() if weights.get(name, 0.0)]
        total = np.zeros_like(used[0][1])
        missing = None
        for w, scores in used:
            gaps = np.isnan(scores)
            if gaps.any():
                missing = np.zeros(scores.shape, dtype=np.float32) if missing is None else missing
                missing += w * gaps
                total += w * np.where(gaps, 0.0, scores)
            else:
                total += w * scores
        if missing is not None:
            full = sum(w for w, _ in used)
            known = full - missing
            total *= np.divide(full, known, out=np.zeros_like(known), where=known > 0)
        return total

    def _domain_codes(self, domain: str | None) -> list[int]:
        if domain is None:
            return list(range(len(self.data_.domains)))
        if not isinstance(domain, str):
            raise ValueError(f"The 'domain' parameter must be a domain name (str) or None. Got {domain!r} instead.")
        return [self.data_.domain_code(domain)]

    def reweight(self, weights: Mapping[str, float]) -> "HybridRecommender":
        """Change the blend weights of a fitted model, without refitting anything.

        Only fitted components (weight > 0 at fit time) can be weighted; components not named
        get weight 0. Sets both the ``weights`` parameter and ``weights_``.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        self.weights_ = self._call_weights(weights, "reweight")
        self.weights = dict(self.weights_)
        return self

    def _call_weights(self, weights: Mapping[str, float] | None, method: str) -> dict[str, float] | None:
        """Validate per-call weights against the fitted components (None stays None)."""
        if weights is None:
            return None
        if isinstance(weights, Mapping):
            idle = sorted(n for n, w in weights.items() if n not in self.components_ and n in dict(self._named_components()) and w)
            if idle:
                raise ValueError(
                    f"The 'weights' parameter of {method} gives a weight to {idle}, which were not fitted "
                    "(their weight was 0 at fit time). Refit with a weight > 0 for them."
                )
            weights = {n: w for n, w in weights.items() if n in self.components_ or n not in dict(self._named_components())}
        return check_weights(weights, list(self.components_), {})

    def _check_cdw(self, value: float | None, method: str) -> float:
        if value is None:
            return float(self.cross_domain_weight)
        return check_fraction(value, "cross_domain_weight", method)

    def _top_k(
        self,
        history: sp.csr_matrix,
        texts: np.ndarray | None,
        labels: Sequence[Hashable],
        k: int,
        domain: str | None,
        exclude_seen: bool,
        cross_domain_weight: float,
        weights: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Top-k over the given users (any users: fitted, folded-in or built from text)."""
        codes = self._domain_codes(domain)
        catalogue = np.arange(self.data_.n_items)
        frames = []
        for rows in self._batches(history.shape[0], "recommend"):
            hist = history[rows]
            txt = None if texts is None else texts[rows]
            cand_items, cand_scores = [], []
            for code in codes:
                items = self.data_.items_in_domain(code)
                if len(items) == 0:
                    continue
                batch = self._user_batch(hist, txt, code, cross_domain_weight)
                # One domain: rank within it. All domains: one catalogue-wide scale, so they merge.
                scope = items if domain is not None else catalogue
                scores = self._blend_rows(self._component_scores(batch, scope, self._needed(weights)), weights, hist, txt)
                if domain is None:
                    scores = scores[:, items]
                if exclude_seen:
                    mask_seen(scores, hist, items)
                # Exact ties (a user nothing is known about) go to the more popular item.
                top = top_k_block(scores + _TIE_BREAK * self.item_popularity_[items], k)
                cand_items.append(np.where(top >= 0, items[top], -1))
                cand_scores.append(np.where(top >= 0, np.take_along_axis(scores, np.maximum(top, 0), axis=1), np.nan))
            items_k = np.hstack(cand_items)
            scores_k = np.hstack(cand_scores)
            order = top_k_block(scores_k, k)
            items_k = np.where(order >= 0, np.take_along_axis(items_k, np.maximum(order, 0), axis=1), -1)
            scores_k = np.where(order >= 0, np.take_along_axis(scores_k, np.maximum(order, 0), axis=1), np.nan)
            frames.append(self._frame(_object_array(labels)[rows], items_k, scores_k))
        if not frames:
            return self._frame(np.array([], dtype=object), np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0)))
        return pd.concat(frames, ignore_index=True)

    def _frame(self, labels: np.ndarray, items: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        """Tidy rows from ``(n_users, k)`` blocks of inner item ids (-1 = no candidate) and scores."""
        n, k = items.shape
        valid = items >= 0
        users = np.repeat(np.arange(n), k).reshape(n, k)[valid]
        inner = items[valid]
        return pd.DataFrame(
            {
                "user_id": labels[users],
                "item_id": self.data_.item_ids[inner].to_numpy(),
                "score": scores[valid].astype(np.float64),
                "rank": np.broadcast_to(np.arange(1, k + 1), (n, k))[valid].astype(np.int64),
                "domain": np.asarray(self.data_.domains, dtype=object)[self.data_.item_domain[inner]],
            }
        )

    # ------------------------------------------------------------------ public API
    def recommend(
        self,
        user_ids: Iterable[Hashable] | Hashable,
        k: int = 10,
        domain: str | None = None,
        exclude_seen: bool = True,
        cross_domain_weight: float | None = None,
        explain: bool = False,
        weights: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Top-k recommendations for known users.

        Parameters
        ----------
        user_ids : user id or iterable of user ids
            Users seen in fit. Unknown ids raise ``ValueError``.
        k : int, default=10
            Recommendations per user.
        domain : str or None, default=None
            Recommend only items of this domain; ``None`` ranks every domain together (each
            item scored with the profile for its own domain).
        exclude_seen : bool, default=True
            Leave out items the user interacted with in training.
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted ``cross_domain_weight`` for this call.
        explain : bool, default=False
            Add the columns ``contributions`` (component name -> its share of ``score``) and
            ``explanation`` (one readable sentence, see :meth:`explain`).
        weights : dict of str -> float, optional
            Blend weights for this call only (fitted components only; see :meth:`reweight`).

        Returns
        -------
        DataFrame
            Columns ``user_id, item_id, score, rank, domain``; ``rank`` starts at 1. Users with
            fewer than ``k`` candidates get fewer rows.
        """
        check_is_fitted(self, "components_")
        k = check_positive_int(k, "k", "recommend")
        weight = self._check_cdw(cross_domain_weight, "recommend")
        labels = _as_list(user_ids)
        idx = self._known_users(labels, "recommend")
        texts = None if self.user_embeddings_ is None else self.user_embeddings_[idx]
        history = self.data_.matrix[idx]
        blend = self._call_weights(weights, "recommend")
        frame = self._top_k(history, texts, labels, k, domain, exclude_seen, weight, blend)
        if explain and blend is not None:
            raise ValueError("recommend(explain=True) explains the model's own weights; call reweight(...) first.")
        if explain:
            frame["contributions"], frame["explanation"] = self._explain_frame_rows(
                frame, history, texts, labels, weight, whole_catalogue=domain is None
            )
        return frame

    def score_items(
        self,
        user_ids: Iterable[Hashable],
        item_ids: Iterable[Hashable] | None = None,
        cross_domain_weight: float | None = None,
    ) -> np.ndarray:
        """Blended scores of users x items as a dense array (seen items are not masked).

        Each item is scored as it ranks in its own domain (the profile for that domain,
        normalised over the domain's items), so a score does not depend on which other items
        were asked for, and equals the score ``recommend(..., domain=that domain)`` reports.

        Parameters
        ----------
        user_ids : iterable of user ids
        item_ids : iterable of item ids, optional
            Defaults to the whole catalogue in inner order (``data_.item_ids``).
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.

        Returns
        -------
        ndarray of shape (n_users, n_items)
        """
        check_is_fitted(self, "components_")
        weight = self._check_cdw(cross_domain_weight, "score_items")
        users = self._known_users(_as_list(user_ids), "score_items")
        items = np.arange(self.data_.n_items) if item_ids is None else self.data_.item_index(_as_list(item_ids))
        texts = None if self.user_embeddings_ is None else self.user_embeddings_[users]
        return self._score_matrix(self.data_.matrix[users], texts, items, weight)

    def _score_matrix(
        self, history: sp.csr_matrix, texts: np.ndarray | None, items: np.ndarray, weight: float,
        weights: Mapping[str, float] | None = None,
    ) -> np.ndarray:
        parts = self._score_parts(history, texts, items, weight, self._needed(weights))
        return self._blend_rows(parts, weights, history, texts)

    def _needed(self, weights: Mapping[str, float] | None) -> Mapping[str, float] | None:
        """Components to score: the per-call ones, or the model's and the query weights' together."""
        if weights is not None:
            return weights
        text = self._text_weights() or {}
        return {n: self.weights_.get(n, 0.0) + text.get(n, 0.0) for n in self.components_}

    def _blend_rows(
        self, parts: Mapping[str, np.ndarray], weights: Mapping[str, float] | None,
        history: sp.csr_matrix, texts: np.ndarray | None,
    ) -> np.ndarray:
        """Blend; rows of users known only by a text use the query weights (unless ``weights`` is given)."""
        scores = self._blend(parts, weights)
        text_weights = self._text_weights() if weights is None else None
        if text_weights is not None and texts is not None:
            text_only = (np.diff(history.indptr) == 0) & (np.abs(texts).sum(axis=1) > 0)
            if text_only.any():
                scores[text_only] = self._blend({n: p[text_only] for n, p in parts.items()}, text_weights)
        return scores

    def _score_parts(
        self, history: sp.csr_matrix, texts: np.ndarray | None, items: np.ndarray, weight: float,
        weights: Mapping[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """Normalised scores of the fitted components (those with a weight) for users x ``items``."""
        names = [n for n in self.components_ if weights is None or weights.get(n)]
        out = {name: np.empty((history.shape[0], len(items)), dtype=np.float32) for name in names}
        codes = self.data_.item_domain[items]
        for rows in self._batches(history.shape[0], "score"):
            for code in np.unique(codes):
                domain_items = self.data_.items_in_domain(code)
                batch = self._user_batch(history[rows], None if texts is None else texts[rows], code, weight)
                cols = np.flatnonzero(codes == code)
                pick = np.searchsorted(domain_items, items[cols])
                for name, block in self._component_scores(batch, domain_items, weights).items():
                    out[name][rows, cols] = block[:, pick]
        return out

    def predict(self, pairs: pd.DataFrame, cross_domain_weight: float | None = None) -> np.ndarray:
        """One blended score per (user, item) row of ``pairs``.

        Parameters
        ----------
        pairs : DataFrame
            Columns named as in fit (``user_id`` and ``item_id`` by default).
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.

        Returns
        -------
        ndarray of shape (len(pairs),)
        """
        check_is_fitted(self, "components_")
        if not isinstance(pairs, pd.DataFrame):
            raise ValueError(f"pairs must be a pandas DataFrame. Got {type(pairs).__name__} instead.")
        ucol, icol = self.columns_["user"], self.columns_["item"]
        for column in (ucol, icol):
            if column not in pairs.columns:
                raise ValueError(f"pairs has no column {column!r}. Its columns are {list(pairs.columns)}.")
        weight = self._check_cdw(cross_domain_weight, "predict")
        users = self._known_users(list(pairs[ucol]), "predict")
        items = self.data_.item_index(list(pairs[icol]))
        out = np.empty(len(pairs), dtype=np.float64)
        unique_users, user_pos = np.unique(users, return_inverse=True)
        texts = None if self.user_embeddings_ is None else self.user_embeddings_[unique_users]
        history = self.data_.matrix[unique_users]
        for code in np.unique(self.data_.item_domain[items]) if len(items) else []:
            rows = np.flatnonzero(self.data_.item_domain[items] == code)
            need = np.unique(user_pos[rows])
            domain_items = self.data_.items_in_domain(code)
            scores = self._score_matrix(history[need], None if texts is None else texts[need], domain_items, weight)
            out[rows] = scores[np.searchsorted(need, user_pos[rows]), np.searchsorted(domain_items, items[rows])]
        return out

    def _known_users(self, labels: list[Hashable], method: str) -> np.ndarray:
        idx = self.data_.user_index(labels, missing="ignore")
        if (idx < 0).any():
            unknown = [label for label, i in zip(labels, idx) if i < 0]
            raise ValueError(
                f"{method} got {len(unknown)} user ids that were not seen in fit: {preview(unknown)}. "
                "Use recommend_new(...) for users known by their history, or recommend_for_text(...) "
                "for users known by a text."
            )
        return idx


def _as_list(ids: Iterable[Hashable] | Hashable) -> list[Hashable]:
    """A single id (str, int, tuple, ...) or an iterable of ids, as a list."""
    if isinstance(ids, (str, bytes, tuple)) or not isinstance(ids, Iterable):
        return [ids]
    if isinstance(ids, (pd.Series, pd.Index, np.ndarray)):
        return list(ids.tolist() if not isinstance(ids, pd.Index) else ids)
    return list(ids)


def _object_array(values: Sequence[Hashable]) -> np.ndarray:
    """A 1-D object array of ids (tuples stay elements instead of becoming a 2-D array)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def mask_seen(scores: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> None:
    """Set ``scores[u, j] = NaN`` (never ranked) where user ``u`` has ``items[j]`` in ``history``."""
    position = np.full(history.shape[1], -1, dtype=np.int64)
    position[items] = np.arange(len(items))
    coo = history.tocoo()
    cols = position[coo.col]
    keep = cols >= 0
    scores[coo.row[keep], cols[keep]] = np.nan
