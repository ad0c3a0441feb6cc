"""Time hybridrec.evaluation.ranking_metrics against a naive per-user loop on the same data.

Random float32 scores for ``--users`` x ``--items``; per user a popularity-skewed (Zipf) set of
excluded "training" items (log-normal counts, median ~40) and a few held-out relevant items.
Both implementations must agree (``np.allclose``); the speed ratio naive / vectorised is
printed and written to ``benchmarks/results/metrics_speed.md``.

    python benchmarks/metrics_speed.py            # 2,000 users x 20,000 items
    python benchmarks/metrics_speed.py --quick    # 500 users x 5,000 items
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from hybridrec.evaluation import METRICS, ranking_metrics

RESULTS = Path(__file__).resolve().parent / "results" / "metrics_speed.md"


def make_data(n_users: int, n_items: int, seed: int) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    scores = rng.random((n_users, n_items), dtype=np.float32)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity = popularity[rng.permutation(n_items)]
    popularity /= popularity.sum()
    n_train = np.clip(rng.lognormal(np.log(40), 1.0, n_users).astype(int), 1, n_items // 4)
    n_test = 1 + rng.poisson(4, n_users)
    ex_rows, ex_cols, rel_rows, rel_cols = [], [], [], []
    for u in range(n_users):  # data generation only; not timed
        picked = rng.choice(n_items, size=n_train[u] + n_test[u], replace=False, p=popularity)
        ex_rows.append(np.full(n_train[u], u))
        ex_cols.append(picked[: n_train[u]])
        rel_rows.append(np.full(n_test[u], u))
        rel_cols.append(picked[n_train[u]:])
    shape = (n_users, n_items)
    exclude = sp.csr_matrix((np.ones(n_train.sum()), (np.concatenate(ex_rows), np.concatenate(ex_cols))), shape=shape)
    relevant = sp.csr_matrix((np.ones(n_test.sum()), (np.concatenate(rel_rows), np.concatenate(rel_cols))), shape=shape)
    return scores, relevant, exclude


def naive_metrics(scores: np.ndarray, relevant: sp.csr_matrix, exclude: sp.csr_matrix, k: int) -> np.ndarray:
    """The usual per-user loop: sort each user's candidates, walk the relevant items."""
    out = np.full((scores.shape[0], len(METRICS) + 1), np.nan)
    for u in range(scores.shape[0]):
        excluded = set(exclude.indices[exclude.indptr[u]:exclude.indptr[u + 1]].tolist())
        rel = set(relevant.indices[relevant.indptr[u]:relevant.indptr[u + 1]].tolist()) - excluded
        out[u, -1] = len(rel)
        if not rel:
            continue
        candidates = np.array([j for j in range(scores.shape[1]) if j not in excluded])
        s = scores[u, candidates]
        ranking = candidates[np.lexsort((candidates, -s))]  # score desc, ties by lower index
        ranks = sorted(int(np.flatnonzero(ranking == j)[0]) + 1 for j in rel)
        hits = [r for r in ranks if r <= k]
        dcg = sum(1.0 / np.log2(r + 1) for r in hits)
        idcg = sum(1.0 / np.log2(i + 2) for i in range(min(len(rel), k)))
        ap = sum((i + 1) / r for i, r in enumerate(hits)) / min(len(rel), k)
        negatives = np.sort(s[~np.isin(candidates, list(rel))])
        wins = 0.0
        for j in rel:
            lo = np.searchsorted(negatives, scores[u, j], side="left")
            hi = np.searchsorted(negatives, scores[u, j], side="right")
            wins += lo + 0.5 * (hi - lo)
        auc = wins / (len(rel) * len(negatives)) if len(negatives) else np.nan
        out[u, :-1] = [len(hits) / k, len(hits) / len(rel), dcg / idcg, ap, 1.0 / ranks[0], float(bool(hits)), auc]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 users x 5,000 items")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.users, args.items = 500, 5000

    scores, relevant, exclude = make_data(args.users, args.items, args.seed)
    print(f"{args.users} users x {args.items} items, {exclude.nnz} excluded, {relevant.nnz} relevant, k={args.k}")
    ranking_metrics(scores[:8], relevant[:8], exclude[:8], k=args.k)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fast = ranking_metrics(scores, relevant, exclude, k=args.k).to_numpy(dtype=float)
        times.append(time.perf_counter() - start)
    vectorised = min(times)
    start = time.perf_counter()
    slow = naive_metrics(scores, relevant, exclude, args.k)
    naive = time.perf_counter() - start
    same = bool(np.allclose(fast, slow, equal_nan=True))
    ratio = naive / vectorised
    print(f"vectorised ranking_metrics: {vectorised:.3f}s (best of 3)")
    print(f"naive per-user loop:        {naive:.3f}s")
    print(f"same numbers (np.allclose): {same}")
    print(f"speed ratio naive / vectorised: {ratio:.1f}x")
    means = dict(zip([*METRICS, "n_relevant"], np.nanmean(fast, axis=0)))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        "# ranking_metrics vs a naive per-user loop\n\n"
        f"Command: `python benchmarks/metrics_speed.py{' --quick' if args.quick else ''}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}).\n\n"
        f"Data: seed {args.seed}, {args.users} users x {args.items} items, random float32 scores, "
        f"{exclude.nnz} excluded (training) and {relevant.nnz} relevant entries, k={args.k}.\n\n"
        "| implementation | seconds |\n|---|---|\n"
        f"| `hybridrec.evaluation.ranking_metrics` (best of 3) | {vectorised:.3f} |\n"
        f"| naive per-user loop | {naive:.3f} |\n\n"
        f"**Speed ratio naive / vectorised: {ratio:.1f}x.** Same numbers (np.allclose, NaN = NaN): {same}.\n\n"
        "Mean metrics (sanity: random scores): "
        + ", ".join(f"{name} {value:.4f}" for name, value in means.items())
        + "\n"
    )
    print(f"wrote {args.output}")
    if not same:
        raise SystemExit("the two implementations disagree")


if __name__ == "__main__":
    main()
