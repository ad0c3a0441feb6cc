"""Each user's events in order: the ordered view of the history beside the interaction matrix.

The matrix sums repeated events and forgets their order; :class:`Sequences` keeps every event,
in time order (by a timestamp column, else by row order), as ragged arrays of inner item ids.
Components that read order (the tower's sequence encoder) use it; the others ignore it.
"""
from __future__ import annotations

from dataclasses import dataclass

import logging
import warnings

import numpy as np
import pandas as pd

from ._validation import preview

logger = logging.getLogger(__name__)


@dataclass
class Sequences:
    """Ragged per-user event lists: user ``u``'s items in order are ``items[indptr[u]:indptr[u + 1]]``.

    Attributes
    ----------
    indptr : ndarray of int64, shape (n_users + 1,)
    items : ndarray of int64
        Inner item ids, oldest first within each user.
    """

    indptr: np.ndarray
    items: np.ndarray

    @classmethod
    def empty(cls, n_users: int) -> "Sequences":
        return cls(np.zeros(n_users + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def from_events(cls, users: np.ndarray, items: np.ndarray, n_users: int, key: np.ndarray | None = None) -> "Sequences":
        """Group events by user, ordered by ``key`` (any sortable codes), ties by their position here."""
        users = np.asarray(users, dtype=np.int64)
        key = np.zeros(len(users), dtype=np.int64) if key is None else np.asarray(key)
        order = np.lexsort((np.arange(len(users)), key, users))
        counts = np.bincount(users, minlength=n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr, np.asarray(items, dtype=np.int64)[order])

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def user(self, row: int) -> np.ndarray:
        """The items of one user, oldest first."""
        return self.items[self.indptr[row]:self.indptr[row + 1]]

    def owners(self) -> np.ndarray:
        """The user row of every event."""
        return np.repeat(np.arange(len(self)), self.lengths())

    def take(self, rows: np.ndarray | slice) -> "Sequences":
        """The sequences of some users (positions or a slice), in that order."""
        rows = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows, dtype=np.int64)
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        lengths = stops - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if not len(rows) or not lengths.sum():
            return Sequences(indptr, np.zeros(0, dtype=np.int64))
        offsets = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return Sequences(indptr, self.items[offsets])

    def append(self, other: "Sequences") -> "Sequences":
        return Sequences(np.concatenate([self.indptr, other.indptr[1:] + self.indptr[-1]]),
                         np.concatenate([self.items, other.items]))

    def extended(self, rows: np.ndarray, other: "Sequences") -> "Sequences":
        """A copy where user ``rows[j]`` gains ``other``'s user ``j``'s events after its own (order kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        users = np.concatenate([self.owners(), rows[other.owners()]])
        later = np.concatenate([np.zeros(len(self.items), np.int8), np.ones(len(other.items), np.int8)])
        return Sequences.from_events(users, np.concatenate([self.items, other.items]), len(self), later)

    def keep_events(self, live: np.ndarray) -> "Sequences":
        """Only the events where the mask ``live`` (one entry per event) is True, order kept."""
        counts = np.bincount(self.owners()[live], minlength=len(self))
        return Sequences(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), self.items[live])

    def keep_items(self, keep: np.ndarray) -> "Sequences":
        """Drop the events of items where ``keep`` is False and renumber the others' inner ids."""
        kept = self.keep_events(keep[self.items])
        return Sequences(kept.indptr, (np.cumsum(keep) - 1)[kept.items])

    def last(self, n: int) -> np.ndarray:
        """The last ``n`` events of every user, right-aligned, ``-1`` where a user has fewer."""
        out = np.full((len(self), n), -1, dtype=np.int64)
        lengths = self.lengths()
        take = np.minimum(lengths, n)
        rows = np.repeat(np.arange(len(self)), take)
        within = np.arange(take.sum()) - np.repeat(np.cumsum(take) - take, take)
        source = np.repeat(self.indptr[1:] - take, take) + within
        out[rows, n - np.repeat(take, take) + within] = self.items[source]
        return out


def order_codes(frame: pd.DataFrame, column: str | None, name: str, missing: str = "raise") -> np.ndarray | None:
    """Sortable codes of ``frame[column]`` (None when the column is absent).

    Missing values raise (``missing="raise"``), or sort after every known time
    (``missing="last"``, with a warning: only order-aware components read the order).
    """
    if column is None or column not in frame.columns:
        return None
    try:
        codes, _ = pd.factorize(frame[column], sort=True)
    except TypeError:
        raise ValueError(f"{name}[{column!r}] must hold values of one sortable type.") from None
    if (codes < 0).any():
        rows = np.flatnonzero(codes < 0)
        if missing == "raise":
            raise ValueError(f"{name}[{column!r}] is missing at rows {preview(rows.tolist())}; every event needs a "
                             "time (or drop the column to order events by row).")
        # the caller can act on it (fill the times, or drop the column): a UserWarning, by the README's rule
        warnings.warn(f"{name}[{column!r}] is missing at {len(rows)} rows; those events are ordered after the "
                      "timed ones.", UserWarning, stacklevel=4)
        codes = np.where(codes < 0, codes.max(initial=-1) + 1, codes)
    return codes
