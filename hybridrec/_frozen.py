"""Read-only arrays: what a fitted model learned from is never written after fit.

A component that needs a changed copy of the training matrix builds one (see
:meth:`hybridrec.components.TrainingData.binary`); an in-place write fails on the line that does
it instead of silently changing the histories every other component reads.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


def read_only(value: Any) -> Any:
    """Mark an ndarray, or a sparse matrix's arrays, read-only (in place); return it."""
    if sp.issparse(value):
        for name in ("data", "indices", "indptr"):
            array = getattr(value, name, None)
            if isinstance(array, np.ndarray):
                array.setflags(write=False)
    elif isinstance(value, np.ndarray):
        value.setflags(write=False)
    return value


def binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """A new read-only float32 CSR matrix with a 1 at every stored entry of ``matrix``."""
    matrix = sp.csr_matrix(matrix)
    if (matrix.data == 0).any():  # explicit zeros are not interactions
        matrix = matrix.copy()
        matrix.eliminate_zeros()
    out = sp.csr_matrix((np.ones(len(matrix.data), np.float32), matrix.indices.copy(), matrix.indptr.copy()),
                        shape=matrix.shape)
    out.has_sorted_indices = matrix.has_sorted_indices
    return read_only(out)
