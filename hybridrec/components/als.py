"""Collaborative component: implicit's alternating least squares."""
from __future__ import annotations

import logging
import numpy as np
from threadpoolctl import threadpool_limits

from .._validation import check_non_negative, check_positive_int
from .base import (
    CatalogueMap,
    Component,
    TrainingData,
    UserBatch,
    TextMappedItemFactors,
    apply_ridge,
    fit_item_text_map,
    fit_text_state_map,
    text_only_rows,
    text_profiles,
    unit_rows,
)

logger = logging.getLogger(__name__)


class ALSComponent(TextMappedItemFactors, Component):
    """Implicit-feedback matrix factorisation with ``implicit.als.AlternatingLeastSquares``.

    User factors are always solved from the user's (cross-domain weighted) history against the
    trained item factors with implicit's exact ``recalculate_user``; warm users, folded-in users
    and cross-domain profiles therefore share one code path. BLAS runs single-threaded inside
    fit and fold-in, as implicit advises (its threads parallelise over users instead).

    Parameters
    ----------
    factors : int, default=64
        Latent dimensions.
    regularization : float, default=0.1
        L2 penalty.
    alpha : float, default=10.0
        Confidence scale: an interaction of weight ``w`` has confidence ``alpha * w``.
    iterations : int, default=15
        ALS sweeps.
    text_ridge : float, default=10.0
        Ridge penalty of the two text maps learned in fit: text embedding -> item factors
        (places items added from text alone) and text profile -> user factors (serves users
        known only by a text, such as a query).
    random_state : int or None, default=None
        Seed; ``None`` takes the recommender's ``random_state``.
    num_threads : int, default=0
        implicit's worker threads (0 = all cores).
    """

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.1,
        alpha: float = 10.0,
        iterations: int = 15,
        text_ridge: float = 10.0,
        random_state: int | None = None,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.text_ridge = text_ridge
        self.random_state = random_state
        self.num_threads = num_threads

    def check_params(self) -> None:
        check_positive_int(self.factors, "factors", "ALSComponent")
        check_positive_int(self.iterations, "iterations", "ALSComponent")
        check_non_negative(self.regularization, "regularization", "ALSComponent")
        check_non_negative(self.text_ridge, "text_ridge", "ALSComponent")
        if check_non_negative(self.alpha, "alpha", "ALSComponent") == 0:
            raise ValueError("The 'alpha' parameter of ALSComponent must be > 0. Got 0 instead.")

    def fit(self, data: TrainingData) -> "ALSComponent":
        from implicit.cpu.als import AlternatingLeastSquares

        self.check_params()
        factors, iterations = int(self.factors), int(self.iterations)
        regularization, alpha = float(self.regularization), float(self.alpha)
        seed = self.random_state if self.random_state is not None else data.random_state
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=factors,
                regularization=regularization,
                alpha=alpha,
                iterations=iterations,
                random_state=seed,
                num_threads=self.num_threads,
            )
            model.fit(data.matrix, show_progress=data.show_progress)
        self.model_ = model
        self.item_factors_ = np.array(model.item_factors, dtype=np.float32)
        self.catalogue_ = CatalogueMap(data.matrix.shape[1])
        self.text_map_ = fit_item_text_map(data.matrix, data.item_embeddings, self.item_factors_, float(self.text_ridge))
        self._place_cold_items(data)
        self.user_text_map_ = None
        if data.item_embeddings is not None:
            profiles = text_profiles(data.matrix, data.item_embeddings)
            self.user_text_map_ = fit_text_state_map(profiles, np.asarray(model.user_factors), float(self.text_ridge))
        return self

    def user_state(self, users: UserBatch) -> np.ndarray:
        history = self.catalogue_.to_trained(users.weighted_history())
        factors = np.zeros((len(users), self.item_factors_.shape[1]), dtype=np.float32)
        if history.nnz:
            with threadpool_limits(1, "blas"):
                solved = self.model_.recalculate_user(np.arange(len(users)), history)
            factors[:] = np.asarray(solved, dtype=np.float32).reshape(len(users), -1)
        text_only = text_only_rows(users, history)
        if text_only.any() and self.user_text_map_ is not None:
            factors[text_only] = apply_ridge(self.user_text_map_, unit_rows(users.text_embeddings[text_only]))
        return factors

    def score(self, state: np.ndarray, items: np.ndarray) -> np.ndarray:
        return state @ self.item_factors_[items].T

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Exact split of the ALS score over the user's history (implicit's ``explain`` algebra).

        With ``x_u = A^-1 sum_h c_h y_h``, the score ``y_i . x_u`` is ``sum_h c_h y_h . A^-1 y_i``.
        """
        out = np.zeros(users.history.nnz, dtype=np.float32)
        history = self.catalogue_.to_trained(users.weighted_history())
        if history.nnz == 0:
            return out
        Y = self.model_.item_factors
        idx = history.indices
        confidence = self.model_.alpha * history.data
        A = self.model_.YtY + self.model_.regularization * np.eye(Y.shape[1], dtype=np.float64)
        A += (Y[idx].T * (confidence - 1)) @ Y[idx]
        shares = (Y[idx] @ np.linalg.solve(A, self.item_factors_[item])) * confidence
        trained = self.catalogue_.trained_index[users.history.indices]
        loc = np.minimum(np.searchsorted(idx, trained), len(idx) - 1)
        hit = (trained >= 0) & (idx[loc] == trained)
        out[hit] = shares[loc[hit]]
        return out
