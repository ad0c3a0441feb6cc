"""PureSVD component: a truncated SVD of the interaction matrix (Cremonesi et al., RecSys 2010)."""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import svds

from .._validation import check_positive_int
from .base import TEXT, Component, TrainingData, UserBatch
from .catalogue import CatalogueMap
from .textmaps import TextMappedItemFactors, fit_item_text_map


class PureSVDComponent(TextMappedItemFactors, Component):
    """Score ``history @ V @ V[items].T`` with ``V`` the top right singular vectors of the matrix.

    ``V`` is exact: ARPACK's truncated SVD (``scipy.sparse.linalg.svds``) of the binarised
    matrix. (A randomized SVD with 5 power iterations left the subspace poor on Amazon
    Food-Kitchen: NDCG@10 0.0225 against 0.0424 for the exact one.) A user is the projection of
    their (cross-domain weighted) history, so new users fold in for free. Items added from text
    get singular vectors from a ridge map learned on warm items.

    Parameters
    ----------
    factors : int, default=64
        Singular vectors kept.
    random_state : int or None, default=None
        Seed of ARPACK's starting vector; ``None`` takes the recommender's ``random_state`` (0
        when that is None too, so fits are reproducible).
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
        X = data.binary()
        k = min(factors, min(X.shape) - 1)
        if k < 1:
            raise ValueError(f"PureSVDComponent needs at least 2 users and 2 items. Got a {X.shape} matrix.")
        seed = self.random_state if self.random_state is not None else data.random_state
        _, values, vt = svds(X, k=k, random_state=0 if seed is None else seed)
        order = np.argsort(-values, kind="stable")
        self.singular_values_ = values[order].astype(np.float32)
        self.item_factors_ = np.ascontiguousarray(vt[order].T, dtype=np.float32)
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
