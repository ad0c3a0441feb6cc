"""Evaluate a fitted model (or any scoring function) on a :class:`~hybridrec.evaluation.Split`."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Hashable, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from .._frozen import binary
from .._validation import check_choice, check_positive_int, preview
from ..data import as_index
from .metrics import METRICS, ranking_metrics, top_k_items
from .splits import Split

logger = logging.getLogger(__name__)

#: Column order of the frame :func:`evaluate` returns.
COLUMNS = ["domain", "group", "metric", "value", "n_users", "k"]
#: Domain name of the single domain when the split has no item domains, and of the aggregate.
ALL = "all"

ScoreFn = Callable[[list, list], np.ndarray]


def _scorer(model: Any, fold_in: pd.DataFrame | None, user_col: str) -> ScoreFn:
    """``fn(user_ids, item_ids) -> (n_users, n_items)`` for the model and protocol; the items in
    ``model.held_item_ids_``, which recommend never lists (``HybridRecommender(screen_texts="hold")``),
    rank last."""
    fn = _score_fn(model, fold_in, user_col)
    held_ids = getattr(model, "held_item_ids_", None)
    if held_ids is None or len(held_ids) == 0:
        return fn

    def without_held(user_ids: list, item_ids: list) -> np.ndarray:
        scores = np.array(fn(user_ids, item_ids), dtype=np.float64)
        scores[:, pd.Index(item_ids).isin(held_ids)] = -np.inf
        return scores

    return without_held


def _score_fn(model: Any, fold_in: pd.DataFrame | None, user_col: str) -> ScoreFn:
    if fold_in is not None and hasattr(model, "score_new"):
        groups = fold_in.groupby(user_col, sort=False).indices

        def from_history(user_ids: list, item_ids: list) -> np.ndarray:
            rows = [groups[u] for u in user_ids if u in groups]
            history = fold_in.iloc[np.concatenate(rows)] if rows else fold_in.iloc[:0]
            return model.score_new(history, user_ids, item_ids)

        return from_history
    if hasattr(model, "score_items") and fold_in is None:
        return lambda user_ids, item_ids: model.score_items(user_ids, item_ids)
    if callable(model) and not hasattr(model, "score_items"):
        return model
    needed = "score_new(history, user_ids, item_ids)" if fold_in is not None else "score_items(user_ids, item_ids)"
    raise ValueError(
        f"The 'model' parameter of evaluate must have a method {needed} or be a callable "
        f"fn(user_ids, item_ids) -> ndarray. Got {type(model).__name__} instead."
    )


def _catalogue(split: Split, frames: list[pd.DataFrame]) -> pd.Series:
    """Domain of every catalogue item, indexed by item id."""
    icol, dcol = split.item_col, split.domain_col
    if split.items is not None and dcol in split.items.columns:
        return pd.Series(split.items[dcol].astype(str).to_numpy(), index=as_index(split.items[icol].to_numpy()))
    ids = split.items[icol] if split.items is not None else pd.concat([f[icol] for f in frames])
    return pd.Series(ALL, index=as_index(ids.to_numpy()).unique())


def _matrix(frame: pd.DataFrame, users: pd.Index, items: pd.Index, user_col: str, item_col: str) -> sp.csr_matrix:
    """Binary users x items matrix of the rows of ``frame`` whose user and item are listed."""
    rows = users.get_indexer(frame[user_col])
    cols = items.get_indexer(frame[item_col])
    keep = (rows >= 0) & (cols >= 0)
    matrix = sp.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])), shape=(len(users), len(items)))
    matrix.sum_duplicates()
    return binary(matrix)


def _candidate_ids(candidates: Iterable[Hashable] | None, catalogue: pd.Series) -> pd.Index | None:
    if candidates is None:
        return None
    if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Iterable):
        raise ValueError(f"The 'candidates' parameter of evaluate must be an iterable of item ids. Got {candidates!r} instead.")
    wanted = as_index(list(candidates)).unique()
    unknown = wanted.difference(catalogue.index)
    if len(unknown) == len(wanted):
        raise ValueError(f"None of the {len(wanted)} 'candidates' of evaluate are catalogue items: {preview(unknown)}.")
    if len(unknown):
        logger.warning("evaluate: %d candidates are not catalogue items and are ignored: %s", len(unknown), preview(unknown))
    return wanted.difference(unknown, sort=False)


def _score_block(score: ScoreFn, users: list, items: list) -> np.ndarray:
    out = np.asarray(score(users, items))
    if out.shape != (len(users), len(items)):
        raise ValueError(
            f"The model returned scores of shape {out.shape} for {len(users)} users and {len(items)} items; "
            f"evaluate needs shape {(len(users), len(items))}."
        )
    return out


def _aggregate(per_user: pd.DataFrame, tops: dict[str, np.ndarray], n_candidates: dict[str, int], k: int) -> pd.DataFrame:
    """Long-format means per (domain, group) over the users (those with relevant items), plus coverage."""
    records = []
    domains = sorted(n_candidates)
    for domain in domains + ([ALL] if domains != [ALL] else []):
        in_domain = per_user if domain == ALL else per_user[per_user["domain"] == domain]
        n_cand = sum(n_candidates.values()) if domain == ALL else n_candidates[domain]
        for group in (ALL, "cold", "warm"):
            rows = in_domain if group == ALL else in_domain[in_domain["group"] == group]
            if group != ALL and rows.empty:
                continue
            for metric in METRICS:
                values = rows[metric].dropna()
                records.append((domain, group, metric, values.mean() if len(values) else np.nan, len(values), k))
            recommended = {
                (d, int(i))
                for d, sub in rows.groupby("domain", sort=False)
                for i in np.unique(tops[d][sub["row"].to_numpy()])
                if i >= 0
            }
            records.append((domain, group, "coverage", len(recommended) / n_cand, len(rows), k))
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def evaluate(
    model: Any,
    split: Split,
    k: int = 10,
    candidates: Iterable[Hashable] | None = None,
    users: str = "test",
    batch_size: int = 512,
    show_progress: bool = False,
    return_per_user: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Full-ranking metrics of a fitted model on the held-out rows of a split, per domain and group.

    For each domain ``d`` of the held-out items: the users with held-out items in ``d`` rank
    every candidate of ``d`` (the catalogue items of ``d`` in ``split.items``, intersected with
    ``candidates``, or with ``split.candidates`` when ``candidates`` is None); each user's
    history items (``split.train``, plus the fold-in rows for the cold_user protocol) are
    excluded from the ranking; the held-out items among the candidates are the relevant ones.
    Candidates are ranked in a fixed pseudo-random order of the catalogue, so tied scores
    are broken at random (but reproducibly) rather than by id order, which often encodes
    popularity. Metrics are those of :func:`~hybridrec.evaluation.ranking_metrics` at ``k`` (same ties and
    exclusion rules) plus ``coverage`` = distinct items in the users' top-k / candidates.

    Parameters
    ----------
    model : object or callable
        Fitted on ``split.train`` (and ``split.items``). Scores come from, in order:

        - ``model.score_new(history, user_ids, item_ids)`` when the split has fold-in rows
          (cold_user protocol): ``history`` holds the fold-in rows (``split.fold_in``, or
          ``split.fold_in_valid`` for ``users="valid"``, all columns) of exactly the users in
          ``user_ids`` (a user without fold-in rows is absent from it), and the result must be
          an array of shape ``(len(user_ids), len(item_ids))`` whose row ``i`` scores
          ``user_ids[i]``;
        - ``model.score_items(user_ids, item_ids)`` otherwise (``HybridRecommender`` has it);
        - ``model(user_ids, item_ids)`` for a plain callable (a baseline, say); with fold-in
          rows the callable must read the history itself.

        ``user_ids`` and ``item_ids`` are lists of raw ids; higher scores rank first. Items in
        ``model.held_item_ids_``, when it has one, rank last: a ``HybridRecommender`` never
        lists the items its text screen holds (``screen_texts="hold"``).
    split : Split
    k : int, default=10
        Cut-off of the @k metrics and of coverage.
    candidates : iterable of item ids, optional
        Restrict the ranking to these items (e.g. ``split.cold_items``); users whose held-out
        items are all outside the candidates are not evaluated.
    users : {"test", "valid"}, default="test"
        Evaluate the held-out rows of ``split.test`` or ``split.valid``.
    batch_size : int, default=512
        Users scored per call of the model.
    show_progress : bool, default=False
        A progress bar over user batches.
    return_per_user : bool, default=False
        Also return each evaluated user's metrics, for confidence intervals or paired
        comparisons of two models on the same split (the users come in the same order for
        every model).

    Returns
    -------
    metrics : DataFrame
        Long format with columns ``domain, group, metric, value, n_users, k``: for every
        domain (sorted), then for the aggregate domain ``"all"`` (always present), the
        groups ``"all"``, ``"cold"`` (users with no history in that domain) and ``"warm"``
        (the others; empty cold/warm groups are left out); the metrics ``precision, recall, ndcg, map,
        mrr, hit_rate, auc, coverage``. ``value`` is the mean over the users who have relevant
        candidates (``n_users`` of them; users with no relevant items are skipped and not
        counted, and ``auc`` also skips users for whom every candidate is relevant). In the
        ``"all"`` domain a user evaluated in two domains counts twice (once per domain);
        its coverage is over the candidates of all domains.
    per_user : DataFrame
        Only with ``return_per_user=True``: one row per (domain, user) averaged above, in
        evaluation order (domains sorted, then users in order of their first held-out row),
        with columns ``domain, group``, the split's user column, ``n_relevant`` and the
        metrics except ``coverage``.
    """
    if not isinstance(split, Split):
        raise ValueError(f"The 'split' parameter of evaluate must be a Split. Got {type(split).__name__} instead.")
    k = check_positive_int(k, "k", "evaluate")
    batch_size = check_positive_int(batch_size, "batch_size", "evaluate")
    check_choice(users, "users", ["test", "valid"], "evaluate")
    held = split.test if users == "test" else split.valid
    if held is None:
        raise ValueError(f"The 'users' parameter of evaluate is {users!r} but the split has no {users} rows.")
    fold_in = split.fold_in if users == "test" else split.fold_in_valid
    ucol, icol = split.user_col, split.item_col
    if return_per_user and ucol in {"domain", "group", "row", "n_relevant", *METRICS}:
        raise ValueError(f"evaluate(return_per_user=True) names its columns 'domain', 'group', 'n_relevant' and the "
                         f"metrics, so the split's user column cannot be called {ucol!r}; rename it.")
    score = _scorer(model, fold_in, ucol)
    history = split.train if fold_in is None else pd.concat([split.train, fold_in])
    catalogue = _catalogue(split, [split.train, held] + ([fold_in] if fold_in is not None else []))
    allowed = _candidate_ids(split.candidates if candidates is None else candidates, catalogue)
    held_domain = catalogue.reindex(held[icol].to_numpy()).to_numpy()
    if pd.isna(held_domain).any():
        unknown = pd.unique(held[icol].to_numpy()[pd.isna(held_domain)])
        raise ValueError(f"The split's {users} rows refer to items missing from split.items: {preview(unknown)}.")
    history_domain = catalogue.reindex(history[icol].to_numpy()).to_numpy()

    frames, tops, n_candidates = [], {}, {}
    for domain in sorted(pd.unique(held_domain)):
        items = catalogue.index[catalogue.to_numpy() == domain]
        # A fixed pseudo-random candidate order: ties (a scorer with no signal) must not follow
        # the dataset's id order, which often encodes popularity.
        items = items[np.random.default_rng(0).permutation(len(items))]
        if allowed is not None:
            items = items[items.isin(allowed)]
        rows = held[(held_domain == domain) & held[icol].isin(items).to_numpy()]
        if len(items) == 0 or rows.empty:
            logger.warning("evaluate: no %s users have held-out candidates in domain %r; skipped.", users, domain)
            continue
        start = time.perf_counter()
        user_ids = pd.Index(pd.unique(rows[ucol].to_numpy()))
        relevant = _matrix(rows, user_ids, items, ucol, icol)
        exclude = _matrix(history, user_ids, items, ucol, icol)
        warm = user_ids.isin(history[ucol].to_numpy()[history_domain == domain])
        item_list, parts, top = items.tolist(), [], []
        batches = range(0, len(user_ids), batch_size)
        if show_progress:
            batches = tqdm(batches, desc=f"evaluate {domain}", unit="batch")
        for first in batches:
            block = slice(first, first + batch_size)
            scores = _score_block(score, user_ids[block].tolist(), item_list)
            parts.append(ranking_metrics(scores, relevant[block], exclude[block], k))
            top.append(top_k_items(scores, exclude[block], min(k, len(item_list))))  # for coverage: no padding
        metrics = pd.concat(parts, ignore_index=True)
        metrics.insert(0, "row", np.arange(len(user_ids)))
        if return_per_user:
            metrics.insert(0, ucol, user_ids.to_numpy())
        metrics.insert(0, "group", np.where(warm, "warm", "cold"))
        metrics.insert(0, "domain", domain)
        frames.append(metrics)
        tops[domain], n_candidates[domain] = np.vstack(top), len(items)
        logger.info("evaluate: domain %r, %d users x %d candidates in %.1fs",
                    domain, len(user_ids), len(items), time.perf_counter() - start)
    if not frames:
        raise ValueError(f"evaluate found no {users} users with held-out items among the candidates.")
    per_user = pd.concat(frames, ignore_index=True)
    per_user = per_user[per_user["n_relevant"] > 0]  # users with no relevant candidate are not evaluated
    metrics = _aggregate(per_user, tops, n_candidates, k)
    if not return_per_user:
        return metrics
    return metrics, per_user[["domain", "group", ucol, "n_relevant", *METRICS]].reset_index(drop=True)
