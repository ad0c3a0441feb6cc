"""InteractionData: raw ids <-> inner indices, the users x items matrix, user texts and the item catalogue.

Everything outside the library speaks raw ids (any hashable: ints, strings, tuples); everything
inside speaks inner indices ``0..n-1``. This module is the only place that converts between them.
Named dense blocks (text embeddings, image vectors, encoded columns) ride along, one row per
item (user), and stay aligned as items and users are added and removed. Everything per item
lives in one :class:`~hybridrec.catalogue.Catalogue` (``data.catalogue``); ``item_ids``,
``item_domain``, ``domains``, ``item_texts`` and ``item_blocks`` read from it. The copies with
users, items or events changed come from :mod:`hybridrec._data_changes`.
"""
from __future__ import annotations

import logging
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._data_changes import DataChanges
from ._frozen import read_only
from .catalogue import Catalogue
from ._ids import as_index, id_list
from ._frames import (check_interactions, event_weights, interaction_matrix, item_table, unique_ids,
                      unknown_items_error, user_table)
from ._validation import check_choice, preview
from .modalities import align_block
from .sequences import Sequences, order_codes

logger = logging.getLogger(__name__)

class InteractionData(DataChanges):
    """Users x items interactions with id maps, item domains and item/user texts.

    Build it with :meth:`from_frames`. Raw ids map to inner indices with :meth:`user_index`
    and :meth:`item_index`, and back with ``user_ids[idx]`` / ``item_ids[idx]``.

    Parameters
    ----------
    user_ids, item_ids : pandas.Index
        Raw ids in inner-index order (unique).
    matrix : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Interaction weights (float32, non-negative).
    item_domain : ndarray of int
        Domain code of every item, an index into ``domains``.
    domains : list of str
        Domain names.
    item_texts : list of str
        One text per item (empty string when missing).
    user_texts : list of str, optional
        One text per user (empty string when missing), or None when no user texts were given.
    item_blocks, user_blocks : dict of str -> ndarray, optional
        Named dense blocks, one row per item (user). The recommender adds ``"text"`` (the
        text embeddings) when a component reads text.
    sequences : Sequences, optional
        Every user's events in order (repeats kept); default: none.

    Attributes
    ----------
    catalogue : Catalogue
        The items: ids, domains, texts, blocks and (once a recommender is fitted) its priors.
        ``item_ids``, ``item_domain``, ``domains``, ``item_texts`` and ``item_blocks`` are
        read-only views of it.
    """

    def __init__(
        self,
        user_ids: pd.Index,
        item_ids: pd.Index,
        matrix: sp.csr_matrix,
        item_domain: np.ndarray,
        domains: list[str],
        item_texts: list[str],
        user_texts: list[str] | None = None,
        item_blocks: Mapping[str, np.ndarray] | None = None,
        user_blocks: Mapping[str, np.ndarray] | None = None,
        sequences: Sequences | None = None,
    ) -> None:
        self.user_ids = user_ids
        self.catalogue = Catalogue(item_ids, item_domain, domains, item_texts, item_blocks)
        self.matrix = matrix
        self.user_texts = user_texts
        self.user_blocks = dict(user_blocks or {})
        self.sequences = Sequences.empty(len(user_ids)) if sequences is None else sequences

    def __setstate__(self, state: dict) -> None:
        if "item_ids" in state:  # saved before the catalogue held the items
            state = dict(state)
            state["catalogue"] = Catalogue(state.pop("item_ids"), state.pop("item_domain"), state.pop("domains"),
                                           state.pop("item_texts"), state.pop("item_blocks", None))
        self.__dict__.update(state)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
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
    ) -> "InteractionData":
        """Build from pandas DataFrames.

        Parameters
        ----------
        interactions : DataFrame
            One row per event with ``user_col`` and ``item_col``; ``weight_col`` and
            ``timestamp_col`` are optional. Other columns are ignored.
        items : DataFrame, optional
            The catalogue: ``item_col``, the text column(s) and, for several domains,
            ``domain_col``. Items listed here but never interacted with are kept (they are
            cold items, scorable from their text). Every interacted item must be listed.
        users : DataFrame, optional
            ``user_col`` and the user text column(s). Users listed here without interactions
            are kept (cold users, known by their text).
        user_col, item_col, weight_col, domain_col : str
            Column names.
        text_col, user_text_col : str or list of str
            Text column(s) of ``items`` and ``users``; several columns are joined with ". ".
            Missing text counts as empty.
        duplicates : {"sum", "max"}
            How repeated (user, item) rows combine: their weights are summed (repeat events add
            confidence) or the largest is kept.
        item_vectors, user_vectors : dict of str -> vectors, optional
            Named dense blocks keyed by item (user) id: a DataFrame (with the id column, or
            indexed by id), a Series or dict of id -> vector, or an array with one row per row
            of ``items`` (``users``). Ids without a vector get a zero row; see
            :func:`hybridrec.modalities.align_block`.
        timestamp_col : str or None, default="timestamp"
            Column that orders each user's events (any sortable type; events with a missing
            time come after the timed ones, with a warning). When the column is absent (or
            None), row order counts. The order is kept in ``sequences``; the matrix does not
            depend on it.

        Returns
        -------
        InteractionData
        """
        check_choice(duplicates, "duplicates", ["sum", "max"], "InteractionData.from_frames")
        interactions = check_interactions(interactions, user_col, item_col)
        weights = event_weights(interactions, weight_col)

        item_ids, item_domain, domains, item_texts = item_table(
            unique_ids(interactions[item_col]) if items is None else None, items, item_col, text_col, domain_col
        )
        user_ids, user_texts = user_table(unique_ids(interactions[user_col]), users, user_col, user_text_col)

        rows = user_ids.get_indexer(as_index(interactions[user_col].to_numpy()))
        cols = item_ids.get_indexer(as_index(interactions[item_col].to_numpy()))
        unknown = cols < 0
        if unknown.any():
            raise unknown_items_error(pd.unique(interactions[item_col].to_numpy()[unknown]))
        keep = weights > 0
        if not keep.all():
            logger.info("Dropping %d interactions with weight 0.", int((~keep).sum()))
        matrix = interaction_matrix(rows[keep], cols[keep], weights[keep], (len(user_ids), len(item_ids)), duplicates)
        key = order_codes(interactions, timestamp_col, "interactions", missing="last")
        sequences = Sequences.from_events(rows[keep], cols[keep], len(user_ids), None if key is None else key[keep])
        logger.info(
            "InteractionData: %d users, %d items, %d interactions, domains %s",
            matrix.shape[0], matrix.shape[1], matrix.nnz, domains,
        )
        data = cls(user_ids, item_ids, matrix, item_domain, domains, item_texts, user_texts, sequences=sequences)
        return data._attach_blocks(item_vectors, user_vectors, items, users, item_col, user_col)

    @classmethod
    def from_codes(
        cls,
        rows: np.ndarray,
        cols: np.ndarray,
        weights: np.ndarray,
        user_ids: pd.Index,
        item_ids: pd.Index | None = None,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        *,
        order: np.ndarray | None = None,
        user_col: str = "user_id",
        item_col: str = "item_id",
        text_col: str | Sequence[str] = "text",
        user_text_col: str | Sequence[str] = "text",
        domain_col: str = "domain",
        item_vectors: Mapping[str, Any] | None = None,
        user_vectors: Mapping[str, Any] | None = None,
    ) -> "InteractionData":
        """Build from (user, item) pairs whose ids were already indexed elsewhere (on Spark).

        ``rows`` index ``user_ids`` (every user, the users table's included); ``cols`` index the
        rows of ``items`` (its table order) or, without an items table, ``item_ids``. The pairs
        are unique and their ``weights`` > 0; ``order`` sorts each user's events (optional).
        The other parameters are those of :meth:`from_frames`.
        """
        item_ids, item_domain, domains, item_texts = item_table(item_ids, items, item_col, text_col, domain_col)
        user_ids, user_texts = user_table(user_ids, users, user_col, user_text_col)
        matrix = interaction_matrix(rows, cols, weights, (len(user_ids), len(item_ids)), "sum")
        sequences = Sequences.from_events(rows, cols, len(user_ids), order)
        data = cls(user_ids, item_ids, matrix, item_domain, domains, item_texts, user_texts, sequences=sequences)
        return data._attach_blocks(item_vectors, user_vectors, items, users, item_col, user_col)

    def _attach_blocks(self, item_vectors: Mapping[str, Any] | None, user_vectors: Mapping[str, Any] | None,
                       items: pd.DataFrame | None, users: pd.DataFrame | None, item_col: str,
                       user_col: str) -> "InteractionData":
        """Align the named vector blocks given to fit with the id maps; return self."""
        item_blocks = dict(self.item_blocks)
        for blocks, specs, ids, table, col, kind in ((item_blocks, item_vectors, self.item_ids, items, item_col, "item"),
                                                     (self.user_blocks, user_vectors, self.user_ids, users, user_col, "user")):
            table_ids = None if table is None else as_index(table[col].to_numpy())
            for name, value in (specs or {}).items():
                blocks[name] = align_block(name, value, ids, kind=kind, id_col=col, table_ids=table_ids)
        self.catalogue = self.catalogue.with_blocks(item_blocks)
        return self

    # ------------------------------------------------------------------ the items, read from the catalogue
    @property
    def item_ids(self) -> pd.Index:
        """Raw item ids in inner-index order."""
        return self.catalogue.ids

    @property
    def item_domain(self) -> np.ndarray:
        """Domain code of every item (read-only)."""
        return self.catalogue.domain

    @property
    def domains(self) -> list[str]:
        """Domain names."""
        return self.catalogue.domains

    @property
    def item_texts(self) -> list[str]:
        """One text per item (empty string when missing)."""
        return self.catalogue.texts

    @property
    def item_blocks(self) -> Mapping[str, np.ndarray]:
        """Named dense item blocks (a read-only mapping)."""
        return self.catalogue.blocks

    # ------------------------------------------------------------------ lookups
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_index(self, ids: Iterable[Hashable], missing: str = "raise") -> np.ndarray:
        """Inner indices of raw user ids; unknown ids raise, or map to -1 with ``missing="ignore"``.

        Parameters
        ----------
        ids : hashable or iterable of hashable
            Raw user ids (a str or tuple is one id).
        missing : {"raise", "ignore"}, default="raise"
            What an unknown id does: raise ``ValueError``, or map to -1.

        Returns
        -------
        ndarray of int64
            One inner index per id, in order.
        """
        return self._lookup(self.user_ids, ids, "user", missing)

    def item_index(self, ids: Iterable[Hashable], missing: str = "raise") -> np.ndarray:
        """Inner indices of raw item ids; unknown ids raise, or map to -1 with ``missing="ignore"``.

        Parameters
        ----------
        ids : hashable or iterable of hashable
            Raw item ids (a str or tuple is one id).
        missing : {"raise", "ignore"}, default="raise"
            What an unknown id does: raise ``ValueError``, or map to -1.

        Returns
        -------
        ndarray of int64
            One inner index per id, in order.
        """
        return self._lookup(self.item_ids, ids, "item", missing)

    @staticmethod
    def _lookup(index: pd.Index, ids: Iterable[Hashable], kind: str, missing: str) -> np.ndarray:
        values = as_index(ids if isinstance(ids, (pd.Index, np.ndarray)) else id_list(ids))
        idx = index.get_indexer(values)
        if missing == "raise" and (idx < 0).any():
            unknown = list(values[idx < 0])
            raise ValueError(f"Unknown {kind} ids {preview(unknown)}: they were not in the data the model was fitted on.")
        return idx.astype(np.int64)

    def domain_code(self, domain: str) -> int:
        """Index of a domain name; raises ``ValueError`` listing the known domains.

        Parameters
        ----------
        domain : str
            A domain name.

        Returns
        -------
        int
            Its position in ``domains`` (the code ``item_domain`` holds).
        """
        if domain not in self.domains:
            raise ValueError(f"Unknown domain {domain!r}. Known domains: {self.domains}.")
        return self.domains.index(domain)

    def items_in_domain(self, code: int) -> np.ndarray:
        """Inner indices of the items of domain ``code``.

        Parameters
        ----------
        code : int
            A domain code (see :meth:`domain_code`).

        Returns
        -------
        ndarray of int
            Sorted inner item indices.
        """
        return np.flatnonzero(self.item_domain == code)

    # ------------------------------------------------------------------ read-only, growth
    def freeze(self) -> "InteractionData":
        """Make the matrix and every block read-only, so no in-place write can change them; return self.

        A fitted model's data is frozen: components read it at scoring time, so a component
        that needs a changed copy must build one (see ``TrainingData.binary``).
        """
        read_only(self.matrix)
        self.catalogue.freeze()
        for block in self.user_blocks.values():
            read_only(block)
        return self

    def __repr__(self) -> str:
        blocks = f", item_blocks={sorted(self.item_blocks)}" if self.item_blocks else ""
        return (
            f"InteractionData(n_users={self.n_users}, n_items={self.n_items}, "
            f"n_interactions={self.matrix.nnz}, domains={self.domains}{blocks})"
        )
