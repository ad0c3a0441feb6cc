"""Who is scored: known users, new users from a history table, users known by a text.

Every entry point of the recommender resolves its users into one :class:`Users` object (labels,
history rows over the catalogue, user-side blocks), so warm users, folded-in users, new users
and text queries share one scoring path.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._ids import as_index, id_list
from ._validation import preview, require_frame
from .components.base import TEXT, UserBatch
from ._frames import event_weights, interaction_matrix
from .sequences import Sequences, order_codes
from .text import clean_text

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .data import InteractionData

logger = logging.getLogger(__name__)


@dataclass
class Users:
    """Users to score: their labels, history rows over the catalogue and user-side blocks.

    Attributes
    ----------
    labels : list
        Raw user ids (or the query texts) in row order.
    history : csr_matrix of shape (n_users, n_items)
    blocks : dict of str -> ndarray
        ``"text"``: the users' text embeddings, when they have text.
    index : ndarray or None
        Inner indices of known users (None for users the model does not store).
    sequences : Sequences or None
        Their events in order (oldest first).
    """

    labels: list
    history: sp.csr_matrix
    blocks: dict[str, np.ndarray] = field(default_factory=dict)
    index: np.ndarray | None = None
    sequences: Sequences | None = None

    def __len__(self) -> int:
        return self.history.shape[0]

    def take(self, rows: np.ndarray | slice) -> "Users":
        """A subset of the users (rows: positions or a slice)."""
        labels = np.empty(len(self.labels), dtype=object)
        labels[:] = self.labels
        return Users(list(labels[rows]), self.history[rows], {n: b[rows] for n, b in self.blocks.items()},
                     None if self.index is None else self.index[rows],
                     None if self.sequences is None else self.sequences.take(rows))

    def batch(self, item_weights: np.ndarray | None = None) -> UserBatch:
        """The components' view of these users, with cross-domain item weights."""
        return UserBatch(history=self.history, item_weights=item_weights, blocks=self.blocks, sequences=self.sequences)

    def text_only(self) -> np.ndarray:
        """Users with no history but a non-empty text (blended with the query weights)."""
        return self.batch().text_only()


def known_users(data: "InteractionData", ids: Iterable[Hashable] | Hashable, method: str) -> Users:
    """Users the model stores (fitted or folded in); unknown ids raise ``ValueError``."""
    labels = id_list(ids)
    idx = data.user_index(labels, missing="ignore")
    if (idx < 0).any():
        unknown = [label for label, i in zip(labels, idx) if i < 0]
        raise ValueError(
            f"{method} got {len(unknown)} user ids that were not seen in fit: {preview(unknown)}. "
            "Use recommend_new(...) for users known by their history, or recommend_for_text(...) "
            "for users known by a text."
            + (" This model stores no users (it was saved with include_user_data=False)." if data.n_users == 0 else "")
        )
    return Users(labels, data.matrix[idx], {n: b[idx] for n, b in data.user_blocks.items()}, idx,
                 data.sequences.take(idx))


def encode_texts(encoder: Any, texts: list[Any], warn_empty: bool = True) -> np.ndarray:
    """Clean and encode user texts (queries); empty texts encode to zero rows."""
    cleaned = [clean_text(t) for t in texts]
    empty = sum(not t for t in cleaned)
    if empty and warn_empty:
        logger.warning(
            "%d of %d texts are empty after cleaning; they carry no signal and rank by the "
            "other components (or popularity) alone.", empty, len(cleaned),
        )
    return encoder.encode(cleaned)


def query_users(data: "InteractionData", encoder: Any, texts: list[Any]) -> Users:
    """One user per query text, with no history."""
    history = sp.csr_matrix((len(texts), data.n_items), dtype=np.float32)
    return Users(list(texts), history, {TEXT: encode_texts(encoder, texts)}, sequences=Sequences.empty(len(texts)))


def check_history(history: Any, columns: Mapping[str, Any]) -> pd.DataFrame:
    """``history`` as a DataFrame with the user and item columns the model was fitted with."""
    history = require_frame(history, "history")
    for column in (columns["user"], columns["item"]):
        if column not in history.columns:
            raise ValueError(f"history has no column {column!r}. Its columns are {list(history.columns)}.")
    return history


def history_users(
    data: "InteractionData",
    columns: Mapping[str, Any],
    encoder: Any,
    history: pd.DataFrame,
    user_ids: Iterable[Hashable] | None = None,
    texts: Mapping[Hashable, Any] | pd.Series | None = None,
) -> Users:
    """Users described by a history table (and texts), in the order of ``user_ids``.

    Without ``user_ids``: the history's users in order of appearance, then the users that
    appear only in ``texts``. Users without rows have an empty history. Items must be in the
    catalogue; weights (the fitted weight column, if present) must be finite and >= 0, and
    repeated rows combine by the fitted ``duplicates`` rule (as in fit). Each
    user's events are ordered by the fitted timestamp column when the table has it, else by
    row order.
    """
    check_history(history, columns)
    ucol, icol = columns["user"], columns["item"]
    if history[ucol].isna().any() or history[icol].isna().any():
        raise ValueError("history has missing (NaN/None) user or item ids; every row needs both.")
    if texts is not None and not hasattr(texts, "items"):
        raise ValueError("texts must be a mapping or pandas Series of user id -> text.")
    if user_ids is None:
        user_ids = list(pd.unique(history[ucol].to_numpy()))
        if texts is not None:
            user_ids = list(dict.fromkeys(user_ids + list(texts.keys())))
    labels = list(user_ids)
    weights = event_weights(history, columns.get("weight"), "history")  # the rule fit follows
    items = data.item_index(history[icol].tolist(), missing="ignore")
    if (items < 0).any():
        unknown = pd.unique(history[icol].to_numpy()[items < 0])
        raise ValueError(
            f"history refers to {len(unknown)} unknown item ids {preview(unknown)}; "
            "add them first with add_items(...)."
        )
    rows = as_index(labels).get_indexer(as_index(history[ucol].to_numpy()))
    keep = rows >= 0
    matrix = interaction_matrix(rows[keep], items[keep], weights[keep], (len(labels), data.n_items),
                                columns.get("duplicates", "sum"))
    key = order_codes(history, columns.get("timestamp"), "history", missing="last")
    live = keep & (weights > 0)
    sequences = Sequences.from_events(rows[live], items[live], len(labels), None if key is None else key[live])
    blocks = {}
    if texts is not None:
        if encoder is None:
            raise ValueError(
                "Texts for new users need text, but this model was fitted without a text component. "
                "Refit with a weight > 0 for 'semantic' or 'lightfm' (and an items table with text)."
            )
        lookup = dict(texts.items())
        blocks[TEXT] = encode_texts(encoder, [lookup.get(label, "") for label in labels], warn_empty=False)
    return Users(labels, matrix, blocks, sequences=sequences)
