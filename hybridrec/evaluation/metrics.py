"""Vectorised full-ranking metrics: P/R/NDCG/MAP@k, MRR, hit rate, AUC and catalogue coverage.

Every function works on a dense ``(n_users, n_items)`` score matrix and sparse ``relevant`` /
``exclude`` matrices, processed in blocks of users; nothing loops over users in Python.

Ranking conventions (shared by :func:`ranking_metrics` and :func:`top_k_items`)
--------------------------------------------------------------------------------
- Higher scores rank first. ``-inf`` is allowed (ranked last); NaN and ``+inf`` raise.
- **Ties** are broken deterministically by item index: of two items with equal scores, the
  one with the lower column index ranks first. The rank of item ``j`` for a user is therefore
  ``1 + #{non-excluded i : s_i > s_j or (s_i == s_j and i < j)}``, and the top-k list is
  exactly the items of rank <= k. AUC is the exception: it counts tied pairs as 1/2.
- **Excluded** entries (typically the user's training items) are never ranked: they take no
  rank, push nothing down and are never recommended. A relevant item that is also excluded
  does not count as relevant.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._ranking import top_k_block as _top_k_block
from .._validation import check_positive_int


#: Columns of :func:`ranking_metrics`, in order (``n_relevant`` follows them).
METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc")

#: Above this mean number of relevant items per user, ranks come from one stable argsort per
#: row instead of one comparison pass per relevant item (measured: the sort costs about as
#: much as 100-150 passes on 512 x 20,000 float32 scores).
_SORT_PATH_MIN_RELEVANT = 100.0
#: Cells per block of gathered rows in the comparison path (bounds temporary memory).
_CHUNK_CELLS = 1 << 22


# ---------------------------------------------------------------------------- validation
def _check_scores(scores: np.ndarray, method: str) -> np.ndarray:
    array = np.asarray(scores)
    if array.ndim != 2:
        raise ValueError(
            f"The 'scores' parameter of {method} must be a 2-D array (n_users, n_items). "
            f"Got an array of shape {array.shape} instead."
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"The 'scores' parameter of {method} must be numeric. Got dtype {array.dtype} instead.")
    return array


def _check_sparse(matrix: object, name: str, shape: tuple[int, int], method: str) -> sp.csr_matrix:
    if not (sp.issparse(matrix) or isinstance(matrix, np.ndarray)):
        raise ValueError(
            f"The {name!r} parameter of {method} must be a scipy.sparse matrix or ndarray of shape {shape}. "
            f"Got {type(matrix).__name__} instead."
        )
    if matrix.shape != shape:
        raise ValueError(
            f"The {name!r} parameter of {method} must have the shape of 'scores', {shape}. "
            f"Got shape {matrix.shape} instead."
        )
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    return csr


def _masked_block(block: np.ndarray, exclude: sp.csr_matrix | None, method: str) -> np.ndarray:
    """A float copy of ``block`` with excluded cells set to NaN (NaN = "not ranked")."""
    dtype = block.dtype if block.dtype in (np.float32, np.float64) else np.float64
    work = np.array(block, dtype=dtype, copy=True)
    bad = np.isnan(work) | (work == np.inf)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"The 'scores' parameter of {method} must not contain NaN or +inf ({int(bad.sum())} such "
            f"values in this block, e.g. {work[row, col]!r} at block row {row}, column {col}). "
            "Use -inf for items that must rank last, or 'exclude' for items that must not be ranked."
        )
    if exclude is not None and exclude.nnz:
        coo = exclude.tocoo()
        work[coo.row, coo.col] = np.nan
    return work


# ---------------------------------------------------------------------------- top-k
def top_k_items(
    scores: np.ndarray,
    exclude: sp.spmatrix | None = None,
    k: int = 10,
    batch_size: int = 1024,
) -> np.ndarray:
    """Column indices of each user's ``k`` best non-excluded items, best first.

    Ties are broken by lower column index first (see the module docstring), so the result is
    deterministic and agrees with the ranks used by :func:`ranking_metrics`.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Higher is better; NaN and ``+inf`` raise ``ValueError``.
    exclude : sparse matrix of shape (n_users, n_items), optional
        Non-zero entries are never recommended (e.g. training items).
    k : int, default=10
    batch_size : int, default=1024
        Users per block.

    Returns
    -------
    ndarray of int64, shape (n_users, k)
        ``-1`` pads rows with fewer than ``k`` rankable items.
    """
    method = "top_k_items"
    scores = _check_scores(scores, method)
    k = check_positive_int(k, "k", method)
    batch_size = check_positive_int(batch_size, "batch_size", method)
    exclude = None if exclude is None else _check_sparse(exclude, "exclude", scores.shape, method)
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for start in range(0, scores.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        work = _masked_block(scores[rows], None if exclude is None else exclude[rows], method)
        out[rows] = _top_k_block(work, k)
    return out


def coverage(top_items: np.ndarray, n_candidates: int) -> float:
    """Catalogue coverage: distinct recommended items / number of candidate items.

    Parameters
    ----------
    top_items : ndarray of int
        Item indices as returned by :func:`top_k_items`; negative entries (padding) are ignored.
    n_candidates : int
        Size of the candidate set the items were drawn from.

    Returns
    -------
    float in [0, 1]
    """
    n_candidates = check_positive_int(n_candidates, "n_candidates", "coverage")
    items = np.asarray(top_items)
    return float(np.unique(items[items >= 0]).size / n_candidates)


# ---------------------------------------------------------------------------- ranks
def _counts_by_comparison(work: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each (row, col): # rankable items scored higher, # scored equal (itself included),
    # scored equal with a lower index. One pass over the row per entry."""
    n_cols = work.shape[1]
    greater = np.empty(len(rows), dtype=np.int64)
    equal = np.empty(len(rows), dtype=np.int64)
    before = np.zeros(len(rows), dtype=np.int64)
    step = max(1, _CHUNK_CELLS // max(n_cols, 1))
    for start in range(0, len(rows), step):
        part = slice(start, start + step)
        block = work[rows[part]]
        value = work[rows[part], cols[part]][:, None]
        greater[part] = np.count_nonzero(block > value, axis=1)
        equal[part] = np.count_nonzero(block == value, axis=1)
    tied = np.flatnonzero(equal > 1)
    for start in range(0, len(tied), step):
        idx = tied[start:start + step]
        block = work[rows[idx]]
        lower = np.arange(n_cols)[None, :] < cols[idx, None]
        before[idx] = np.count_nonzero((block == work[rows[idx], cols[idx]][:, None]) & lower, axis=1)
    return greater, equal, before


def _counts_by_sorting(work: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Same as :func:`_counts_by_comparison` from one stable argsort per row."""
    n_rows, n_cols = work.shape
    neg = -work
    order = np.argsort(neg, axis=1, kind="stable")  # ties keep index order; NaN last
    ordered = np.take_along_axis(neg, order, axis=1)
    arange = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    position = np.empty_like(order)
    np.put_along_axis(position, order, arange, axis=1)
    starts = np.ones((n_rows, n_cols), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group_start = np.maximum.accumulate(np.where(starts, arange, 0), axis=1)
    ends = np.ones((n_rows, n_cols), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    group_end = np.minimum.accumulate(np.where(ends, arange, n_cols - 1)[:, ::-1], axis=1)[:, ::-1]
    pos = position[rows, cols]
    greater = group_start[rows, pos]
    equal = group_end[rows, pos] - greater + 1
    return greater, equal, pos - greater


# ---------------------------------------------------------------------------- metrics
def _block_metrics(work: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """Metric columns (:data:`METRICS` + n_relevant) for one NaN-masked block."""
    n_rows = work.shape[0]
    coo = relevant.tocoo()
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    keep = ~np.isnan(work[rows, cols])  # relevant but excluded: does not count
    rows, cols = rows[keep], cols[keep]
    out = np.full((n_rows, len(METRICS) + 1), np.nan)
    n_rel = np.bincount(rows, minlength=n_rows).astype(np.float64)
    out[:, -1] = n_rel
    if len(rows) == 0:
        return out
    n_valid = np.count_nonzero(~np.isnan(work), axis=1).astype(np.float64)
    if len(rows) > _SORT_PATH_MIN_RELEVANT * n_rows:
        greater, equal, before = _counts_by_sorting(work, rows, cols)
    else:
        greater, equal, before = _counts_by_comparison(work, rows, cols)
    rank = 1 + greater + before  # tie-broken rank in the full ranking

    order = np.lexsort((rank, rows))  # by row, best rank first
    rows, rank, greater, equal = rows[order], rank[order], greater[order], equal[order]
    hit = rank <= k
    hits = np.bincount(rows, weights=hit, minlength=n_rows)
    cum_hits = np.cumsum(hit)
    first = np.searchsorted(rows, rows, side="left")
    hits_so_far = cum_hits - np.concatenate([[0], cum_hits])[first]
    ideal_n = np.minimum(n_rel, k).astype(np.int64)
    depth = min(k, work.shape[1])  # ideal_n <= n_rel <= the number of items: a huge k needs no more
    ideal_dcg = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, depth + 2)))])[ideal_n]
    dcg = np.bincount(rows, weights=hit / np.log2(rank + 1.0), minlength=n_rows)
    ap = np.bincount(rows, weights=np.where(hit, hits_so_far / rank, 0.0), minlength=n_rows)
    best = np.full(n_rows, np.inf)
    head = np.flatnonzero(first == np.arange(len(rows)))
    best[rows[head]] = rank[head]
    # Mann-Whitney: ascending mid-rank of each relevant item among all rankable items
    midrank = n_valid[rows] - greater - equal + (equal + 1) / 2.0
    rank_sum = np.bincount(rows, weights=midrank, minlength=n_rows)
    n_neg = n_valid - n_rel

    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 0] = hits / k
        out[:, 1] = hits / n_rel
        out[:, 2] = dcg / ideal_dcg
        out[:, 3] = ap / ideal_n
        out[:, 4] = 1.0 / best
        out[:, 5] = (hits > 0).astype(np.float64)
        out[:, 6] = np.where(n_neg > 0, (rank_sum - n_rel * (n_rel + 1) / 2.0) / (n_rel * n_neg), np.nan)
    out[n_rel == 0, :-1] = np.nan
    return out


def ranking_metrics(
    scores: np.ndarray,
    relevant: sp.spmatrix,
    exclude: sp.spmatrix | None = None,
    k: int = 10,
    batch_size: int = 1024,
) -> pd.DataFrame:
    """Per-user ranking metrics over the full ranking of every column of ``scores``.

    With ``hits`` = relevant items among the top ``k`` and ``R`` = the user's relevant,
    non-excluded items (see the module docstring for ranks, ties and exclusion):

    - ``precision`` = P@k = hits / k (``k``, even when fewer than ``k`` items are rankable);
    - ``recall`` = Recall@k = hits / |R|;
    - ``ndcg`` = NDCG@k with binary gains and ``1 / log2(rank + 1)`` discounts, divided by the
      ideal DCG of ``min(|R|, k)`` hits at the top;
    - ``map`` = MAP@k = sum over the hit ranks r <= k of (hits within the top r) / r, divided by
      ``min(|R|, k)``;
    - ``mrr`` = 1 / rank of the first relevant item in the FULL ranking (not cut at k);
    - ``hit_rate`` = 1 if any relevant item is in the top k, else 0;
    - ``auc`` = fraction of (relevant, non-relevant non-excluded) pairs in which the relevant
      item scores higher, tied pairs counting 1/2 (the Mann-Whitney statistic from mid-ranks);
      NaN when every rankable item is relevant.

    Users with no relevant items get NaN metrics (and ``n_relevant`` 0); aggregations skip
    them, so they are not counted in ``n_users``.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Higher is better. NaN and ``+inf`` raise ``ValueError``; ``-inf`` ranks last.
    relevant : sparse matrix of shape (n_users, n_items)
        Held-out items; any non-zero entry counts as relevant (binary relevance).
    exclude : sparse matrix of shape (n_users, n_items), optional
        Non-zero entries (typically training items) are removed from the ranking.
    k : int, default=10
        Cut-off of the @k metrics.
    batch_size : int, default=1024
        Users per block (memory is a few dense ``batch_size x n_items`` arrays).

    Returns
    -------
    DataFrame
        One row per row of ``scores`` (same order, RangeIndex) with the columns
        ``precision, recall, ndcg, map, mrr, hit_rate, auc, n_relevant``.
    """
    method = "ranking_metrics"
    scores = _check_scores(scores, method)
    k = check_positive_int(k, "k", method)
    batch_size = check_positive_int(batch_size, "batch_size", method)
    relevant = _check_sparse(relevant, "relevant", scores.shape, method)
    exclude = None if exclude is None else _check_sparse(exclude, "exclude", scores.shape, method)
    out = np.empty((scores.shape[0], len(METRICS) + 1))
    for start in range(0, scores.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        work = _masked_block(scores[rows], None if exclude is None else exclude[rows], method)
        out[rows] = _block_metrics(work, relevant[rows], k)
    frame = pd.DataFrame(out, columns=[*METRICS, "n_relevant"])
    frame["n_relevant"] = frame["n_relevant"].astype(np.int64)
    return frame
