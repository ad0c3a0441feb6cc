"""The recommender's per-item state beside its training data, with one owner: :class:`Catalogue`.

A fitted :class:`~hybridrec.HybridRecommender` keeps three arrays over its catalogue that the
training data does not hold: each item's popularity (the tie-break), whether it is a reference
item (per-user normalisation is fitted on those, so items added later never move existing
scores), and whether it is held out of recommendation lists (``screen_texts="hold"``,
``hold_items``). They used to be three attributes kept in step by hand wherever items changed.
Here they are one immutable value: its arrays are read-only, and every change
(:meth:`Catalogue.appended`, :meth:`Catalogue.kept`, :meth:`Catalogue.holding`) returns a new
catalogue, so an item edit builds the new one first and swaps it in with one assignment.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["Catalogue", "item_popularity", "legacy_catalogue"]


def item_popularity(matrix: sp.spmatrix) -> np.ndarray:
    """log(1 + interaction count) per item (column of ``matrix``), scaled to [0, 1]."""
    counts = np.log1p(np.diff(sp.csc_matrix(matrix).indptr)).astype(np.float32)
    return counts / max(float(counts.max(initial=0)), 1.0)


def _frozen(values: Any, dtype: type) -> np.ndarray:
    out = np.array(values, dtype=dtype, copy=True).reshape(-1)
    out.setflags(write=False)
    return out


class Catalogue:
    """Per-item state of a fitted recommender: popularity, reference items and held items.

    Parameters
    ----------
    popularity : array of float, shape (n_items,)
        The popularity prior in [0, 1] that breaks exact ties (:func:`item_popularity`).
    reference : array of bool, shape (n_items,)
        Items the per-user score normalisation is computed over (those the model was fitted on).
    held : array of bool, shape (n_items,)
        Items kept out of recommendation lists.

    Notes
    -----
    The arrays are copied and made read-only, so nothing can change a catalogue in place.
    """

    def __init__(self, popularity: Any, reference: Any, held: Any) -> None:
        self.popularity = _frozen(popularity, np.float32)
        self.reference = _frozen(reference, bool)
        self.held = _frozen(held, bool)
        sizes = {len(self.popularity), len(self.reference), len(self.held)}
        if len(sizes) != 1:
            raise ValueError(f"A Catalogue needs arrays of one length; got popularity {len(self.popularity)}, "
                             f"reference {len(self.reference)}, held {len(self.held)}.")

    @classmethod
    def fitted(cls, matrix: sp.spmatrix, held: np.ndarray | None = None) -> "Catalogue":
        """The catalogue of a model fitted on ``matrix`` (users x items): every item is a reference item."""
        n_items = matrix.shape[1]
        return cls(item_popularity(matrix), np.ones(n_items, bool),
                   np.zeros(n_items, bool) if held is None else held)

    def __len__(self) -> int:
        return len(self.popularity)

    def __repr__(self) -> str:
        return f"Catalogue(n_items={len(self)}, reference={int(self.reference.sum())}, held={int(self.held.sum())})"

    def appended(self, held: np.ndarray) -> "Catalogue":
        """A new catalogue with ``len(held)`` items added at the end: no popularity, not reference items."""
        n_new = len(held)
        return Catalogue(np.concatenate([self.popularity, np.zeros(n_new, np.float32)]),
                         np.concatenate([self.reference, np.zeros(n_new, bool)]),
                         np.concatenate([self.held, np.asarray(held, bool)]))

    def kept(self, keep: np.ndarray) -> "Catalogue":
        """A new catalogue of the items where the boolean mask ``keep`` is True."""
        keep = np.asarray(keep, bool)
        if len(keep) != len(self):
            raise ValueError(f"kept needs a mask over the {len(self)} items; got {len(keep)} values.")
        return Catalogue(self.popularity[keep], self.reference[keep], self.held[keep])

    def holding(self, items: np.ndarray, hold: bool) -> "Catalogue":
        """A new catalogue where the items at positions ``items`` are held (``hold=True``) or released."""
        held = self.held.copy()
        held[np.asarray(items, np.int64)] = hold
        return Catalogue(self.popularity, self.reference, held)

    def held_positions(self, items: np.ndarray) -> np.ndarray:
        """Positions in ``items`` (catalogue positions) of the held ones."""
        return np.flatnonzero(self.held[items])

    def never_ranked(self, seen: sp.csr_matrix | None, items: np.ndarray, n_users: int) -> sp.csr_matrix | None:
        """``seen`` (users x positions in ``items``, or None) with the held items' columns marked for every user."""
        held = self.held_positions(items)
        if len(held) == 0:
            return seen
        mask = sp.csr_matrix((np.ones(n_users * len(held), dtype=np.float32),
                              (np.repeat(np.arange(n_users), len(held)), np.tile(held, n_users))),
                             shape=(n_users, len(items)))
        return mask if seen is None else ((seen != 0) + mask).astype(np.float32).tocsr()

    def __getstate__(self) -> dict:
        return {"popularity": self.popularity, "reference": self.reference, "held": self.held}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["popularity"], state["reference"], state["held"])  # type: ignore[misc]


def legacy_catalogue(state: dict) -> dict:
    """A saved recommender's state with its per-item arrays as one ``catalogue_``.

    Models saved before :class:`Catalogue` existed hold ``item_popularity_``,
    ``reference_items_`` and (since the text screen) ``held_items_``; a model without the
    last holds nothing. Other states are returned as they are.
    """
    if "catalogue_" in state or "item_popularity_" not in state:
        return state
    state = dict(state)
    popularity, reference = state.pop("item_popularity_"), state.pop("reference_items_")
    held = state.pop("held_items_", None)
    state["catalogue_"] = Catalogue(popularity, reference, np.zeros(len(popularity), bool) if held is None else held)
    return state
