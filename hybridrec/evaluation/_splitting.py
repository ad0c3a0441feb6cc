"""Checks and row arithmetic shared by the splitters of :mod:`hybridrec.evaluation.splits`."""
from __future__ import annotations

import logging
import numbers
from typing import Any, Hashable, Iterable

import numpy as np
import pandas as pd

from .._ids import as_index
from .._validation import check_fraction, preview, require_columns, require_frame, require_ids

logger = logging.getLogger("hybridrec.evaluation.splits")


def check_interactions(interactions: Any, method: str, **columns: str) -> pd.DataFrame:
    frame = require_frame(interactions, "interactions")
    require_columns(frame, "interactions", columns)
    for column in columns.values():
        require_ids(frame[column], f"interactions[{column!r}]")
    if len(frame) == 0:
        raise ValueError(f"The 'interactions' parameter of {method} is empty; there is nothing to split.")
    return frame


def make_rng(seed: Any, method: str) -> np.random.Generator:
    if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"The 'seed' parameter of {method} must be an int or None. Got {seed!r} instead.")
    return np.random.default_rng(seed)


def check_sizes(test_size: Any, valid_size: Any, method: str) -> tuple[float, float]:
    test_size = check_fraction(test_size, "test_size", method)
    valid_size = check_fraction(valid_size, "valid_size", method)
    if test_size == 0 or test_size + valid_size >= 1:
        raise ValueError(
            f"The 'test_size' parameter of {method} must be > 0 and test_size + valid_size must be < 1. "
            f"Got test_size={test_size!r}, valid_size={valid_size!r}."
        )
    return test_size, valid_size


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """Round half up (``np.round`` rounds half to even)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def id_set(ids: Iterable[Hashable] | None, name: str, known: pd.Index, method: str) -> pd.Index | None:
    """Requested user ids as an Index; unknown ids are logged and dropped."""
    if ids is None:
        return None
    if isinstance(ids, (str, bytes, tuple)) or not isinstance(ids, Iterable):  # a tuple is one id
        raise ValueError(f"The {name!r} parameter of {method} must be a list (or other iterable) of user ids. "
                         f"Got {ids!r} instead.")
    wanted = as_index(list(ids)).unique()
    missing = wanted.difference(known)
    if len(missing) == len(wanted) and len(wanted):
        raise ValueError(f"None of the {len(wanted)} ids in {name!r} of {method} occur in interactions: {preview(missing)}.")
    if len(missing):
        logger.warning("%s: %d ids in %r have no interactions and are ignored: %s", method, len(missing), name, preview(missing))
    return wanted.difference(missing, sort=False)


def positions(user_codes: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's 0-based position within its user ordered by ``key`` (ties: row order), and the
    user's row count."""
    order = np.lexsort((np.arange(len(key)), key, user_codes))
    counts = np.bincount(user_codes)
    starts = np.cumsum(counts) - counts
    position = np.empty(len(key), dtype=np.int64)
    position[order] = np.arange(len(key)) - starts[user_codes[order]]
    return position, counts[user_codes]


def item_domains(
    frame: pd.DataFrame, items: Any, item_col: str, domain_col: str | None, method: str
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Validated catalogue and the domain of every interaction row (None when ``domain_col`` is None).

    Every interacted item must be in the catalogue, as ``HybridRecommender.fit`` requires."""
    items = require_frame(items, "items")
    needed = {"item_col": item_col} if domain_col is None else {"item_col": item_col, "domain_col": domain_col}
    require_columns(items, "items", needed)
    catalogue = pd.Index(items[item_col])
    if not catalogue.is_unique:
        raise ValueError(f"items[{item_col!r}] has duplicate ids; {method} needs one row per item.")
    where = catalogue.get_indexer(frame[item_col])
    if (where < 0).any():
        unknown = pd.unique(frame[item_col].to_numpy()[where < 0])
        raise ValueError(f"interactions has {len(unknown)} item ids missing from items: {preview(unknown)}.")
    return items, None if domain_col is None else items[domain_col].to_numpy()[where]


def check_domain(value: Any, name: str, domains: np.ndarray, method: str) -> None:
    known = sorted(pd.unique(domains).tolist())
    if value not in known:
        raise ValueError(f"The {name!r} parameter of {method} must be one of the item domains {known}. Got {value!r} instead.")
