"""Raw ids as a flat pandas Index (the one conversion every id-keyed lookup goes through)."""
from __future__ import annotations

from typing import Any, Iterable

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


def id_list(ids: Any) -> list:
    """One id or many, as a list: the rule every entry point that takes ids follows.

    A str, bytes or tuple (or any non-iterable) is one id, since ids may be tuples; a list,
    array, Index, Series, set or other iterable holds several.
    """
    if isinstance(ids, (str, bytes, tuple)) or not isinstance(ids, Iterable):
        return [ids]
    if isinstance(ids, (pd.Series, np.ndarray)):
        return ids.tolist()
    return list(ids)
