"""The one small interface every scorer implements.

A component is fitted once on :class:`TrainingData`. At recommendation time it turns a
:class:`UserBatch` (histories, cross-domain item weights, user texts) into a user state, and
scores that state against a block of items. Every component therefore folds in new users for
free: a user is described by what they did and wrote, never by a row id the model memorised.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """What components are fitted on; inner indices throughout.

    Attributes
    ----------
    matrix : csr_matrix of shape (n_users, n_items)
        Interaction weights.
    item_embeddings : ndarray of shape (n_items, dim)
        L2-normalised item text embeddings (zero rows for items without text).
    user_embeddings : ndarray of shape (n_users, dim) or None
        User text embeddings, when users have text.
    item_domain : ndarray of int
        Domain code per item.
    random_state : int or None
        Seed for the component's own randomness.
    show_progress : bool
        Whether to draw progress bars.
    """

    matrix: sp.csr_matrix
    item_embeddings: np.ndarray | None
    user_embeddings: np.ndarray | None
    item_domain: np.ndarray
    random_state: int | None = None
    show_progress: bool = False


@dataclass
class UserBatch:
    """Users to score, described by what every component can use.

    Attributes
    ----------
    history : csr_matrix of shape (n_users, n_items)
        Raw interaction weights over the current catalogue.
    item_weights : ndarray of shape (n_items,) or None
        Cross-domain weight of each history item for the target domain (1 for the target
        domain's items, ``cross_domain_weight`` for the others). None means all ones.
    text_embeddings : ndarray of shape (n_users, dim) or None
        User text embeddings (zero rows for users without text).
    """

    history: sp.csr_matrix
    item_weights: np.ndarray | None = None
    text_embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return self.history.shape[0]

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
        """
        weighted = self.weighted_history()
        out = weighted @ item_matrix
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        mass = self.mass()
        if self.item_weights is not None:
            same = np.asarray(self.history @ (self.item_weights >= 1).astype(np.float32)).reshape(-1, 1)
            mass = np.where(same > 0, np.asarray(weighted.sum(axis=1)).reshape(-1, 1), mass)
        return np.divide(out, mass, out=np.zeros_like(out, dtype=np.float32), where=mass > 0).astype(np.float32)


class Component(BaseEstimator):
    """Base class of the scorers blended by :class:`~hybridrec.HybridRecommender`.

    Subclasses implement :meth:`fit`, :meth:`user_state` and :meth:`score`, and may implement
    :meth:`add_items` / :meth:`remove_items` (new items from text) and
    :meth:`history_contributions` (explanations).
    """

    #: Key of the component in ``HybridRecommender.weights``.
    name: ClassVar[str] = "component"
    #: Whether fitting needs item text embeddings.
    uses_text: ClassVar[bool] = False

    def check_params(self) -> None:
        """Validate the parameters; called by fit, and by the recommender before any encoding."""

    def fit(self, data: TrainingData) -> "Component":  # pragma: no cover - interface
        raise NotImplementedError

    def user_state(self, users: UserBatch) -> Any:  # pragma: no cover - interface
        """Whatever :meth:`score` needs about a batch of users (usually an array of vectors)."""
        raise NotImplementedError

    def score(self, state: Any, items: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Raw scores of shape ``(n_users, len(items))`` (float32)."""
        raise NotImplementedError

    def knows(self, items: np.ndarray) -> np.ndarray:
        """Which of ``items`` this component can score (False for items it has no signal for).

        The recommender sets a component's normalised score of unknown items to 0, the
        neutral value, so an item added from text is not pushed down by a component that
        knows nothing about it.
        """
        return np.ones(len(items), dtype=bool)

    def add_items(self, embeddings: np.ndarray, domains: np.ndarray) -> None:
        """Make appended items scorable from their text embeddings alone (no refit)."""
        raise NotImplementedError(f"{type(self).__name__} cannot add items without refitting.")

    def remove_items(self, keep: np.ndarray) -> None:
        """Drop items from the catalogue; ``keep`` is a boolean mask over the current items."""
        raise NotImplementedError(f"{type(self).__name__} cannot remove items without refitting.")

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Share of the raw score of ``item`` owed to each history item of a one-user batch.

        Returns an array aligned with ``users.history.indices`` (the user's history items).
        """
        return np.zeros(users.history.nnz, dtype=np.float32)


class TrainedItemsOnly:
    """Mixin for item-item components: they know only items they learned something about.

    Items added later, and items that had no usable interactions in training (cold items),
    get no neighbours: ``knows`` is False for them, so the blend defers to the other
    components. Removed items leave the catalogue, not the trained basis. Expects
    ``catalogue_`` and ``observed_``, a mask over the trained items.
    """

    catalogue_: "CatalogueMap"
    observed_: np.ndarray

    def knows(self, items: np.ndarray) -> np.ndarray:
        trained = self.catalogue_.trained_index[items]
        return (trained >= 0) & self.observed_[np.maximum(trained, 0)]

    def add_items(self, embeddings: np.ndarray, domains: np.ndarray) -> None:
        self.catalogue_.add(len(embeddings))

    def remove_items(self, keep: np.ndarray) -> None:
        self.catalogue_.remove(keep)


class ItemTextEmbeddings:
    """Mixin for components that score items by their text embeddings (``item_embeddings_``).

    ``fit`` keeps the (unit-length) item embeddings; added items bring theirs, removed items
    leave. Subclasses call :meth:`_keep_item_embeddings` from ``fit``.
    """

    item_embeddings_: np.ndarray

    def _keep_item_embeddings(self, data: "TrainingData") -> None:
        if data.item_embeddings is None:
            raise ValueError(f"{type(self).__name__} needs item text; pass an items table with a text column.")
        self.item_embeddings_ = np.asarray(data.item_embeddings, dtype=np.float32)

    def add_items(self, embeddings: np.ndarray, domains: np.ndarray) -> None:
        self.item_embeddings_ = np.vstack([self.item_embeddings_, embeddings.astype(np.float32)])

    def remove_items(self, keep: np.ndarray) -> None:
        self.item_embeddings_ = self.item_embeddings_[keep]


class TextMappedItemFactors:
    """Mixin for factor components: items without interactions get factors from their text.

    Expects ``item_factors_`` (current catalogue), ``catalogue_`` and ``text_map_`` (from
    :func:`fit_item_text_map`, or None without text: such items then get zero factors). Call
    :meth:`_place_cold_items` at the end of fit for catalogue items nobody interacted with.
    """

    item_factors_: np.ndarray
    catalogue_: "CatalogueMap"
    text_map_: np.ndarray | None

    def _text_factors(self, embeddings: np.ndarray) -> np.ndarray:
        new = np.zeros((len(embeddings), self.item_factors_.shape[1]), dtype=np.float32)
        if self.text_map_ is not None:
            new = apply_ridge(self.text_map_, embeddings)
            new[np.abs(embeddings).sum(axis=1) == 0] = 0  # no text, no placement
        return new

    def _place_cold_items(self, data: "TrainingData") -> None:
        """Catalogue items with no interactions in training take their factors from their text."""
        cold = np.diff(data.matrix.tocsc().indptr) == 0
        if cold.any() and data.item_embeddings is not None and self.text_map_ is not None:
            self.item_factors_[cold] = self._text_factors(data.item_embeddings[cold])

    def add_items(self, embeddings: np.ndarray, domains: np.ndarray) -> None:
        self.item_factors_ = np.vstack([self.item_factors_, self._text_factors(embeddings)])
        self.catalogue_.add(len(embeddings))

    def remove_items(self, keep: np.ndarray) -> None:
        self.item_factors_ = self.item_factors_[keep]
        self.catalogue_.remove(keep)


class CatalogueMap:
    """Maps current catalogue columns to the items a component was trained on.

    Items added after fitting map to -1; removed items disappear from the catalogue but stay in
    the trained basis, so warm users' scores never move when the catalogue changes.
    """

    def __init__(self, n_items: int) -> None:
        self.trained_index = np.arange(n_items, dtype=np.int64)
        self.n_trained = n_items
        self._projection: sp.csr_matrix | None = None

    def add(self, n_new: int) -> None:
        self.trained_index = np.concatenate([self.trained_index, np.full(n_new, -1, dtype=np.int64)])
        self._projection = None

    def remove(self, keep: np.ndarray) -> None:
        self.trained_index = self.trained_index[keep]
        self._projection = None

    @property
    def projection(self) -> sp.csr_matrix:
        """Sparse (n_catalogue, n_trained) 0/1 matrix: ``history @ projection`` = trained columns."""
        if self._projection is None:
            rows = np.flatnonzero(self.trained_index >= 0)
            cols = self.trained_index[rows]
            data = np.ones(len(rows), dtype=np.float32)
            self._projection = sp.csr_matrix((data, (rows, cols)), shape=(len(self.trained_index), self.n_trained))
        return self._projection

    def to_trained(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Columns of ``matrix`` (over the catalogue) re-indexed to the trained items."""
        out = sp.csr_matrix(matrix @ self.projection, dtype=np.float32)
        out.eliminate_zeros()
        out.sort_indices()
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_projection"] = None
        return state


def fit_ridge(X: np.ndarray, Y: np.ndarray, alpha: float) -> np.ndarray:
    """Closed-form ridge regression with an intercept; returns ``W`` with ``[X, 1] @ W ~ Y``."""
    Xb = np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)]).astype(np.float64)
    gram = Xb.T @ Xb
    gram[np.diag_indices_from(gram)] += alpha
    gram[-1, -1] -= alpha  # do not shrink the intercept
    return np.linalg.solve(gram, Xb.T @ Y.astype(np.float64)).astype(np.float32)


def apply_ridge(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Predict with a matrix from :func:`fit_ridge`."""
    return (X @ W[:-1] + W[-1]).astype(np.float32)


def fit_item_text_map(matrix: sp.csr_matrix, item_embeddings: np.ndarray | None, item_factors: np.ndarray, alpha: float) -> np.ndarray | None:
    """Ridge map from item text embeddings to item factors, learned on well-observed items.

    Items with at least 5 interactions teach it (all interacted items when fewer than 10
    qualify). Returns None without text or with fewer than 2 usable items.
    """
    if item_embeddings is None:
        return None
    counts = np.diff(matrix.tocsc().indptr)
    has_text = np.abs(item_embeddings).sum(axis=1) > 0
    warm = (counts >= 5) & has_text
    if warm.sum() < 10:
        warm = (counts > 0) & has_text
    if warm.sum() < 2:
        return None
    return fit_ridge(item_embeddings[warm], item_factors[warm], alpha)


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X, dtype=np.float32), where=norms > 0).astype(np.float32)


def text_profiles(matrix: sp.csr_matrix, item_embeddings: np.ndarray) -> np.ndarray:
    """Unit-length mean text embedding of every user's history (zero rows for empty histories).

    This is what a text query looks like to the text -> state maps that let collaborative
    components serve users known only by a text.
    """
    return unit_rows(np.asarray(matrix @ item_embeddings, dtype=np.float32))


def fit_text_state_map(profiles: np.ndarray, states: np.ndarray, alpha: float, min_users: int = 10) -> np.ndarray | None:
    """Ridge map from unit text profiles to a component's user states, fitted on users with a profile."""
    has = np.linalg.norm(profiles, axis=1) > 0
    if has.sum() < min_users:
        return None
    return fit_ridge(profiles[has], states[has], alpha)


def text_only_rows(users: UserBatch, history: sp.csr_matrix) -> np.ndarray:
    """Rows with no usable history but a non-empty text: served through a text -> state map."""
    if users.text_embeddings is None:
        return np.zeros(len(users), dtype=bool)
    empty = np.diff(history.indptr) == 0
    return empty & (np.abs(users.text_embeddings).sum(axis=1) > 0)
