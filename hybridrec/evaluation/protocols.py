"""The evaluation protocols by name: their splitters, their defaults, one call to split.

The defaults of every protocol live in one place, the signatures of the splitters in
:mod:`hybridrec.evaluation.splits`; :func:`protocol_defaults` reads them and :func:`make_split`
applies them, so the command line and the benchmarks never restate them.
"""
from __future__ import annotations

import inspect
from typing import Any

import pandas as pd

from .._validation import check_choice
from .splits import (
    PROTOCOLS,
    Split,
    cold_item_split,
    cold_user_split,
    cross_domain_split,
    leave_last_split,
    random_split,
)

#: The splitter of every protocol of :data:`PROTOCOLS`.
SPLITTERS = {
    "random": random_split,
    "leave_last": leave_last_split,
    "cold_user": cold_user_split,
    "cold_item": cold_item_split,
    "cross_domain": cross_domain_split,
}
_DATA_ARGS = {"interactions", "items", "users", "seed", "user_col", "item_col", "domain_col"}


def protocol_defaults(protocol: str) -> dict[str, Any]:
    """The parameters of a protocol's splitter and their defaults (the one place they are set).

    Parameters
    ----------
    protocol : str
        One of :data:`~hybridrec.evaluation.splits.PROTOCOLS`.

    Returns
    -------
    dict of str -> object
        The splitter's parameters with a default, less the data arguments (``interactions``,
        ``items``, ``users``, ``seed`` and the column names).
    """
    check_choice(protocol, "protocol", PROTOCOLS, "protocol_defaults")
    signature = inspect.signature(SPLITTERS[protocol])
    return {name: p.default for name, p in signature.parameters.items()
            if name not in _DATA_ARGS and p.default is not inspect.Parameter.empty}


def make_split(
    protocol: str,
    interactions: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    seed: int | None = 0,
    **params: Any,
) -> tuple[Split, dict[str, Any]]:
    """Split ``interactions`` with the named protocol; parameters not given take the splitter's defaults.

    Parameters
    ----------
    protocol : str
        One of :data:`~hybridrec.evaluation.splits.PROTOCOLS`.
    interactions : DataFrame
        One row per event, with ``user_id`` and ``item_id``.
    items, users : DataFrame, optional
        The catalogue and user table, passed to the splitter (cold_item and cross_domain need
        ``items``).
    seed : int or None, default=0
        The split's seed.
    **params
        Protocol parameters (see :func:`protocol_defaults`); others raise ``ValueError``.

    Returns
    -------
    (Split, dict)
        The split, and every parameter it was drawn with (defaults included), for reports.
    """
    defaults = protocol_defaults(protocol)
    allowed = set(inspect.signature(SPLITTERS[protocol]).parameters) - _DATA_ARGS
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"The {protocol} protocol has no parameters {unknown}. Its parameters: {sorted(allowed)}.")
    used = {**defaults, **params}
    if protocol in ("cold_item", "cross_domain"):
        split = SPLITTERS[protocol](interactions, items, seed=seed, users=users, **used)
    else:
        split = SPLITTERS[protocol](interactions, seed=seed, items=items, users=users, **used)
    return split, used
