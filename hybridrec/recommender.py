"""HybridRecommender: a scikit-learn style blend of collaborative, hybrid and semantic components.

Every scoring entry point resolves its users (:mod:`hybridrec.users`) and goes through one
per-domain loop (:mod:`hybridrec._scoring`); :meth:`~HybridRecommender.component_scores` is its
public face, and :mod:`hybridrec.blend` turns component scores into one score.
"""
from __future__ import annotations

import logging
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._auto import AUTO, choose_blend
from ._composition import ComponentsMixin, default_components
from ._fitting import check_fit_params, encode_texts, fit_components
from ._scoring import ScoringMixin, TopItems
from ._validation import check_positive_int
from .catalogue import Catalogue
from .coldstart import ColdStartMixin
from .components import TEXT, Component
from .data import InteractionData
from .explain import ExplainMixin, explain_frame_rows
from .modalities import encode_columns
from .screening import ScreeningMixin, held_at_fit
from .users import known_users

__all__ = ["HybridRecommender", "default_components"]

logger = logging.getLogger(__name__)


class HybridRecommender(ColdStartMixin, ScreeningMixin, ExplainMixin, ScoringMixin, ComponentsMixin, BaseEstimator):
    """Blend collaborative (ALS, item-kNN, ...), hybrid (LightFM + block features, the tower) and semantic scores.

    Parameters
    ----------
    components : list of (name, Component) or None, default=None
        The scorers. ``None`` uses ALS, LightFM, semantic, item-kNN, popularity and the tower
        (sequence encoder) with default parameters; the tower reads the order of the events, so
        it is fitted only when the interactions are ordered (a timestamp column, or
        ``fit(..., ordered=True)``) and ``weights`` leaves it its default weight. Nested
        parameters work as in a scikit-learn Pipeline: ``set_params(als__factors=128)``.
    weights : dict of str -> float, "auto" or None, default=None
        Blend weight per component name. Components not named get weight 0 and are not fitted,
        so ``weights={"als": 1}`` is ALS alone. ``None`` uses each component's declared
        ``default_weight`` (ALS 1, LightFM 0.5, semantic 0.5, item-kNN 1, popularity 0, others
        1; 0 for a component that reads the order, on unordered interactions). ``"auto"``: fit
        chooses them on its own training rows: it holds out the last item (``auto_target``) of up
        to 1,000 seeded training users, fits every component on the rest, chooses the blend on the held-out
        items (:func:`~hybridrec.model_selection.search_blend`), then fits the components it
        weights on all the rows (about twice a plain fit; see ``auto_report_``).
        :meth:`reweight` changes them after fitting, without refitting.
    text_weights : dict of str -> float or None, default=None
        Blend weights for users known only by a text (queries, text-only new users); only
        fitted components count. ``None`` uses each component's declared ``query_weight``
        (semantic 1, ALS 0.5, others 0): the collaborative components know a text only through
        learned maps, which help next to the semantic match but should not drown it.
    cross_domain_weight : float in [0, 1], default=0.5
        How much a user's history in other domains counts when recommending in a target domain:
        0 uses same-domain history only, 1 treats all domains alike. It scales the other-domain
        part of every component's user profile. ``recommend`` can override it per call.
        ``"auto"`` (with ``weights="auto"``): chosen in fit among 0, 0.25, 0.5 and 1.
    normalization : {"zscore", "minmax", "none", "auto"}, default="zscore"
        How each component's scores are normalised per user, over all items of the domain,
        before they are weighted and summed. ``"auto"`` (with ``weights="auto"``): z-score or
        min-max, chosen in fit.
    encoder : TextEncoder or None, default=None
        Text encoder: any object with ``encode(texts) -> ndarray`` and ``model_key``; ``None``
        uses ``TextEncoder()`` (all-MiniLM-L6-v2, offline, cached).
    batch_size : int, default=256
        Users scored per block (blends of dot-product components rank at least 2,048 at once:
        they hold no users x items matrix).
    random_state : int or None, default=None
        Seed handed to every component that has no seed of its own.
    show_progress : bool, default=False
        Progress bars for encoding, fitting and batch scoring.
    screen_texts : {"hold", "warn", "off"}, default="hold"
        What happens to an item scored from its text alone (no interactions in fit, or added
        with ``add_items``) whose text looks keyword-stuffed (:mod:`hybridrec.screening`):
        ``"hold"`` warns and keeps it out of recommendation lists (``predict`` and ``explain``
        still score it) until :meth:`release_items`; ``"warn"`` only warns; ``"off"`` skips it.
    auto_target : {"next_item", "random", "cross_domain"}, default="next_item"
        With ``weights="auto"``: what the held-out events stand for, so that the blend is chosen
        for the task at hand. ``"next_item"`` holds out each sampled user's last item;
        ``"random"`` one of its items drawn at random (a random split of the interactions);
        ``"cross_domain"`` all its items of one of its domains, drawn at random (users who come
        to a domain with a history elsewhere only).

    Attributes
    ----------
    data_ : InteractionData
        Id maps, domains, texts, blocks and the users' histories (needed to build profiles and
        to exclude seen items; saved with the model).
    components_ : dict of str -> Component
        Fitted components with a weight > 0 (each with ``fit_seconds_``).
    weights_ : dict of str -> float
        The validated weights of the fitted components.
    encoder_ : TextEncoder or None
        The encoder used in fit (None when no component reads text).
    block_encoders_ : dict of str -> ColumnEncoder
        The fitted encoders of the item blocks built from columns (they encode added items).
    columns_ : dict
        The column names fit was given (``user``, ``item``, ``domain``, ``weight``, ``timestamp``;
        outputs use them), its ``duplicates`` rule, which new users' histories follow too, and
        whether it read the interactions as ``ordered``.
    cross_domain_weight_, normalization_ : float, str
        The values in use (the parameters, or what ``"auto"`` chose).
    auto_report_ : dict or None
        With ``weights="auto"``: the chosen ``weights``, ``cross_domain_weight`` and
        ``normalization``, the held-out users, the chosen blend's held-out NDCG@10
        (``heldout_ndcg@10``), each component's alone (``single``), and the seconds of the
        trial fit and the search. None otherwise.
    catalogue_ : Catalogue
        The items, ``data_.catalogue`` (:class:`~hybridrec.catalogue.Catalogue`): their ids,
        domains, texts and blocks, and each item's popularity (the tie-break), whether it is a
        reference item of the per-user normalisation (those fitted; not items added later), and
        whether it is held out of the lists (``screen_texts="hold"``, ``hold_items``;
        ``held_item_ids_`` names them). Every item edit builds a new one with the new ``data_``.

    Notes
    -----
    Unknown user ids in :meth:`recommend` and :meth:`predict` raise ``ValueError``; score new
    users with ``recommend_new`` or ``recommend_for_text`` instead.
    """

    #: Models saved before ``auto_target`` existed load with its default.
    auto_target = "next_item"

    def __init__(
        self,
        components: Sequence[tuple[str, Component]] | None = None,
        weights: Mapping[str, float] | str | None = None,
        text_weights: Mapping[str, float] | None = None,
        cross_domain_weight: float | str = 0.5,
        normalization: str = "zscore",
        encoder: Any = None,
        batch_size: int = 256,
        random_state: int | None = None,
        show_progress: bool = False,
        screen_texts: str = "hold",
        auto_target: str = "next_item",
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
        self.screen_texts = screen_texts
        self.auto_target = auto_target

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
        item_vectors: Mapping[str, Any] | None = None,
        user_vectors: Mapping[str, Any] | None = None,
        timestamp_col: str | None = "timestamp",
        ordered: bool | None = None,
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
        user_col, item_col, weight_col, text_col, user_text_col, domain_col, duplicates, timestamp_col
            See :meth:`hybridrec.InteractionData.from_frames`. ``timestamp_col`` orders each
            user's events (row order when the column is absent); only order-aware components
            (the tower's sequence encoder) read the order.
        item_vectors, user_vectors : dict of str -> vectors or ColumnEncoder, optional
            Named blocks beside text: vectors keyed by id (see
            :func:`hybridrec.modalities.align_block`), or a
            :class:`~hybridrec.modalities.ColumnEncoder` that encodes columns of ``items``
            (``users``). Components read them by name (``SemanticComponent(modality=...)``).
        ordered : bool or None, default=None
            Whether the order of each user's events means something; None: True when
            ``timestamp_col`` is a column of ``interactions``. On unordered interactions a
            component that reads the order (the sequence tower) gets no default weight.

        Returns
        -------
        self
        """
        if ordered is None:
            ordered = timestamp_col is not None and timestamp_col in getattr(interactions, "columns", ())
        active, weights = check_fit_params(self, bool(ordered))
        item_specs, encoders = encode_columns(item_vectors, items, "item")
        user_specs, _ = encode_columns(user_vectors, users, "user")
        data = InteractionData.from_frames(
            interactions, items, users,
            user_col=user_col, item_col=item_col, weight_col=weight_col, text_col=text_col,
            user_text_col=user_text_col, domain_col=domain_col, duplicates=duplicates,
            item_vectors=item_specs, user_vectors=user_specs, timestamp_col=timestamp_col,
        )
        columns = {"user": user_col, "item": item_col, "domain": domain_col, "weight": weight_col,
                   "timestamp": timestamp_col, "duplicates": duplicates, "ordered": bool(ordered)}
        return self._fit_data(data, active, weights, columns, encoders, self.encoder)

    def fit_data(self, data: InteractionData, *, columns: Mapping[str, Any] | None = None,
                 block_encoders: Mapping[str, Any] | None = None, encoder: Any = None,
                 ordered: bool = False) -> "HybridRecommender":
        """Fit every component with a weight > 0 on interactions already prepared as an InteractionData.

        :meth:`fit` builds the data from frames (:meth:`InteractionData.from_frames`) and calls
        the same steps; :func:`hybridrec.spark.fit_spark` builds it from indexed pairs
        (:meth:`InteractionData.from_codes`). Texts are encoded here when a component reads text.

        Parameters
        ----------
        data : InteractionData
            Becomes ``data_`` (frozen: read-only from now on).
        columns : dict, optional
            The column names outputs use and the ``duplicates`` rule new users follow (keys
            ``user``, ``item``, ``domain``, ``weight``, ``timestamp``, ``duplicates``); defaults
            are those of :meth:`fit`.
        block_encoders : dict of str -> ColumnEncoder, optional
            Fitted encoders of item blocks built from columns (they encode added items' blocks).
        encoder : text encoder, optional
            The encoder for this fit; default the ``encoder`` parameter (``TextEncoder()`` when None).
        ordered : bool, default=False
            Whether ``data.sequences`` holds a meaningful order (see :meth:`fit`).

        Returns
        -------
        self
        """
        active, weights = check_fit_params(self, ordered)
        if not isinstance(data, InteractionData):
            raise TypeError(f"fit_data needs an InteractionData. Got {type(data).__name__}.")
        defaults = {"user": "user_id", "item": "item_id", "domain": "domain", "weight": "weight",
                    "timestamp": "timestamp", "duplicates": "sum"}
        return self._fit_data(data, active, weights, {**defaults, **dict(columns or {}), "ordered": bool(ordered)},
                              dict(block_encoders or {}), self.encoder if encoder is None else encoder)

    def check_params(self) -> dict[str, Component]:
        """Check every parameter, the components' included, without fitting (``fit`` does it first).

        Returns
        -------
        dict of str -> Component
            The components ``fit`` would fit (weight > 0), by name, unfitted.
        """
        active, _ = check_fit_params(self)
        return dict(active)

    def _fit_data(self, data: InteractionData, active: list[tuple[str, Component]], weights: Mapping[str, float],
                  columns: dict, block_encoders: dict, encoder: Any) -> "HybridRecommender":
        """Fit the ``active`` components on ``data`` and set the fitted attributes (``fit``, ``fit_data``).

        With ``weights="auto"`` the blend is chosen first (:mod:`hybridrec._auto`) and only the
        components it weights are fitted on all of ``data``.
        """
        report = None
        if self.weights == AUTO:
            encoder = encode_texts(data, active, encoder, self.show_progress)
            report = choose_blend(self, data, [name for name, _ in active], columns, block_encoders, encoder)
            weights = {name: report["weights"].get(name, 0.0) for name, _ in active}
            active = [(name, comp) for name, comp in active if weights[name] > 0]
        fitted, encoder = fit_components(data, active, encoder, self.random_state, self.show_progress)
        self.auto_report_ = report
        self.data_ = data.with_catalogue(data.catalogue.fitted(data.matrix, held_at_fit(data, self.screen_texts)))
        self.encoder_ = encoder
        self.components_ = fitted
        self.weights_ = {name: weights[name] for name in fitted}
        self.columns_ = columns
        self.block_encoders_ = block_encoders
        return self

    @property
    def catalogue_(self) -> Catalogue:
        """The items (:class:`~hybridrec.catalogue.Catalogue`): the one owner of per-item state, ``data_.catalogue``."""
        check_is_fitted(self, "components_")
        return self.data_.catalogue

    @property
    def item_embeddings_(self) -> np.ndarray | None:
        """Item text embeddings (``data_.item_blocks["text"]``; None when no component read text)."""
        return self.data_.item_blocks.get(TEXT)

    @property
    def user_embeddings_(self) -> np.ndarray | None:
        """User text embeddings, when users had text."""
        return self.data_.user_blocks.get(TEXT)

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
        candidates: int | None = None,
        output: str = "frame",
    ) -> pd.DataFrame | TopItems:
        """Top-k recommendations for known users.

        Parameters
        ----------
        user_ids : user id or iterable of user ids
            Users seen in fit. Unknown ids raise ``ValueError``.
        k : int, default=10
            Recommendations per user.
        domain : str or None, default=None
            Recommend only items of this domain; ``None`` ranks every domain together (each
            item scored with the profile for its own domain, on one catalogue-wide scale).
        exclude_seen : bool, default=True
            Leave out items the user interacted with in training.
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted ``cross_domain_weight`` for this call.
        explain : bool, default=False
            Add the columns ``contributions`` (component name -> its share of ``score``) and
            ``explanation`` (one readable sentence, see :meth:`explain`).
        weights : dict of str -> float, optional
            Blend weights for this call only (fitted components only; see :meth:`reweight`).
        candidates : int, optional
            Approximate retrieval for large catalogues: an HNSW index (faiss; ``pip install
            "hybridrec[ann]"``), built once per domain over the blend's item vectors, searches
            with this many candidates per user; the items it returns are scored exactly. Only
            for blends of dot-product components under z-score or no normalisation (otherwise
            ``ValueError``); ``None`` (default) or a value covering the domain ranks exactly.
        output : {"frame", "arrays"}, default="frame"
            ``"arrays"`` returns the same lists as a :class:`~hybridrec.TopItems` (no DataFrame
            is built; what the server uses); not with ``explain=True``.

        Returns
        -------
        DataFrame or TopItems
            Columns ``user_id, item_id, score, rank, domain`` (named as in fit); ``rank`` starts
            at 1. Users with fewer than ``k`` candidates get fewer rows.
        """
        check_is_fitted(self, "components_")
        k = check_positive_int(k, "k", "recommend")
        if candidates is not None:
            candidates = check_positive_int(candidates, "candidates", "recommend")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "recommend")
        users = known_users(self.data_, user_ids, "recommend")
        blend = self.scorer_.call_weights(weights, "recommend")
        if explain and blend is not None:
            raise ValueError("recommend(explain=True) explains the model's own weights; call reweight(...) first.")
        if explain and output == "arrays":
            raise ValueError("recommend(explain=True) adds columns to the frame; it cannot return output='arrays'.")
        frame = self.scorer_.rank(users, k, domain, exclude_seen, weight, blend, candidates=candidates, output=output)
        if explain:
            scope = "catalogue" if domain is None else "domain"
            frame["contributions"], frame["explanation"] = explain_frame_rows(self.scorer_, frame, users, weight, scope)
        return frame
