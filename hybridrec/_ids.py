"""Raw ids as a flat pandas Index (the one conversion every id-keyed lookup goes through)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_index(values: Any) -> pd.Index:
    """A flat ``pandas.Index`` of raw ids (tuples stay tuples, never a MultiIndex)."""
    if isinstance(values, pd.Index) and not isinstance(values, pd.MultiIndex):
        return values
    array = np.asarray(values) if not isinstance(values, (list, tuple)) else None
    if array is not None and array.dtype != object and array.ndim == 1:
        return pd.Index(array)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return pd.Index(out, dtype=object, tupleize_cols=False)
