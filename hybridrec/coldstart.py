"""Cold start without refitting: text queries, new users, new items.

Mixed into :class:`~hybridrec.HybridRecommender`. Every component builds users from what they
did and wrote (see :class:`~hybridrec.components.UserBatch`), so a new user is one more
history row (:func:`hybridrec.users.history_users`) and a query is a user with text and no
history; both are ranked by the recommender's one scoring path.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Hashable, Iterable, Mapping

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._ids import as_index
from ._scoring import TopItems
from ._validation import check_positive_int, plain, preview, require_frame
from .components.base import TEXT
from .components.hubness import COPY_BUDGET, COPY_COSINE, copies
from ._frames import item_table
from .modalities import align_block
from .screening import held_when_added
from .text import clean_text
from .users import check_history, encode_texts, history_users, query_users

logger = logging.getLogger(__name__)


def check_item_edits(components: Mapping[str, Any], method: str) -> None:
    """Refuse an item edit up front when a fitted component cannot follow it without refitting."""
    refusing = [f"{name!r} ({type(comp).__name__})" for name, comp in components.items() if not comp.edits_items()]
    if refusing:
        raise NotImplementedError(
            f"{method}: the components {', '.join(refusing)} cannot add or remove items without refitting; "
            "nothing was changed. Refit with the new catalogue, or leave those components out.")


def warn_copies(data: Any, ids: pd.Index, embeddings: np.ndarray) -> None:
    """Warn about new items whose text copies an item of ``data`` (text scorers rank them alike)."""
    existing = data.item_blocks[TEXT]
    if len(ids) * len(existing) > COPY_BUDGET:
        logger.debug("add_items: %d new x %d items is too many to check for copied texts.", len(ids), len(existing))
        return
    rows, of = copies(embeddings, existing)
    if len(rows):
        pairs = [f"{plain(ids[r])!r} (of {plain(data.item_ids[o])!r})" for r, o in zip(rows, of)]
        warnings.warn(f"add_items: {len(rows)} of {len(ids)} new items have a text that copies an existing "
                      f"item's (cosine >= {COPY_COSINE}), so the text components rank them alike: "
                      f"{preview(pairs, render=str)}.", UserWarning, stacklevel=3)


def new_item_blocks(data: Any, item_col: str, block_encoders: Mapping[str, Any], items: pd.DataFrame, ids: pd.Index,
                    vectors: Mapping[str, Any] | None) -> dict:
    """New items' rows of the non-text blocks of ``data``: from ``vectors``, or encoded from their columns."""
    vectors = dict(vectors or {})
    fitted = set(data.item_blocks) - {TEXT}
    unknown = sorted(set(vectors) - fitted)
    if unknown:
        raise ValueError(f"add_items: vectors names blocks {unknown} that the model was not fitted with "
                         f"(its blocks: {sorted(fitted)}).")
    out = {name: align_block(name, value, ids, kind="item", id_col=item_col, table_ids=ids)
           for name, value in vectors.items()}
    for name, encoder in block_encoders.items():
        if name not in out:
            out[name] = encoder.encode(items)  # raises, naming the columns, when they are absent
    return out


class ColdStartMixin:
    """recommend_for_text, recommend_new, score_new, fold_in_users, add_items, remove_items."""

    def _text_encoder(self, method: str) -> Any:
        """The fitted text encoder, or a clear error for a model fitted without text."""
        if self.encoder_ is None or TEXT not in self.data_.item_blocks:
            raise ValueError(
                f"{method} needs text, but this model was fitted without a text component. "
                "Refit with a weight > 0 for 'semantic' or 'lightfm' (and an items table with text)."
            )
        return self.encoder_

    # ------------------------------------------------------------------ text queries
    def recommend_for_text(
        self,
        text: str | Iterable[str],
        k: int = 10,
        domain: str | None = None,
        weights: Mapping[str, float] | None = None,
        output: str = "frame",
    ) -> pd.DataFrame | TopItems:
        """Recommend for a natural-language intent, with no user history at all.

        Every component that can read text takes part: the semantic profile directly, LightFM
        through its text user features (or a text -> user-representation map), ALS through a
        ridge map from text profile to user factors learned on the training users. They are
        blended with the ``text_weights`` (by default each component's ``query_weight``).

        Parameters
        ----------
        text : str or iterable of str
            One query or a batch of queries. Empty or non-string values do not fail: they
            carry no signal and fall back to the non-text components.
        k : int, default=10
        domain : str or None, default=None
        weights : dict of str -> float, optional
            Blend weights for the queries; defaults to the query weights.
        output : {"frame", "arrays"}, default="frame"
            As in :meth:`recommend`.

        Returns
        -------
        DataFrame or TopItems
            Columns ``query, item_id, score, rank, domain`` (item and domain named as in fit).
        """
        check_is_fitted(self, "components_")
        k = check_positive_int(k, "k", "recommend_for_text")
        encoder = self._text_encoder("recommend_for_text")
        texts = [text] if isinstance(text, str) or not isinstance(text, Iterable) else list(text)
        users = query_users(self.data_, encoder, texts)
        blend = self.scorer_.call_weights(weights, "recommend_for_text")  # None: query weights, row by row
        return self.scorer_.rank(users, k, domain, False, 1.0, blend, user_column="query", output=output)

    # ------------------------------------------------------------------ new users
    def _new_users(self, history: pd.DataFrame, user_ids: Iterable[Hashable] | None, texts: Any, method: str):
        encoder = None if texts is None else self._text_encoder(method)
        return history_users(self.data_, self.columns_, encoder, history, user_ids, texts)

    def recommend_new(
        self,
        history: pd.DataFrame,
        texts: Mapping[Hashable, Any] | pd.Series | None = None,
        k: int = 10,
        domain: str | None = None,
        exclude_seen: bool = True,
        cross_domain_weight: float | None = None,
        weights: Mapping[str, float] | None = None,
        output: str = "frame",
    ) -> pd.DataFrame | TopItems:
        """Recommend for users the model has not seen, from their history (and text), no refit.

        ALS solves each user's factors against the fitted item factors, LightFM builds the user
        from history features, and the semantic profile is the mean embedding of the history.

        Parameters
        ----------
        history : DataFrame
            The new users' interactions, with the columns named as in fit. Every item must be
            in the catalogue. User ids are labels only; they may repeat ids seen in fit.
        texts : mapping or Series of user id -> text, optional
            Users' own texts. Users that appear only here are served from text alone.
        k, domain, exclude_seen, cross_domain_weight, weights, output
            As in :meth:`recommend`.

        Returns
        -------
        DataFrame or TopItems
            Columns ``user_id, item_id, score, rank, domain`` (named as in fit).
        """
        check_is_fitted(self, "components_")
        k = check_positive_int(k, "k", "recommend_new")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "recommend_new")
        users = self._new_users(history, None, texts, "Texts for new users")
        blend = self.scorer_.call_weights(weights, "recommend_new")
        return self.scorer_.rank(users, k, domain, exclude_seen, weight, blend, output=output)

    def score_new(
        self,
        history: pd.DataFrame,
        user_ids: Iterable[Hashable],
        item_ids: Iterable[Hashable] | None = None,
        texts: Mapping[Hashable, Any] | pd.Series | None = None,
        cross_domain_weight: float | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """Blended scores for new users (rows in the order of ``user_ids``) x items, no refit.

        A user's rows are combined as in fit (weights, the fitted ``duplicates`` rule), so a
        user seen in fit, posted with their own training rows, scores as :meth:`score_items`
        scores them.

        Parameters
        ----------
        history : DataFrame
            The users' interactions, columns named as in fit. Every item must be in the catalogue.
        user_ids : iterable of user ids
            The rows of the result, in order. Users without rows in ``history`` are scored from
            their text in ``texts``, if any (else they get the non-personal scores).
        item_ids : iterable of item ids, optional
            The columns of the result; defaults to the whole catalogue in inner order.
        texts : mapping or Series of user id -> text, optional
            The users' own texts.
        cross_domain_weight : float in [0, 1], optional
            Overrides the fitted value.
        weights : dict of str -> float, optional
            Blend weights for this call only (fitted components only).

        Returns
        -------
        ndarray of shape (len(user_ids), n_items)
        """
        check_is_fitted(self, "components_")
        weight = self.scorer_.call_cross_domain_weight(cross_domain_weight, "score_new")
        users = self._new_users(history, list(user_ids), texts, "Texts for new users")
        blend = self.scorer_.call_weights(weights, "score_new")
        return self.scorer_.scores(users, self.scorer_.positions(item_ids), weight, blend)

    def fold_in_users(
        self,
        history: pd.DataFrame,
        texts: Mapping[Hashable, Any] | pd.Series | None = None,
    ) -> "ColdStartMixin":
        """Add new users permanently, so ``recommend``, ``predict`` and ``explain`` know their ids.

        Nothing is refitted: the users' histories (and texts) are stored and every component
        builds them on demand, exactly as in :meth:`recommend_new`.

        Parameters
        ----------
        history : DataFrame
            The new users' interactions, with the columns named as in fit; every item must be in the
            catalogue, and a user the model already stores raises ``ValueError``.
        texts : mapping or Series of user id -> text, optional
            The new users' own texts. Users that appear only here are stored with their text alone.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        data = self._folded_in(self.data_, history, texts, "fold_in_users")
        logger.info("Folded in %d users.", data.n_users - self.data_.n_users)
        self.data_ = data
        return self

    def _folded_in(self, data: Any, history: pd.DataFrame, texts: Any, method: str) -> Any:
        """``data`` with the users of ``history`` (and ``texts``) appended; users it stores raise."""
        users = self._new_users(history, None, texts, "Texts for new users")
        known = data.user_index(users.labels, missing="ignore")
        if (known >= 0).any():
            clash = [label for label, i in zip(users.labels, known) if i >= 0]
            raise ValueError(f"{method} got user ids that the model already knows: {preview(clash)}.")
        raw_texts = None if texts is None else [clean_text(dict(texts.items()).get(label, "")) for label in users.labels]
        return data.appended_users(as_index(users.labels), users.history, raw_texts, users.blocks, users.sequences)

    def add_interactions(
        self,
        history: pd.DataFrame,
        texts: Mapping[Hashable, Any] | pd.Series | None = None,
    ) -> "ColdStartMixin":
        """Add interactions to the model's users (and users it does not store), no refit.

        A user the model stores keeps their history and gains the new rows: an item they already
        have combines with the stored weight by the fitted ``duplicates`` rule, and the new events
        come after the stored ones (ordered among themselves by the fitted timestamp column when
        ``history`` has it, else by row), so the sequence tower reads the newest last. Every
        component builds a user's state from the stored history, so ``recommend``, ``predict``
        and ``explain`` reflect the new interactions at once; what fit learned (factors, networks,
        popularity) is unchanged. Users the model does not store are folded in, as by
        :meth:`fold_in_users`. The model changes in one assignment, after every check passed.

        Parameters
        ----------
        history : DataFrame
            The interactions, with the columns named as in fit; every item must be in the catalogue.
        texts : mapping or Series of user id -> text, optional
            Texts of users the model does not store yet (a stored user's text is kept: a text for
            one raises ``ValueError``).

        Returns
        -------
        self

        Examples
        --------
        >>> model.add_interactions(pd.DataFrame({"user_id": [7], "item_id": [42]}))  # doctest: +SKIP
        """
        check_is_fitted(self, "components_")
        history = check_history(history, self.columns_)
        rows = self.data_.user_index(history[self.columns_["user"]].tolist(), missing="ignore")
        labels = list(pd.unique(history[self.columns_["user"]].to_numpy()[rows >= 0]))
        told = set() if texts is None or not hasattr(texts, "items") else set(dict(texts.items()))
        if told & set(labels):
            raise ValueError("add_interactions: texts are for users the model does not store yet; it keeps the "
                             f"texts of {preview(sorted(told & set(labels), key=str))}.")
        data = self.data_
        if labels:
            users = self._new_users(history[rows >= 0], labels, None, "add_interactions")
            data = data.with_events(self.data_.user_index(labels), users.history, users.sequences,
                                    self.columns_.get("duplicates", "sum"))
        if (rows < 0).any() or texts is not None:
            data = self._folded_in(data, history[rows < 0], texts, "add_interactions")
        logger.info("Added %d interactions: %d stored users, %d new.", len(history), len(labels),
                    data.n_users - self.data_.n_users)
        self.data_ = data
        return self

    # ------------------------------------------------------------------ items
    def add_items(
        self,
        items: pd.DataFrame,
        *,
        text_col: str | list[str] = "text",
        vectors: Mapping[str, Any] | None = None,
    ) -> "ColdStartMixin":
        """Make new items recommendable at once, from their text and other blocks (no refit).

        LightFM scores them from their block features, ALS places them with a text -> item
        factor map learned on warm items, and the semantic and text-kNN components use their
        blocks. Scores of the existing items do not change: per-user normalisation keeps using
        the items the model was fitted on as its reference.

        Parameters
        ----------
        items : DataFrame
            Item id column (as in fit), text column(s) ``text_col`` and, for a multi-domain
            model, the domain column. Ids must be new; to replace an item, remove it first.
            Blocks fitted from columns (:class:`~hybridrec.modalities.ColumnEncoder`) are
            encoded from the same columns here.
        vectors : dict of str -> vectors, optional
            The new items' rows of other blocks, keyed by item id as in ``fit(item_vectors=...)``.
            A block they do not bring gets zero rows (those components see nothing of them).

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        check_item_edits(self.components_, "add_items")
        encoder = self._text_encoder("add_items")
        icol, dcol = self.columns_["item"], self.columns_["domain"]
        items = require_frame(items, "items")
        ids, codes, names, texts = item_table(None, items, icol, text_col, dcol)  # the check fit makes
        if dcol in items.columns:
            domains = [names[c] for c in codes]
        elif len(self.data_.domains) == 1:
            domains = [self.data_.domains[0]] * len(items)
        else:
            raise ValueError(f"items needs a {dcol!r} column: the model has domains {self.data_.domains}.")
        blocks = {TEXT: encode_texts(encoder, texts)}
        warn_copies(self.data_, ids, blocks[TEXT])
        blocks.update(new_item_blocks(self.data_, self.columns_["item"], self.block_encoders_, items, ids, vectors))
        # plan every change on copies first, then swap them in: a failure changes nothing
        texts = [clean_text(t) for t in texts]
        held = held_when_added(self.data_, ids, texts, self.screen_texts)
        data = self.data_.appended_items(ids, domains, texts, blocks, held)
        codes = data.item_domain[self.data_.n_items:]
        fitted = {name: comp.with_items(blocks, codes) for name, comp in self.components_.items()}
        self.data_, self.components_ = data, fitted
        logger.info("Added %d items.", len(ids))
        return self

    def remove_items(self, item_ids: Iterable[Hashable] | Hashable) -> "ColdStartMixin":
        """Remove items from the catalogue: they are never recommended or scored again.

        Users' histories lose those items too. Components keep what they learned from them
        (the trained basis), so other items' raw scores stay put; the per-user normalisation
        reference loses the removed items. Every change is planned before any is made, so a
        refused or failing call leaves the model as it was.

        Parameters
        ----------
        item_ids : item id or iterable of item ids
            Items of the catalogue; a tuple is one id (pass a list for several).

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        check_item_edits(self.components_, "remove_items")
        drop = self.data_.item_index(item_ids)
        keep = np.ones(self.data_.n_items, dtype=bool)
        keep[drop] = False
        data = self.data_.kept_items(keep)
        fitted = {name: comp.without_items(keep) for name, comp in self.components_.items()}
        self.data_, self.components_ = data, fitted
        logger.info("Removed %d items.", len(drop))
        return self
