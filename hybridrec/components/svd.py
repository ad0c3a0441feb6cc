"""PureSVD component: a truncated SVD of the interaction matrix (Cremonesi et al., RecSys 2010)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from .._validation import check_positive_int
from .base import TEXT, Component, TrainingData, UserBatch
from .catalogue import CatalogueMap
from .textmaps import TextMappedItemFactors, fit_item_text_map


class PureSVDComponent(TextMappedItemFactors, Component):
    """Score ``history @ V @ V[items].T`` with ``V`` the top right singular vectors of the matrix.

    A user is the projection of their (cross-domain weighted) history, so new users fold in
    for free. Items added from text get singular vectors from a ridge map learned on warm items.

    Parameters
    ----------
    factors : int, default=64
        Singular vectors kept.
    random_state : int or None, default=None
        Seed of the randomized SVD; ``None`` takes the recommender's ``random_state``.
    """

    name = "svd"
    default_weight = 1.0
    can_retrieve = True

    def __init__(self, factors: int = 64, random_state: int | None = None) -> None:
        self.factors = factors
        self.random_state = random_state

    def check_params(self) -> None:
        check_positive_int(self.factors, "factors", "PureSVDComponent")

    def fit(self, data: TrainingData) -> "PureSVDComponent":
        self.check_params()
        factors = int(self.factors)
        X = sp.csr_matrix(data.matrix, dtype=np.float32)
        X.data[:] = 1.0
        k = min(factors, min(X.shape) - 1)
        seed = self.random_state if self.random_state is not None else data.random_state
        _, _, vt = randomized_svd(X, n_components=k, n_iter=5, random_state=seed)
        self.item_factors_ = np.ascontiguousarray(vt.T, dtype=np.float32)
        self.catalogue_ = CatalogueMap(X.shape[1])
        self.text_map_ = fit_item_text_map(X, data.item_blocks.get(TEXT), self.item_factors_, 10.0)
        self._place_cold_items(data)
        self.trained_factors_ = self.item_factors_.copy()
        return self

    def user_state(self, users: UserBatch) -> np.ndarray:
        return np.asarray(self.catalogue_.to_trained(users.weighted_history()) @ self.trained_factors_, dtype=np.float32)

    def score(self, state: np.ndarray, items: np.ndarray) -> np.ndarray:
        return state @ self.item_factors_[items].T

    def user_vectors(self, state: np.ndarray) -> np.ndarray:
        return state

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        return self.item_factors_[items]

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        hist = users.history.indices
        weights = users.history_weights()
        trained = self.catalogue_.trained_index[hist]
        out = np.zeros(len(hist), dtype=np.float32)
        live = trained >= 0
        out[live] = weights[live] * (self.trained_factors_[trained[live]] @ self.item_factors_[item])
        return out
