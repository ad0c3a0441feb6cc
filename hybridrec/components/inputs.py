"""The two data objects a component is given: :class:`TrainingData` at fit, :class:`UserBatch` when scoring."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._frozen import binary
from ..sequences import Sequences

#: Name of the block that holds text embeddings, on items and on users.
TEXT = "text"


@dataclass
class TrainingData:
    """What components are fitted on; inner indices throughout.

    Every parameter is kept as an attribute of the same name.

    Parameters
    ----------
    matrix : csr_matrix of shape (n_users, n_items)
        Interaction weights.
    item_domain : ndarray of int
        Domain code per item.
    item_blocks : dict of str -> ndarray of shape (n_items, dim), default {}
        Named dense item representations: ``"text"`` (L2-normalised text embeddings, zero
        rows for items without text) when a component reads text, plus any block given to
        ``fit(..., item_vectors=...)``.
    user_blocks : dict of str -> ndarray of shape (n_users, dim), default {}
        The same for users (``"text"`` when users have text).
    item_ids, user_ids : pandas.Index or None, default None
        Raw ids in inner order, so a component can align side data of its own.
    sequences : Sequences or None, default None
        Every user's events in order (repeats kept), for components that read order.
    random_state : int or None, default None
        Seed for the component's own randomness.
    show_progress : bool, default False
        Whether to draw progress bars.

    Notes
    -----
    Components never write into ``matrix``: it is the recommender's stored histories, read
    again at scoring time (a fitted model's arrays are read-only). A component that learns from
    0/1 interactions calls :meth:`binary`.
    """

    matrix: sp.csr_matrix
    item_domain: np.ndarray
    item_blocks: Mapping[str, np.ndarray] = field(default_factory=dict)
    user_blocks: Mapping[str, np.ndarray] = field(default_factory=dict)
    item_ids: pd.Index | None = None
    user_ids: pd.Index | None = None
    sequences: Sequences | None = None
    random_state: int | None = None
    show_progress: bool = False
    _binary: sp.csr_matrix | None = field(default=None, init=False, repr=False, compare=False)

    def binary(self) -> sp.csr_matrix:
        """The interactions as 0/1 (a 1 for every (user, item) pair with weight > 0), float32 CSR.

        Built once and shared by the components that ignore weights; read-only.
        """
        if self._binary is None:
            self._binary = binary(self.matrix)
        return self._binary


@dataclass
class UserBatch:
    """Users to score, described by what every component can use.

    Every parameter is kept as an attribute of the same name.

    Parameters
    ----------
    history : csr_matrix of shape (n_users, n_items)
        Raw interaction weights over the current catalogue.
    item_weights : ndarray of shape (n_items,) or None, default None
        Cross-domain weight of each history item for the target domain (1 for the target
        domain's items, ``cross_domain_weight`` for the others). None means all ones.
    blocks : dict of str -> ndarray of shape (n_users, dim), default {}
        User-side blocks; ``"text"`` holds the users' text embeddings (zero rows for users
        without text).
    sequences : Sequences or None, default None
        The same users' events in order (oldest first, repeats kept), when known.
    """

    history: sp.csr_matrix
    item_weights: np.ndarray | None = None
    blocks: Mapping[str, np.ndarray] = field(default_factory=dict)
    sequences: Sequences | None = None

    def __len__(self) -> int:
        return self.history.shape[0]

    @property
    def text_embeddings(self) -> np.ndarray | None:
        """The users' text embeddings, or None when no user has text."""
        return self.blocks.get(TEXT)

    def text_only(self, history: sp.csr_matrix | None = None) -> np.ndarray:
        """Users with no usable history (rows of ``history``, default this batch's) but a non-empty text.

        Such users are served through text maps by the components, and with the query
        weights by the blend.

        Parameters
        ----------
        history : csr_matrix of shape (n_users, n_items), optional
            The rows to test, aligned with this batch's users; default ``self.history``.

        Returns
        -------
        ndarray of bool of shape (n_users,)
            True for the text-only users; all False when the batch has no text embeddings.
        """
        history = self.history if history is None else history
        texts = self.text_embeddings
        if texts is None:
            return np.zeros(history.shape[0], dtype=bool)
        return (np.diff(history.indptr) == 0) & (np.abs(texts).sum(axis=1) > 0)

    def weighted_history(self) -> sp.csr_matrix:
        """History with every column scaled by its cross-domain weight (zeros removed)."""
        if self.item_weights is None:
            return self.history
        weighted = self.history @ sp.diags(self.item_weights.astype(np.float32))
        weighted = sp.csr_matrix(weighted, dtype=np.float32)
        weighted.eliminate_zeros()
        return weighted

    def history_weights(self) -> np.ndarray:
        """Cross-domain weighted value of every stored history entry (aligned with ``history.data``)."""
        if self.item_weights is None:
            return self.history.data.astype(np.float32)
        return (self.history.data * self.item_weights[self.history.indices]).astype(np.float32)

    def mass(self) -> np.ndarray:
        """Total raw history weight per user (before cross-domain weighting), shape (n_users, 1)."""
        return np.asarray(self.history.sum(axis=1), dtype=np.float32)

    def weighted_mean(self, item_matrix: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Cross-domain weighted mean of ``item_matrix`` rows over each user's history.

        A user with history in the target domain gets the weighted mean (so at weight 0 the
        profile is exactly that of their same-domain history). A user with history only in
        other domains gets ``cross_domain_weight`` times the plain mean: the profile shrinks
        towards zero as the weight goes to 0 instead of being rescaled back.

        Parameters
        ----------
        item_matrix : ndarray or sparse matrix of shape (n_items, dim)
            One row per item of the current catalogue.

        Returns
        -------
        ndarray of float32 of shape (n_users, dim)
            Zero rows for users without history.
        """
        weighted = self.weighted_history()
        out = weighted @ item_matrix
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        mass = self.mass()
        if self.item_weights is not None:
            same = np.asarray(self.history @ (self.item_weights >= 1).astype(np.float32)).reshape(-1, 1)
            mass = np.where(same > 0, np.asarray(weighted.sum(axis=1)).reshape(-1, 1), mass)
        return np.divide(out, mass, out=np.zeros_like(out, dtype=np.float32), where=mass > 0).astype(np.float32)
