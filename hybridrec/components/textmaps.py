"""Ridge maps from text to a component's own space, for items and users it never saw.

Collaborative components know items and users only through interactions. Two maps, learned in
fit on the well-observed ones, carry text into their space: text embedding -> item factors
(items added from text, or nobody interacted with) and text profile -> user state (users
known only by a text, such as a query).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
import scipy.sparse as sp

from .base import TEXT

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import TrainingData
    from .catalogue import CatalogueMap


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


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X, dtype=np.float32), where=norms > 0).astype(np.float32)


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


class TextMappedItemFactors:
    """Mixin for factor components: items without interactions get factors from their text.

    Expects ``item_factors_`` (current catalogue), ``catalogue_`` and ``text_map_`` (from
    :func:`fit_item_text_map`, or None without text: such items then get zero factors). Call
    :meth:`_place_cold_items` at the end of fit for catalogue items nobody interacted with.
    """

    item_factors_: np.ndarray
    catalogue_: "CatalogueMap"
    text_map_: np.ndarray | None

    def _text_factors(self, embeddings: np.ndarray | None, n: int) -> np.ndarray:
        new = np.zeros((n, self.item_factors_.shape[1]), dtype=np.float32)
        if self.text_map_ is not None and embeddings is not None:
            new = apply_ridge(self.text_map_, embeddings)
            new[np.abs(embeddings).sum(axis=1) == 0] = 0  # no text, no placement
        return new

    def _place_cold_items(self, data: "TrainingData") -> None:
        """Catalogue items with no interactions in training take their factors from their text."""
        cold = np.diff(data.matrix.tocsc().indptr) == 0
        text = data.item_blocks.get(TEXT)
        if cold.any() and text is not None and self.text_map_ is not None:
            self.item_factors_[cold] = self._text_factors(text[cold], int(cold.sum()))

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        """Append items with factors mapped from their text (zero factors without text or text map).

        Parameters and return value as in :meth:`~hybridrec.components.Component.add_items`. Only the
        ``"text"`` block is read.
        """
        self.item_factors_ = np.vstack([self.item_factors_, self._text_factors(blocks.get(TEXT), len(domains))])
        self.catalogue_ = self.catalogue_.added(len(domains))

    def remove_items(self, keep: np.ndarray) -> None:
        """Drop items' factors from the catalogue; they stay in the trained basis.

        Parameters and return value as in :meth:`~hybridrec.components.Component.remove_items`.
        """
        self.item_factors_ = self.item_factors_[keep]
        self.catalogue_ = self.catalogue_.kept(keep)
