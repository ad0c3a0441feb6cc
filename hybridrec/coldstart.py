"""Cold start without refitting: text queries, new users, new items.

Mixed into :class:`~hybridrec.HybridRecommender`. Every component builds users from what they
did and wrote (see :class:`~hybridrec.components.UserBatch`), so a new user is one more
history row and a query is a user with text and no history.
"""
from __future__ import annotations

import logging
from typing import Any, Hashable, Iterable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ._validation import check_positive_int, preview
from .data import as_index, join_text
from .text import clean_text

logger = logging.getLogger(__name__)


class ColdStartMixin:
    """recommend_for_text, recommend_new, score_new, fold_in_users, add_items, remove_items."""

    # ------------------------------------------------------------------ helpers
    def _require_text(self, method: str) -> None:
        if self.encoder_ is None or self.item_embeddings_ is None:
            raise ValueError(
                f"{method} needs text, but this model was fitted without a text component. "
                "Refit with a weight > 0 for 'semantic' or 'lightfm' (and an items table with text)."
            )

    def _encode(self, texts: list[Any], warn_empty: bool = True) -> np.ndarray:
        cleaned = [clean_text(t) for t in texts]
        empty = [i for i, t in enumerate(cleaned) if not t]
        if empty and warn_empty:
            logger.warning(
                "%d of %d texts are empty after cleaning; they carry no signal and rank by the "
                "other components (or popularity) alone.", len(empty), len(cleaned),
            )
        return self.encoder_.encode(cleaned)

    def _check_history(self, history: Any) -> pd.DataFrame:
        if not isinstance(history, pd.DataFrame):
            raise ValueError(f"history must be a pandas DataFrame. Got {type(history).__name__} instead.")
        for column in (self.columns_["user"], self.columns_["item"]):
            if column not in history.columns:
                raise ValueError(f"history has no column {column!r}. Its columns are {list(history.columns)}.")
        return history

    def _labels(self, history: pd.DataFrame, texts: Mapping[Hashable, Any] | pd.Series | None) -> list[Hashable] | None:
        """History users in order of appearance, then users known only by their text."""
        self._check_history(history)
        if texts is None or not hasattr(texts, "keys"):
            return None
        return list(dict.fromkeys(list(pd.unique(history[self.columns_["user"]].to_numpy())) + list(texts.keys())))

    def _history_matrix(self, history: pd.DataFrame, labels: list[Hashable] | None = None) -> tuple[list[Hashable], sp.csr_matrix]:
        """Users (first-appearance order, or ``labels``) and their rows over the catalogue."""
        self._check_history(history)
        ucol, icol = self.columns_["user"], self.columns_["item"]
        if history[ucol].isna().any() or history[icol].isna().any():
            raise ValueError("history has missing (NaN/None) user or item ids; every row needs both.")
        weight_col = self.columns_.get("weight")
        weights = np.ones(len(history), dtype=np.float32)
        if weight_col and weight_col in history.columns:
            weights = pd.to_numeric(history[weight_col], errors="coerce").to_numpy(dtype=np.float32)
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError(f"history[{weight_col!r}] must hold finite weights >= 0.")
        items = self.data_.item_index(history[icol].tolist(), missing="ignore")
        if (items < 0).any():
            unknown = pd.unique(history[icol].to_numpy()[items < 0])
            raise ValueError(
                f"history refers to {len(unknown)} unknown item ids {preview(unknown)}; "
                "add them first with add_items(...)."
            )
        users = as_index(history[ucol].to_numpy())
        order = as_index(labels) if labels is not None else as_index(pd.unique(users.to_numpy()))
        rows = order.get_indexer(users)
        keep = rows >= 0
        matrix = sp.csr_matrix(
            (weights[keep], (rows[keep], items[keep])), shape=(len(order), self.data_.n_items), dtype=np.float32
        )
        matrix.sum_duplicates()
        return list(order), matrix

    def _text_rows(self, labels: list[Hashable], texts: Mapping[Hashable, Any] | pd.Series | None) -> np.ndarray | None:
        if texts is None:
            return None
        self._require_text("Texts for new users")
        lookup = dict(texts.items()) if hasattr(texts, "items") else None
        if lookup is None:
            raise ValueError("texts must be a mapping or pandas Series of user id -> text.")
        return self._encode([lookup.get(label, "") for label in labels], warn_empty=False)

    def _text_weights(self) -> dict[str, float] | None:
        """Query weights restricted to fitted components (None: the model's own weights)."""
        from .recommender import DEFAULT_TEXT_WEIGHTS

        wanted = DEFAULT_TEXT_WEIGHTS if self.text_weights is None else self.text_weights
        chosen = {n: w for n, w in wanted.items() if n in self.components_}
        return chosen if any(chosen.values()) else None

    # ------------------------------------------------------------------ text queries
    def recommend_for_text(
        self,
        text: str | Iterable[str],
        k: int = 10,
        domain: str | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Recommend for a natural-language intent, with no user history at all.

        Every component that can read text takes part: the semantic profile directly, LightFM
        through its text user features (or a text -> user-representation map), ALS through a
        ridge map from text profile to user factors learned on the training users.

        Parameters
        ----------
        text : str or iterable of str
            One query or a batch of queries. Empty or non-string values do not fail: they
            carry no signal and fall back to the non-text components.
        k : int, default=10
        domain : str or None, default=None
        weights : dict of str -> float, optional
            Blend weights for the queries; defaults to the ``text_weights`` parameter.

        Returns
        -------
        DataFrame
            Columns ``query, item_id, score, rank, domain``.
        """
        check_is_fitted(self, "components_")
        k = check_positive_int(k, "k", "recommend_for_text")
        self._require_text("recommend_for_text")
        texts = [text] if isinstance(text, str) or not isinstance(text, Iterable) else list(text)
        embeddings = self._encode(texts)
        history = sp.csr_matrix((len(texts), self.data_.n_items), dtype=np.float32)
        blend = self._call_weights(weights, "recommend_for_text")  # None: query weights, row by row
        out = self._top_k(history, embeddings, texts, k, domain, False, 1.0, blend)
        return out.rename(columns={"user_id": "query"})

    # ------------------------------------------------------------------ new users
    def recommend_new(
        self,
        history: pd.DataFrame,
        texts: Mapping[Hashable, Any] | pd.Series | None = None,
        k: int = 10,
        domain: str | None = None,
        exclude_seen: bool = True,
        cross_domain_weight: float | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Recommend for users the model has not seen, from their history (and text), no refit.

        ALS solves each user's factors against the fitted item factors (implicit's
        ``recalculate_user``), LightFM builds the user from history features, and the semantic
        profile is the mean embedding of the history.

        Parameters
        ----------
        history : DataFrame
            The new users' interactions, with the columns named as in fit. Every item must be
            in the catalogue. User ids are labels only; they may repeat ids seen in fit.
        texts : mapping or Series of user id -> text, optional
            Users' own texts. Users that appear only here are served from text alone.
        k, domain, exclude_seen, cross_domain_weight, weights
            As in :meth:`recommend`.

        Returns
        -------
        DataFrame
            Columns ``user_id, item_id, score, rank, domain``.
        """
        check_is_fitted(self, "components_")
        k = check_positive_int(k, "k", "recommend_new")
        weight = self._check_cdw(cross_domain_weight, "recommend_new")
        labels, matrix = self._history_matrix(history, self._labels(history, texts))
        blend = self._call_weights(weights, "recommend_new")
        return self._top_k(matrix, self._text_rows(labels, texts), labels, k, domain, exclude_seen, weight, blend)

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

        Users in ``user_ids`` without rows in ``history`` are scored from their text, if any.
        ``weights`` overrides the blend weights for this call.
        """
        check_is_fitted(self, "components_")
        weight = self._check_cdw(cross_domain_weight, "score_new")
        labels, matrix = self._history_matrix(history, list(user_ids))
        items = np.arange(self.data_.n_items) if item_ids is None else self.data_.item_index(list(item_ids))
        blend = self._call_weights(weights, "score_new")
        return self._score_matrix(matrix, self._text_rows(labels, texts), items, weight, blend)

    def fold_in_users(
        self,
        history: pd.DataFrame,
        texts: Mapping[Hashable, Any] | pd.Series | None = None,
    ) -> "ColdStartMixin":
        """Add new users permanently, so ``recommend``, ``predict`` and ``explain`` know their ids.

        Nothing is refitted: the users' histories (and texts) are stored and every component
        builds them on demand, exactly as in :meth:`recommend_new`.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        labels, matrix = self._history_matrix(history, self._labels(history, texts))
        known = self.data_.user_index(labels, missing="ignore")
        if (known >= 0).any():
            raise ValueError(
                f"fold_in_users got user ids that the model already knows: {preview([l for l, i in zip(labels, known) if i >= 0])}."
            )
        embeddings = self._text_rows(labels, texts)
        raw_texts = None if texts is None else [clean_text(dict(texts.items()).get(label, "")) for label in labels]
        self.data_.append_users(as_index(labels), matrix, raw_texts)
        if embeddings is not None or self.user_embeddings_ is not None:
            dim = (embeddings if embeddings is not None else self.user_embeddings_).shape[1]
            old = self.user_embeddings_ if self.user_embeddings_ is not None else np.zeros((self.data_.n_users - len(labels), dim), np.float32)
            new = embeddings if embeddings is not None else np.zeros((len(labels), dim), np.float32)
            self.user_embeddings_ = np.vstack([old, new])
        logger.info("Folded in %d users.", len(labels))
        return self

    # ------------------------------------------------------------------ items
    def add_items(self, items: pd.DataFrame, *, text_col: str | list[str] = "text") -> "ColdStartMixin":
        """Make new items recommendable at once, from their text alone (no refit).

        LightFM scores them from their text features, ALS places them with a text -> item
        factor map learned on warm items, and the semantic component uses their embeddings.
        Scores of the existing items do not change: per-user normalisation keeps using the
        items the model was fitted on as its reference.

        Parameters
        ----------
        items : DataFrame
            Item id column (as in fit), text column(s) ``text_col`` and, for a multi-domain
            model, the domain column. Ids must be new; to replace an item, remove it first.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        self._require_text("add_items")
        icol, dcol = self.columns_["item"], self.columns_["domain"]
        if not isinstance(items, pd.DataFrame) or icol not in items.columns:
            raise ValueError(f"items must be a DataFrame with an {icol!r} column.")
        columns = [text_col] if isinstance(text_col, str) else list(text_col)
        missing = [c for c in columns if c not in items.columns]
        if missing:
            raise ValueError(f"items has no text column(s) {missing}. Its columns are {list(items.columns)}.")
        if items[icol].isna().any() or items[icol].duplicated().any():
            raise ValueError(f"items[{icol!r}] must hold unique, non-missing ids.")
        if dcol in items.columns:
            if items[dcol].isna().any():
                raise ValueError(f"items[{dcol!r}] is missing for some new items; every item needs a domain.")
            domains = items[dcol].astype(str).tolist()
        elif len(self.data_.domains) == 1:
            domains = [self.data_.domains[0]] * len(items)
        else:
            raise ValueError(f"items needs a {dcol!r} column: the model has domains {self.data_.domains}.")
        texts = join_text(items, columns)
        embeddings = self._encode(texts)
        new = self.data_.append_items(as_index(items[icol].to_numpy()), domains, [clean_text(t) for t in texts])
        codes = self.data_.item_domain[new]
        for comp in self.components_.values():
            comp.add_items(embeddings, codes)
        self.item_embeddings_ = np.vstack([self.item_embeddings_, embeddings])
        self.item_popularity_ = np.concatenate([self.item_popularity_, np.zeros(len(new), np.float32)])
        self.reference_items_ = np.concatenate([self.reference_items_, np.zeros(len(new), bool)])
        logger.info("Added %d items.", len(new))
        return self

    def remove_items(self, item_ids: Iterable[Hashable]) -> "ColdStartMixin":
        """Remove items from the catalogue: they are never recommended or scored again.

        Users' histories lose those items too. Components keep what they learned from them
        (the trained basis), so other items' raw scores stay put; the per-user normalisation
        reference loses the removed items.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        drop = self.data_.item_index(list(item_ids) if not isinstance(item_ids, str) else [item_ids])
        keep = np.ones(self.data_.n_items, dtype=bool)
        keep[drop] = False
        self.data_.keep_items(keep)
        for comp in self.components_.values():
            comp.remove_items(keep)
        if self.item_embeddings_ is not None:
            self.item_embeddings_ = self.item_embeddings_[keep]
        self.item_popularity_ = self.item_popularity_[keep]
        self.reference_items_ = self.reference_items_[keep]
        logger.info("Removed %d items.", len(drop))
        return self
