"""ALS behind a solver protocol: backends train, numpy algebra serves users the same way for all."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hybridrec.components import ALSComponent, TrainingData, UserBatch
from hybridrec.components import als_backends
from hybridrec.components.als import solve_users


@pytest.fixture(scope="module")
def matrix() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    X = sp.random(300, 400, density=0.03, format="csr", random_state=0, dtype=np.float32)
    X.data[:] = rng.integers(1, 4, X.nnz)
    return X


def test_solving_users_matches_implicits_recalculate_user(matrix):
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=16, regularization=0.1, alpha=10.0, iterations=3, random_state=0)
    model.fit(matrix, show_progress=False)
    Y = np.asarray(model.item_factors)
    expected = model.recalculate_user(np.arange(matrix.shape[0]), matrix)
    mine = solve_users(matrix, Y, Y.T.astype(np.float64) @ Y, 0.1, 10.0)
    np.testing.assert_allclose(mine, expected, rtol=1e-3, atol=1e-4)
    empty = sp.csr_matrix((2, matrix.shape[1]), dtype=np.float32)
    assert not solve_users(empty, Y, Y.T @ Y, 0.1, 10.0).any()


def test_a_registered_backend_trains_and_the_component_serves_it(matrix):
    calls = []

    class Recording(als_backends.ImplicitSolver):
        def fit(self, matrix, params, show_progress):
            calls.append(params)
            return super().fit(matrix, params, show_progress)

    als_backends.register_backend("recording", Recording)
    try:
        data = TrainingData(matrix=matrix, item_domain=np.zeros(matrix.shape[1], np.int32), random_state=0)
        ours = ALSComponent(factors=8, iterations=2, backend="recording").fit(data)
        plain = ALSComponent(factors=8, iterations=2).fit(data)
        assert len(calls) == 1 and calls[0].factors == 8 and calls[0].random_state == 0
        users = UserBatch(matrix[:5])
        items = np.arange(matrix.shape[1])
        np.testing.assert_allclose(ours.score(ours.user_state(users), items), plain.score(plain.user_state(users), items),
                                   rtol=1e-5, atol=1e-5)
    finally:
        als_backends._BACKENDS.pop("recording")


def test_unknown_and_unavailable_backends_fail_clearly(matrix):
    data = TrainingData(matrix=matrix, item_domain=np.zeros(matrix.shape[1], np.int32))
    with pytest.raises(ValueError, match="'backend' parameter of ALSComponent must be one of.*implicit-gpu"):
        ALSComponent(backend="quantum").fit(data)
    import implicit.gpu

    if implicit.gpu.HAS_CUDA:
        pytest.skip("this machine has CUDA; the missing-GPU message cannot be shown")
    with pytest.raises(ValueError, match="needs implicit built with CUDA"):
        ALSComponent(backend="implicit-gpu", iterations=1).fit(data)
