"""Collaborative component: implicit-feedback ALS, trained by a backend, served by numpy algebra."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import check_choice, check_non_negative, check_positive_int
from .als_backends import ALSParams, backends, get_solver
from .base import TEXT, Component, TrainingData, UserBatch
from .catalogue import CatalogueMap
from .textmaps import TextMappedItemFactors, apply_ridge, fit_item_text_map, fit_text_state_map, text_profiles, unit_rows

def solve_users(history: sp.csr_matrix, Y: np.ndarray, YtY: np.ndarray, regularization: float, alpha: float) -> np.ndarray:
    """Exact least-squares user factors for the histories in ``history`` (rows x trained items).

    With confidence ``c = alpha * weight`` for every history item, a user's factors are
    ``x = A^-1 b`` with ``A = YtY + regularization I + sum_h (c_h - 1) y_h y_h^T`` and
    ``b = sum_h c_h y_h``: the system implicit's ``recalculate_user`` solves, and solved by the
    same multithreaded Cholesky routine. Users with an empty history get zero factors.

    The routine is implicit's ``implicit.cpu._als._least_squares``, a private name, so setup.cfg
    pins ``implicit<0.8`` (the 0.7 series this is tested with).
    """
    from implicit.cpu import _als

    confidence = sp.csr_matrix(history, dtype=np.float32, copy=True)
    confidence.data *= np.float32(alpha)
    confidence.eliminate_zeros()  # a zero confidence would take the negative-feedback branch
    out = np.zeros((history.shape[0], Y.shape[1]), dtype=np.float32)
    if confidence.nnz:
        _als._least_squares(np.ascontiguousarray(YtY, dtype=np.float32), confidence.indptr.astype(np.int32),
                            confidence.indices.astype(np.int32), confidence.data, out,
                            np.ascontiguousarray(Y, dtype=np.float32), float(regularization), num_threads=0)
    return out


class ALSComponent(TextMappedItemFactors, Component):
    """Implicit-feedback matrix factorisation (Hu, Koren and Volinsky 2008).

    A backend trains the factors (``backend="implicit"``: implicit's CPU ALS; ``"implicit-gpu"``:
    its CUDA ALS; more with :func:`hybridrec.components.als_backends.register_backend`). A user's
    factors are then always solved exactly from their (cross-domain weighted) history against
    the trained item factors (:func:`solve_users`), so warm users, new users and cross-domain
    profiles share one code path whatever the backend.

    Parameters
    ----------
    factors : int, default=64
        Latent dimensions.
    regularization : float, default=0.1
        L2 penalty (constant, not scaled by counts).
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
        The backend's worker threads (0 = all cores).
    backend : str, default="implicit"
        Which solver trains the factors (see :func:`~hybridrec.components.als_backends.backends`).

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors)
        The training users' factors as learned in fit.
    item_factors_ : ndarray of shape (n_items, factors)
        Factors of the current catalogue (items nobody interacted with are placed by text).
    """

    user_attributes = ("user_factors_",)

    name = "als"
    scoring_params = ("regularization",)  # new users' factors are solved at scoring time
    default_weight = 1.0
    #: Measured on Amazon Food-Kitchen users known by the titles of 3 items: with the text
    #: profile at 1, ALS through its text -> factor map at 0.5 lifted NDCG@10 from 0.0152 to 0.0247.
    query_weight = 0.5
    can_retrieve = True

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.1,
        alpha: float = 10.0,
        iterations: int = 15,
        text_ridge: float = 10.0,
        random_state: int | None = None,
        num_threads: int = 0,
        backend: str = "implicit",
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.text_ridge = text_ridge
        self.random_state = random_state
        self.num_threads = num_threads
        self.backend = backend

    def check_params(self) -> None:
        check_positive_int(self.factors, "factors", "ALSComponent")
        check_positive_int(self.iterations, "iterations", "ALSComponent")
        check_non_negative(self.regularization, "regularization", "ALSComponent")
        check_non_negative(self.text_ridge, "text_ridge", "ALSComponent")
        check_choice(self.backend, "backend", backends(), "ALSComponent")
        if check_non_negative(self.alpha, "alpha", "ALSComponent") == 0:
            raise ValueError("The 'alpha' parameter of ALSComponent must be > 0. Got 0 instead.")

    def fit(self, data: TrainingData) -> "ALSComponent":
        self.check_params()
        seed = self.random_state if self.random_state is not None else data.random_state
        params = ALSParams(int(self.factors), float(self.regularization), float(self.alpha), int(self.iterations),
                           seed, int(self.num_threads))
        users, items = get_solver(self.backend).fit(data.matrix, params, data.show_progress)
        self.user_factors_ = users
        self.trained_factors_ = items  # the basis users are solved against
        self.YtY_ = items.T.astype(np.float64) @ items.astype(np.float64)
        self.item_factors_ = items.copy()
        self.catalogue_ = CatalogueMap(data.matrix.shape[1])
        text = data.item_blocks.get(TEXT)
        self.text_map_ = fit_item_text_map(data.matrix, text, self.item_factors_, float(self.text_ridge))
        self._place_cold_items(data)
        self.user_text_map_ = None
        if text is not None:
            profiles = text_profiles(data.matrix, text)
            self.user_text_map_ = fit_text_state_map(profiles, users, float(self.text_ridge))
        return self

    def user_state(self, users: UserBatch) -> np.ndarray:
        history = self.catalogue_.to_trained(users.weighted_history())
        factors = solve_users(history, self.trained_factors_, self.YtY_, float(self.regularization), float(self.alpha))
        text_only = users.text_only(history)
        if text_only.any() and self.user_text_map_ is not None:
            factors[text_only] = apply_ridge(self.user_text_map_, unit_rows(users.text_embeddings[text_only]))
        return factors

    def score(self, state: np.ndarray, items: np.ndarray) -> np.ndarray:
        return state @ self.item_factors_[items].T

    def user_vectors(self, state: np.ndarray) -> np.ndarray:
        return state

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        return self.item_factors_[items]

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """Exact split of the ALS score over the user's history (implicit's ``explain`` algebra).

        With ``x_u = A^-1 sum_h c_h y_h``, the score ``y_i . x_u`` is ``sum_h c_h y_h . A^-1 y_i``.

        Parameters and return value as in
        :meth:`~hybridrec.components.Component.history_contributions`. Zeros for history items fit did
        not train on.
        """
        out = np.zeros(users.history.nnz, dtype=np.float32)
        history = self.catalogue_.to_trained(users.weighted_history())
        if history.nnz == 0:
            return out
        Y = self.trained_factors_.astype(np.float64)
        idx = history.indices
        confidence = float(self.alpha) * history.data
        A = self.YtY_ + float(self.regularization) * np.eye(Y.shape[1])
        A += (Y[idx].T * (confidence - 1)) @ Y[idx]
        shares = (Y[idx] @ np.linalg.solve(A, self.item_factors_[item])) * confidence
        trained = self.catalogue_.trained_index[users.history.indices]
        loc = np.minimum(np.searchsorted(idx, trained), len(idx) - 1)
        hit = (trained >= 0) & (idx[loc] == trained)
        out[hit] = shares[loc[hit]]
        return out
