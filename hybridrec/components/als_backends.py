"""Solvers that fit ALS factors, behind one small protocol, chosen by ``ALSComponent(backend=...)``.

A backend only trains: ``fit(matrix, params, show_progress) -> (user_factors, item_factors)``.
Everything after training (solving a user's factors from their history, explanations, new
items) is numpy algebra on the item factors in :mod:`hybridrec.components.als`, so every backend
serves users the same way. Add a backend with :func:`register_backend`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class ALSParams:
    """The model parameters every backend receives (confidence ``alpha * weight``, constant L2)."""

    factors: int
    regularization: float
    alpha: float
    iterations: int
    random_state: int | None
    num_threads: int


class ALSSolver(Protocol):
    """What a backend implements."""

    def fit(self, matrix: sp.csr_matrix, params: ALSParams, show_progress: bool) -> tuple[np.ndarray, np.ndarray]:
        """Train on a users x items matrix; return float32 ``(user_factors, item_factors)``."""
        ...  # pragma: no cover - protocol


class ImplicitSolver:
    """implicit's CPU ALS (``implicit.cpu.als.AlternatingLeastSquares``), with BLAS on one thread.

    implicit parallelises over users itself and advises against threaded BLAS inside it.
    """

    def _model(self, params: ALSParams):
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=params.factors, regularization=params.regularization, alpha=params.alpha,
            iterations=params.iterations, random_state=params.random_state, num_threads=params.num_threads,
        )

    def fit(self, matrix: sp.csr_matrix, params: ALSParams, show_progress: bool) -> tuple[np.ndarray, np.ndarray]:
        from tqdm import tqdm

        with threadpool_limits(1, "blas"), tqdm(total=params.iterations, desc="ALS", unit="iteration", leave=False,
                                                 disable=not show_progress) as bar:
            model = self._model(params)
            # implicit's own bar has no label: ours advances from its per-iteration callback.
            model.fit(matrix, show_progress=False, callback=lambda *_: bar.update(1))
        return np.asarray(model.user_factors, dtype=np.float32), np.asarray(model.item_factors, dtype=np.float32)


class ImplicitGPUSolver(ImplicitSolver):
    """implicit's CUDA ALS (``implicit.gpu.als.AlternatingLeastSquares``); needs implicit built with CUDA."""

    def _model(self, params: ALSParams):
        import implicit.gpu

        if not implicit.gpu.HAS_CUDA:
            raise ValueError(
                "ALSComponent(backend='implicit-gpu') needs implicit built with CUDA and a GPU; this "
                "installation has none (implicit.gpu.HAS_CUDA is False). Use backend='implicit'."
            )
        from implicit.gpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=params.factors, regularization=params.regularization, alpha=params.alpha,
            iterations=params.iterations, random_state=params.random_state,
        )

    def fit(self, matrix: sp.csr_matrix, params: ALSParams, show_progress: bool) -> tuple[np.ndarray, np.ndarray]:
        model = self._model(params)
        model.fit(matrix, show_progress=show_progress)
        cpu = model.to_cpu()
        return np.asarray(cpu.user_factors, dtype=np.float32), np.asarray(cpu.item_factors, dtype=np.float32)


_BACKENDS: dict[str, Callable[[], ALSSolver]] = {"implicit": ImplicitSolver, "implicit-gpu": ImplicitGPUSolver}


def register_backend(name: str, factory: Callable[[], ALSSolver]) -> None:
    """Make ``ALSComponent(backend=name)`` use ``factory()`` to train."""
    _BACKENDS[name] = factory


def backends() -> list[str]:
    """Names accepted by ``ALSComponent(backend=...)``."""
    return list(_BACKENDS)


def get_solver(name: str) -> ALSSolver:
    return _BACKENDS[name]()
