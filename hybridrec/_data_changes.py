"""The copies of :class:`~hybridrec.data.InteractionData` with users, items or events changed.

Mixed into ``InteractionData``: a fitted model's data is frozen and never edited in place, so
every change (``add_items``, ``remove_items``, ``fold_in_users``, ``add_interactions``, the
evaluation splits' held-out events) builds a new object with :meth:`DataChanges._changed`.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._validation import preview
from .catalogue import Catalogue
from .modalities import grow_blocks
from .sequences import Sequences

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .data import InteractionData


class DataChanges:
    """Copy-making methods of :class:`~hybridrec.data.InteractionData`; ``self`` is unchanged by each."""

    catalogue: Catalogue
    matrix: sp.csr_matrix
    sequences: Sequences
    user_ids: pd.Index
    user_texts: list[str] | None
    user_blocks: dict[str, np.ndarray]
    n_users: int
    n_items: int

    def _changed(self, **attributes: Any) -> "InteractionData":
        """A new (frozen) InteractionData with some attributes replaced; self is unchanged."""
        out = copy.copy(self)
        out.__dict__.update(attributes)
        return out.freeze()

    def with_catalogue(self, catalogue: Catalogue) -> "InteractionData":
        """A copy whose items are ``catalogue`` (the same items: only their state may differ).

        Parameters
        ----------
        catalogue : Catalogue
            The new catalogue, of ``n_items`` items; another length raises ``ValueError``.

        Returns
        -------
        InteractionData
            A frozen copy; self is unchanged.
        """
        if len(catalogue) != self.n_items:
            raise ValueError(f"with_catalogue needs a catalogue of the {self.n_items} items; got {len(catalogue)}.")
        return self._changed(catalogue=catalogue)

    def appended_items(self, item_ids: pd.Index, domains: Sequence[str], texts: list[str],
                       blocks: Mapping[str, np.ndarray] | None = None,
                       held: np.ndarray | None = None) -> "InteractionData":
        """A copy with new items (no interactions) appended; see :meth:`Catalogue.appended`.

        Parameters
        ----------
        item_ids : pandas.Index
            The new items' ids; an id already stored raises ``ValueError``.
        domains : list of str
            Each new item's domain name (new names are added).
        texts : list of str
            Each new item's text.
        blocks : dict of str -> ndarray, optional
            The new items' rows of the item blocks; a block they lack gets zero rows.
        held : array of bool, optional
            Which new items are kept out of recommendation lists; default none.

        Returns
        -------
        InteractionData
            A frozen copy; self is unchanged.
        """
        padding = sp.csr_matrix((self.n_users, len(item_ids)), dtype=np.float32)
        return self._changed(catalogue=self.catalogue.appended(item_ids, domains, texts, blocks, held),
                             matrix=sp.hstack([self.matrix, padding]).tocsr())

    def kept_items(self, keep: np.ndarray) -> "InteractionData":
        """A copy without the items where the boolean mask ``keep`` is False (their interactions go too).

        Parameters
        ----------
        keep : array of bool of shape (n_items,)
            True for the items kept; the kept ones are renumbered in order.

        Returns
        -------
        InteractionData
            A frozen copy; self is unchanged.
        """
        return self._changed(
            catalogue=self.catalogue.kept(keep),
            matrix=self.matrix[:, np.flatnonzero(keep)].tocsr(),
            sequences=self.sequences.keep_items(keep),
        )

    def appended_users(self, user_ids: pd.Index, matrix: sp.csr_matrix, texts: list[str] | None,
                       blocks: Mapping[str, np.ndarray] | None = None,
                       sequences: Sequences | None = None) -> "InteractionData":
        """A copy with new users appended: their interaction rows, texts, blocks and ordered events.

        A block the new users bring that the others lack gets zero rows for the others.

        Parameters
        ----------
        user_ids : pandas.Index
            The new users' ids; an id already stored raises ``ValueError``.
        matrix : csr_matrix of shape (len(user_ids), n_items)
            Their interaction weights.
        texts : list of str or None
            One text per new user, or None (empty texts).
        blocks : dict of str -> ndarray, optional
            The new users' rows of the user blocks; a block they lack gets zero rows.
        sequences : Sequences, optional
            Their events in order; default no events.

        Returns
        -------
        InteractionData
            A frozen copy; self is unchanged.
        """
        clash = user_ids.intersection(self.user_ids)
        if len(clash):
            raise ValueError(f"Users {preview(clash)} already exist.")
        start = self.n_users
        user_texts = self.user_texts
        if texts is not None or user_texts is not None:
            old = user_texts if user_texts is not None else [""] * start
            user_texts = list(old) + (list(texts) if texts is not None else [""] * len(user_ids))
        return self._changed(
            user_ids=self.user_ids.append(user_ids), user_texts=user_texts,
            user_blocks=grow_blocks(self.user_blocks, blocks, len(user_ids), "user", start, allow_new=True),
            sequences=self.sequences.append(Sequences.empty(len(user_ids)) if sequences is None else sequences),
            matrix=sp.vstack([self.matrix, matrix.astype(np.float32)]).tocsr(),
        )

    def with_events(self, rows: np.ndarray, matrix: sp.csr_matrix, sequences: Sequences,
                    duplicates: str = "sum") -> "InteractionData":
        """A copy where the users at ``rows`` gain ``matrix``'s interactions and ``sequences``' events.

        A repeated item combines with the stored weight by ``duplicates`` (``"sum"`` or ``"max"``,
        the fitted rule); the new events come after each user's stored ones.

        Parameters
        ----------
        rows : ndarray of int
            Inner indices of the users, one per row of ``matrix``.
        matrix : csr_matrix of shape (len(rows), n_items)
            Their new interaction weights.
        sequences : Sequences
            Their new events in order, one user per row.
        duplicates : {"sum", "max"}, default="sum"
            How a new weight combines with a stored one for the same item.

        Returns
        -------
        InteractionData
            A frozen copy; self is unchanged.
        """
        rows = np.asarray(rows, dtype=np.int64)
        place = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, np.arange(len(rows)))),
                              shape=(self.n_users, len(rows)))
        extra = (place @ matrix.astype(np.float32)).tocsr()
        grown = self.matrix.maximum(extra) if duplicates == "max" else self.matrix + extra
        stored = self.sequences
        ordered = stored.extended(rows, sequences) if len(stored) == self.n_users else stored
        return self._changed(matrix=sp.csr_matrix(grown, dtype=np.float32), sequences=ordered)

    def without_last(self, users: np.ndarray) -> tuple["InteractionData", np.ndarray]:
        """A copy without each of ``users``' last item (its every event), and those items.

        The last item is the user's last event in ``sequences`` (time order, or row order).
        The users keep their other items, so they remain known users with a history.

        Parameters
        ----------
        users : ndarray of int
            Inner user indices; each needs at least one event, else ``ValueError``.

        Returns
        -------
        data : InteractionData
            A frozen copy; self is unchanged.
        items : ndarray of int
            The inner index of each user's last item, aligned with ``users``.
        """
        users = np.asarray(users, dtype=np.int64)
        seq = self.sequences
        if len(users) and (seq.lengths()[users] == 0).any():
            raise ValueError("without_last: every user needs at least one event.")
        last = seq.items[seq.indptr[users + 1] - 1]
        return self.without_pairs(users, last), last

    def without_pairs(self, users: np.ndarray, items: np.ndarray) -> "InteractionData":
        """A copy without every event of the (user, item) pairs ``zip(users, items)`` (row indices).

        Parameters
        ----------
        users : ndarray of int
            Inner user indices.
        items : ndarray of int
            Inner item indices, aligned with ``users``.

        Returns
        -------
        InteractionData
            A frozen copy; self is unchanged.
        """
        seq = self.sequences
        held = sp.csr_matrix((np.ones(len(users), np.float32), (np.asarray(users), np.asarray(items))),
                             shape=self.matrix.shape)
        coo = self.matrix.tocoo()
        keep = np.asarray(held[coo.row, coo.col]).ravel() == 0
        matrix = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=self.matrix.shape)
        live = np.asarray(held[seq.owners(), seq.items]).ravel() == 0
        return self._changed(matrix=matrix, sequences=seq.keep_events(live))
