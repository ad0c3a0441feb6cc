"""Deterministic top-k selection shared by recommendation and evaluation, and seen-item masking."""
from __future__ import annotations

import numpy as np


def top_k_block(work: np.ndarray, k: int) -> np.ndarray:
    """Top-k column indices per row of a NaN-masked block, best first, ``-1`` padded.

    NaN entries are never selected. Ties are broken by the lower column index, so the
    result is deterministic. ``argpartition`` finds each row's k best; rows where a value tied
    with the k-th lies outside them, or with fewer than k rankable entries, take the careful
    path (:func:`_top_k_careful`).
    """
    n_rows, n_cols = work.shape
    out = np.full((n_rows, k), -1, dtype=np.int64)
    if n_rows == 0 or n_cols == 0:
        return out
    kk = min(k, n_cols)
    neg = -work  # ascending order of ``neg`` is the ranking; NaN (excluded) sorts last
    cand = np.argpartition(neg, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(neg, cand, axis=1)
    threshold = vals.max(axis=1, keepdims=True)  # NaN when fewer than kk rankable items
    tied_in = (vals == threshold).sum(axis=1)
    careful = np.isnan(threshold[:, 0]) | ((neg == threshold).sum(axis=1) != tied_in)
    # Order the candidates by value, then column: sort by column, then a stable sort by value.
    by_col = np.argsort(cand, axis=1)
    cand, vals = np.take_along_axis(cand, by_col, axis=1), np.take_along_axis(vals, by_col, axis=1)
    out[:, :kk] = np.take_along_axis(cand, np.argsort(vals, axis=1, kind="stable"), axis=1)
    rows = np.flatnonzero(careful)
    if len(rows):
        out[rows] = _top_k_careful(neg[rows], k)
    return out


def _top_k_careful(neg: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k_block` of ``-neg`` for rows with ties at the k-th value or too few rankable entries."""
    n_rows, n_cols = neg.shape
    out = np.full((n_rows, k), -1, dtype=np.int64)
    kk = min(k, n_cols)
    pivot = np.argpartition(neg, kk - 1, axis=1)[:, kk - 1]
    threshold = neg[np.arange(n_rows), pivot][:, None]  # NaN when fewer than kk rankable items
    better = neg < threshold
    tied = neg == threshold
    need = kk - better.sum(axis=1)
    selected = better | tied
    surplus = np.flatnonzero(tied.sum(axis=1) > need)
    if len(surplus):  # keep only the lowest-index tied items
        first = np.cumsum(tied[surplus], axis=1) <= need[surplus, None]
        selected[surplus] = better[surplus] | (tied[surplus] & first)
    short = np.flatnonzero(np.isnan(threshold[:, 0]))
    if len(short):
        selected[short] = ~np.isnan(neg[short])
    rows, cols = np.nonzero(selected)
    order = np.lexsort((cols, neg[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=n_rows)
    position = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    out[rows, position] = cols
    return out


def mask_seen(scores: np.ndarray, history, items: np.ndarray) -> None:
    """Set ``scores[u, j] = NaN`` (never ranked) where user ``u`` has ``items[j]`` in ``history`` (CSR)."""
    position = np.full(history.shape[1], -1, dtype=np.int64)
    position[items] = np.arange(len(items))
    coo = history.tocoo()
    cols = position[coo.col]
    keep = cols >= 0
    scores[coo.row[keep], cols[keep]] = np.nan


def merge_top_k(items: list[np.ndarray], scores: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-domain top-k blocks (inner ids, -1 padded; scores, NaN padded) into one top-k."""
    items_k, scores_k = np.hstack(items), np.hstack(scores)
    order = top_k_block(scores_k, k)
    picked = np.maximum(order, 0)
    return (np.where(order >= 0, np.take_along_axis(items_k, picked, axis=1), -1),
            np.where(order >= 0, np.take_along_axis(scores_k, picked, axis=1), np.nan))
