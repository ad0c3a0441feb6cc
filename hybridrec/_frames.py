"""Tables become rows: the one place input frames are checked and turned into ids, texts and events.

``InteractionData.from_frames`` (fit), ``from_codes`` (``fit_spark``), new users' histories
(:mod:`hybridrec.users`) and ``add_items`` all check their tables and combine their events here,
so a rule (weights >= 0, a tuple is one id, how repeated rows combine) holds at every entry point.
"""
from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._ids import as_index
from ._validation import check_choice, preview, require_columns, require_frame, require_ids


#: Domain name used when the items table has no domain column.
DEFAULT_DOMAIN = "all"


def unique_ids(values: pd.Series) -> pd.Index:
    return as_index(pd.unique(values.to_numpy()))


def unknown_items_error(missing: Sequence[Hashable]) -> ValueError:
    """The error for interactions that name items the items table lacks."""
    return ValueError(f"interactions refers to {len(missing)} item ids that are not in items: "
                      f"{preview(missing)}. Add them to the items table or drop those rows.")


def interaction_matrix(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, shape: tuple[int, int],
                       duplicates: str = "sum") -> sp.csr_matrix:
    """The users x items float32 CSR matrix of (row, col, weight) events: the one rule for every entry point.

    Events with weight 0 are dropped; repeated (row, col) pairs combine by ``duplicates``:
    ``"sum"`` (repeat events add confidence) or ``"max"`` (the largest weight is kept). Fit,
    new users' histories and ``fit_spark`` all follow it.
    """
    check_choice(duplicates, "duplicates", ["sum", "max"], "interaction_matrix")
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float32)
    live = weights > 0
    rows, cols, weights = rows[live], cols[live], weights[live]
    if duplicates == "max" and len(rows):
        order = np.lexsort((-weights, cols, rows))  # per (row, col): the largest weight first
        rows, cols, weights = rows[order], cols[order], weights[order]
        first = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
        rows, cols, weights = rows[first], cols[first], weights[first]
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=shape, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def text_columns(text_col: str | Sequence[str]) -> list[str]:
    return [text_col] if isinstance(text_col, str) else list(text_col)


def join_text(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Join one or more text columns per row with ``". "``; missing values count as empty."""
    parts = []
    for column in columns:
        col = frame[column]
        parts.append(col.where(col.notna(), "").astype(str).str.strip().to_numpy(dtype=object))
    if len(parts) == 1:
        return list(parts[0])
    return [". ".join(p for p in row if p) for row in zip(*parts)]


def check_interactions(interactions: pd.DataFrame, user_col: str, item_col: str) -> pd.DataFrame:
    """The interactions table, checked: a non-empty DataFrame with user and item ids in every row."""
    interactions = require_frame(interactions, "interactions")
    require_columns(interactions, "interactions", {"user_col": user_col, "item_col": item_col})
    if len(interactions) == 0:
        raise ValueError("interactions is empty; fit needs at least one (user, item) row.")
    require_ids(interactions[user_col], "interactions[%r]" % user_col)
    require_ids(interactions[item_col], "interactions[%r]" % item_col)
    return interactions


def event_weights(frame: pd.DataFrame, weight_col: str | None, table: str = "interactions") -> np.ndarray:
    """Each row's weight as float32 (1 without the column); non-numeric, negative or non-finite ones are refused."""
    if weight_col is None or weight_col not in frame.columns:
        return np.ones(len(frame), dtype=np.float32)
    try:
        weights = pd.to_numeric(frame[weight_col]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{table}[{weight_col!r}] must be numeric.") from None
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ValueError(
            f"{table}[{weight_col!r}] must hold finite weights >= 0. Got "
            f"{preview(weights[bad].tolist())} at rows {preview(np.flatnonzero(bad).tolist())}."
        )
    return weights.astype(np.float32)


def _id_table(frame: pd.DataFrame, table: str, id_col: str, kind: str) -> pd.DataFrame:
    """``frame`` checked as a table of unique, non-missing ids in ``id_col``."""
    frame = require_frame(frame, table)
    require_columns(frame, table, {f"{kind}_col": id_col})
    require_ids(frame[id_col], f"{table}[{id_col!r}]")
    duplicated = frame[id_col].duplicated()
    if duplicated.any():
        raise ValueError(f"{table} has duplicate ids in {id_col!r}: {preview(frame[id_col][duplicated].unique())}; "
                         f"each {kind} must appear once (ids must be unique).")
    return frame


def _table_texts(frame: pd.DataFrame, table: str, text_col: str | Sequence[str], param: str) -> list[str]:
    """One text per row: the ``text_col`` column(s) joined (they must exist)."""
    columns = text_columns(text_col)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{table} has no text column(s) {absent} (set by {param!r}). Its columns are {list(frame.columns)}.")
    return join_text(frame, columns)


def item_table(
    seen: pd.Index | None,
    items: pd.DataFrame | None,
    item_col: str,
    text_col: str | Sequence[str],
    domain_col: str,
) -> tuple[pd.Index, np.ndarray, list[str], list[str]]:
    """Item ids, domain codes, domain names and texts: from ``items``, else the ``seen`` ids."""
    if items is None:
        item_ids = seen  # no texts: fit warns when a component that reads text is active (encode_texts)
        return item_ids, np.zeros(len(item_ids), dtype=np.int32), [DEFAULT_DOMAIN], [""] * len(item_ids)

    items = _id_table(items, "items", item_col, "item")
    item_ids = as_index(items[item_col].to_numpy())
    texts = _table_texts(items, "items", text_col, "text_col")

    if domain_col in items.columns:
        raw = items[domain_col]
        if raw.isna().any():
            rows = np.flatnonzero(raw.isna().to_numpy())
            raise ValueError(
                f"items[{domain_col!r}] is missing at rows {preview(rows.tolist())}; "
                "every item needs a domain (or drop the column for a single-domain catalogue)."
            )
        codes, names = pd.factorize(raw.astype(str), sort=True)
        return item_ids, codes.astype(np.int32), [str(n) for n in names], texts
    return item_ids, np.zeros(len(item_ids), dtype=np.int32), [DEFAULT_DOMAIN], texts


def user_table(
    seen: pd.Index,
    users: pd.DataFrame | None,
    user_col: str,
    user_text_col: str | Sequence[str],
) -> tuple[pd.Index, list[str] | None]:
    """User ids (``seen``, then the users table's others) and their texts."""
    if users is None:
        return seen, None
    users = _id_table(users, "users", user_col, "user")
    extra = as_index(users[user_col].to_numpy()).difference(seen, sort=False)
    user_ids = seen.append(extra)
    text_by_id = pd.Series(_table_texts(users, "users", user_text_col, "user_text_col"), index=as_index(users[user_col].to_numpy()))
    texts = text_by_id.reindex(user_ids).fillna("").tolist()
    return user_ids, texts

