"""The :class:`Split` that the splitters of :mod:`hybridrec.evaluation.splits` return, and their shared checks."""
from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

import numpy as np
import pandas as pd

from .._ids import as_index
from .._validation import check_choice, check_fraction, preview, require_columns, require_frame, require_ids

logger = logging.getLogger("hybridrec.evaluation.splits")

PROTOCOLS = ("random", "leave_last", "cold_item", "cold_user", "cross_domain")


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


@dataclass(repr=False)
class Split:
    """A train/held-out split of interactions, as produced by the splitters of this module.

    Every parameter is kept as an attribute of the same name.

    Parameters
    ----------
    train : DataFrame
        Interactions to fit on.
    test : DataFrame
        Held-out interactions (the relevant items), same columns as ``train``.
    valid : DataFrame or None
        Held-out interactions for tuning; never shares a row with ``test``.
    items, users : DataFrame or None
        The catalogue and user table, passed through unchanged (fit needs the item texts).
    protocol : str
        One of :data:`PROTOCOLS`.
    seed : int or None
        The seed the split was drawn with.
    target_domain : str or None, default None
        The evaluated domain (cross_domain; cold_item with a domain).
    candidates : ndarray or None, default None
        Item ids eligible for ranking; None means all items of the held-out item's domain.
    cold_items : ndarray or None, default None
        cold_item protocol: the items removed from training.
    fold_in, fold_in_valid : DataFrame or None, default None
        cold_user protocol: revealed interactions of the test (valid) users, given to the model
        at inference and never trained on.
    user_col, item_col, domain_col : str
        Column names of the frames above (default ``"user_id"``, ``"item_id"``, ``"domain"``).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    valid: pd.DataFrame | None
    items: pd.DataFrame | None
    users: pd.DataFrame | None
    protocol: str
    seed: int | None
    target_domain: str | None = None
    candidates: np.ndarray | None = None
    cold_items: np.ndarray | None = None
    fold_in: pd.DataFrame | None = None
    fold_in_valid: pd.DataFrame | None = None
    user_col: str = "user_id"
    item_col: str = "item_id"
    domain_col: str = "domain"

    def __post_init__(self) -> None:
        check_choice(self.protocol, "protocol", PROTOCOLS, "Split")

    def __repr__(self) -> str:
        def size(frame: pd.DataFrame | None) -> str:
            return "None" if frame is None else f"{len(frame)} rows/{frame[self.user_col].nunique()} users"

        extra = "".join(
            f", {name}={size(getattr(self, name))}" for name in ("fold_in", "fold_in_valid") if getattr(self, name) is not None
        )
        if self.cold_items is not None:
            extra += f", cold_items={len(self.cold_items)}"
        if self.candidates is not None:
            extra += f", candidates={len(self.candidates)}"
        return (
            f"Split({self.protocol!r}, seed={self.seed}, target_domain={self.target_domain!r}, "
            f"train={size(self.train)}, test={size(self.test)}, valid={size(self.valid)}{extra})"
        )


def split_from_parts(frame: pd.DataFrame, part: np.ndarray, **kwargs: Any) -> Split:
    """Split from a per-row part code: 0 train, 1 test, 2 valid, 3 dropped, 4 fold_in, 5 fold_in_valid."""
    def rows(code: int) -> pd.DataFrame | None:
        mask = part == code
        return frame[mask] if mask.any() else None

    test = rows(1)
    if test is None:
        raise ValueError(f"The {kwargs['protocol']} split holds out nothing: check the sizes and the users asked for.")
    return Split(train=frame[part == 0], test=test, valid=rows(2), fold_in=rows(4), fold_in_valid=rows(5), **kwargs)
