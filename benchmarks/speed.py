"""Speed against the raw libraries, as ratios measured in one run on the same data.

Amazon Food-Kitchen (``../shared/datasets``), on this machine, each pair timed back to back:

- **encode**: ``TextEncoder`` (empty cache) against ``SentenceTransformer.encode`` with the same
  model and batch size, on real titles; then ``TextEncoder`` again from its cache; then the
  ``onnx-int8`` backend against the torch one, and its embeddings' cosine to torch's;
- **LightFM fit**: ``LightFMComponent`` (default text features) against ``LightFM.fit`` on the
  same feature matrices and parameters (ours also compresses the text and resamples the
  history features each epoch);
- **ALS fit**: an ALS-only ``HybridRecommender`` (no text) against implicit's
  ``AlternatingLeastSquares.fit`` with the same parameters on the same matrix, both with BLAS
  on one thread as implicit advises (with threaded BLAS the raw fit is slower);
- **recommend**: top-10 kitchen items, seen items left out, for 10,000 users: an ALS-only
  ``HybridRecommender`` (first call, which solves the users' factors, and a repeated call, which
  reads them from its cache) against implicit's batched ``recommend(items=kitchen)``;
- **blend overhead**: the same recommend call as components are added (PureSVD keeps the blend
  linear, ranked by one product; item-kNN sends it down the exact path);
- **ANN retrieval** (``recommend(..., candidates=N)``): a synthetic catalogue of 1M items (200k
  with ``--quick``) drawn from a mixture of the real ALS item factors' k-means clusters
  (``synthetic_catalogue``), 2,000 real users' factors as queries; the HNSW search against
  implicit's exact top-k on the same vectors; and its recall on the real kitchen domain.

    python benchmarks/speed.py            # 2,000 titles, 3 repeats (best of)
    python benchmarks/speed.py --quick    # 500 titles, 1 repeat (a few minutes)

Writes ``benchmarks/results/speed.md`` and ``speed.json``.
"""
from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

import hybridrec as hr
from hybridrec.components import ALSComponent, ItemKNNComponent, LightFMComponent, PureSVDComponent
from hybridrec.evaluation.report import write_json, write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, commit, load_amazon, parse  # noqa: E402

ALS = {"factors": 64, "regularization": 0.1, "alpha": 10.0, "iterations": 15}


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _row(what: str, ours: float, raw: float, unit: str, goal: str, ratio: float, met: bool | None) -> dict:
    return {"what": what, "hybridrec": ours, "raw": raw, "unit": unit, "ratio": ratio, "goal": goal,
            "met": None if met is None else bool(met)}


def bench_encoder(titles: list[str], repeats: int) -> list[dict]:
    from sentence_transformers import SentenceTransformer

    from hybridrec.text import _bundled_model_path

    batch = 64
    raw_model = SentenceTransformer(str(_bundled_model_path()), device="cpu")
    raw_s, _ = _best(lambda: raw_model.encode(titles, batch_size=batch, normalize_embeddings=True), repeats)
    ours_s, cached_s = np.inf, np.inf
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            encoder = hr.TextEncoder(batch_size=batch, cache_dir=cache)
            encoder.encode(titles[:2])  # load the model outside the timing, as for the raw model
            first, _ = _best(lambda: encoder.encode(titles), 1)
            again, _ = _best(lambda: hr.TextEncoder(batch_size=batch, cache_dir=cache).encode(titles), 1)
            ours_s, cached_s = min(ours_s, first), min(cached_s, again)
    n = len(titles)
    rows = [
        _row(f"encode {n} titles (texts/s, batch {batch})", n / ours_s, n / raw_s, "texts/s", ">= 0.95x",
             raw_s / ours_s, raw_s / ours_s >= 0.95),
        _row(f"cached re-encode of the same {n} titles vs encoding", n / cached_s, n / ours_s, "texts/s", ">= 50x",
             ours_s / cached_s, ours_s / cached_s >= 50),
    ]
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return rows
    with tempfile.TemporaryDirectory() as cache:
        onnx = hr.TextEncoder(batch_size=batch, cache_dir=cache, backend="onnx-int8")
        start = time.perf_counter()
        onnx.encode(titles[:2])  # the one-off export, outside the timing
        export_s = time.perf_counter() - start
        reference = hr.TextEncoder(batch_size=batch, cache_dir=None).encode(titles)
        int8_s = np.inf
        for _ in range(repeats):
            int8_s = min(int8_s, _best(lambda: onnx.set_params(cache_dir=None).encode(titles), 1)[0])
        cosine = float((onnx.encode(titles) * reference).sum(axis=1).mean())
    rows.append(_row(f"onnx-int8 backend vs torch backend, {n} titles (export once: {export_s:.0f} s)",
                     n / int8_s, n / ours_s, "texts/s", ">= 2x", ours_s / int8_s, ours_s / int8_s >= 2))
    rows.append(_row(f"onnx-int8 mean cosine to torch on the same {n} titles", cosine, 1.0, "", ">= 0.99",
                     cosine, cosine >= 0.99))
    return rows


def bench_als_fit(interactions, repeats: int) -> tuple[list[dict], Any, Any]:
    from implicit.als import AlternatingLeastSquares

    model = hr.HybridRecommender(components=[("als", ALSComponent(**ALS, num_threads=0))], random_state=0)
    ours_s, model = _best(lambda: model.fit(interactions), repeats)
    matrix = model.data_.matrix.astype(np.float32)
    raw = AlternatingLeastSquares(**ALS, random_state=0)
    with threadpool_limits(1, "blas"):  # implicit's own advice (hybridrec follows it too)
        raw_s, _ = _best(lambda: raw.fit(matrix, show_progress=False), repeats)
    return [_row(f"ALS fit, text off ({matrix.nnz:,} interactions)", ours_s, raw_s, "s", "<= 1.10x",
                 ours_s / raw_s, ours_s / raw_s <= 1.10)], raw, matrix


def bench_lightfm(interactions, items, epochs: int) -> list[dict]:
    """LightFMComponent's fit against raw ``LightFM.fit`` on the same matrices, same parameters."""
    from hybridrec.components.base import TrainingData
    from hybridrec.components.lightfm_hybrid import sample_rows
    from hybridrec.features import row_normalise, stack_features

    model = hr.HybridRecommender(components=[("lightfm", LightFMComponent(epochs=1))], random_state=0,
                                 show_progress=False).fit(interactions, items=items)
    data = TrainingData(matrix=model.data_.matrix, item_domain=model.data_.item_domain,
                        item_blocks={"text": model.encoder_.encode(model.data_.item_texts)}, random_state=0)
    component = LightFMComponent(epochs=epochs)
    ours_s, _ = _best(lambda: component.fit(data), 1)
    inputs = component.training_inputs(data)
    user_features = stack_features(row_normalise(sample_rows(data.matrix, component.max_history,
                                                             np.random.default_rng(0))), inputs["user_text"])
    raw = component.lightfm_model(0)
    raw_s, _ = _best(lambda: raw.fit(inputs["interactions"], user_features=user_features,
                                     item_features=inputs["item_features"], sample_weight=inputs["sample_weight"],
                                     epochs=epochs), 1)
    what = (f"LightFM fit, {epochs} epochs, default text features ({data.matrix.nnz:,} interactions; raw: the same "
            "matrices, one history sample for all epochs)")
    return [_row(what, ours_s, raw_s, "s", "<= 1.5x", ours_s / raw_s, ours_s / raw_s <= 1.5)]


def bench_recommend(interactions, items, raw, n_users: int, repeats: int) -> tuple[list[dict], Any]:
    def hybrid(components: list) -> hr.HybridRecommender:
        return hr.HybridRecommender(components=components, weights={n: 1.0 for n, _ in components},
                                    random_state=0).fit(interactions, items=items)

    model = hybrid([("als", ALSComponent(**ALS))])
    users = model.data_.user_ids[:n_users].tolist()
    kitchen = model.data_.items_in_domain(model.data_.domain_code("kitchen"))
    # implicit on hybridrec's own matrix and factors' layout: same users, same items.
    with threadpool_limits(1, "blas"):
        raw.fit(model.data_.matrix.astype(np.float32), show_progress=False)
    rows = np.arange(n_users)
    user_items = model.data_.matrix[rows].astype(np.float32)
    raw_s, _ = _best(lambda: raw.recommend(rows, user_items, N=10, filter_already_liked_items=True, items=kitchen),
                     repeats)
    first_s, _ = _best(lambda: model.recommend(users, k=10, domain="kitchen"), 1)
    again_s, _ = _best(lambda: model.recommend(users, k=10, domain="kitchen"), repeats)
    out = [
        _row(f"recommend {n_users:,} users, ALS alone, first call (solves factors)", n_users / first_s,
             n_users / raw_s, "users/s", ">= 1x", raw_s / first_s, raw_s / first_s >= 1),
        _row(f"recommend {n_users:,} users, ALS alone, repeated call", n_users / again_s, n_users / raw_s,
             "users/s", ">= 1x", raw_s / again_s, raw_s / again_s >= 1),
    ]
    exact = model.recommend(users[:3000], k=10, domain="kitchen").groupby("user_id")["item_id"].apply(set)
    for candidates in (50, 200):
        took, approx = _best(lambda: model.recommend(users[:3000], k=10, domain="kitchen", candidates=candidates), 1)
        found = approx.groupby("user_id")["item_id"].apply(set)
        recall = float(np.mean([len(exact[u] & found.get(u, set())) / max(len(exact[u]), 1) for u in exact.index]))
        out.append(_row(f"recommend(candidates={candidates}), ALS alone, 3,000 users x {len(kitchen):,} real kitchen "
                        "items (first call builds the index): recall@10 against the exact call", recall, 1.0, "",
                        "(real data)", recall, None))
    base = again_s
    for label, components in [("+ PureSVD (linear blend)", [("als", ALSComponent(**ALS)), ("svd", PureSVDComponent())]),
                              ("+ PureSVD + item-kNN (exact path)", [("als", ALSComponent(**ALS)),
                                                                     ("svd", PureSVDComponent()),
                                                                     ("itemknn", ItemKNNComponent())])]:
        blended = hybrid(components)
        blended.recommend(users, k=10, domain="kitchen")
        took, _ = _best(lambda: blended.recommend(users, k=10, domain="kitchen"), repeats)
        out.append(_row(f"recommend {n_users:,} users, ALS {label}, repeated call", n_users / took, n_users / base,
                        "users/s", "(overhead)", base / took, None))
    return out, model.components_["als"]


def synthetic_catalogue(item_factors: np.ndarray, n_items: int, seed: int = 0, clusters: int = 256) -> np.ndarray:
    """``n_items`` vectors with the real factors' shape: a mixture of their k-means clusters.

    The real item factors are split into ``clusters`` k-means clusters; each new vector picks a
    cluster with the cluster's share of real items and is drawn from a Gaussian with that
    cluster's mean and per-dimension spread. (One Gaussian over all factors, an earlier choice,
    has no cluster structure at all: far harder for any index than real factors.)
    """
    import faiss

    rng = np.random.default_rng(seed)
    real = np.ascontiguousarray(item_factors[np.linalg.norm(item_factors, axis=1) > 0], dtype=np.float32)
    kmeans = faiss.Kmeans(real.shape[1], clusters, niter=20, seed=seed)
    kmeans.train(real)
    label = kmeans.index.search(real, 1)[1].ravel()
    sizes = np.bincount(label, minlength=clusters)
    means = np.stack([real[label == c].mean(axis=0) if sizes[c] else kmeans.centroids[c] for c in range(clusters)])
    spread = np.stack([real[label == c].std(axis=0) if sizes[c] > 1 else real.std(axis=0) for c in range(clusters)])
    pick = rng.choice(clusters, size=n_items, p=sizes / sizes.sum())
    return (means[pick] + rng.standard_normal((n_items, real.shape[1])) * spread[pick]).astype(np.float32)


def bench_ann(item_factors: np.ndarray, user_factors: np.ndarray, n_items: int, repeats: int) -> list[dict]:
    """``candidates=`` on a synthetic catalogue of ``n_items`` shaped like the real ALS item factors."""
    from implicit.cpu.topk import topk

    from hybridrec._linear import ann_index, ann_search

    items = synthetic_catalogue(item_factors, n_items)
    # What the linear path ranks under z-score: centred item vectors (the user's 1/spread does not change ranks).
    items = np.ascontiguousarray(items - items.mean(axis=0), dtype=np.float32)
    queries = np.ascontiguousarray(user_factors, dtype=np.float32)
    exact_s, (exact, _) = _best(lambda: topk(items, queries, 10, num_threads=0), repeats)
    start = time.perf_counter()
    index = ann_index(items)
    build_s = time.perf_counter() - start
    rows = []
    for candidates in (100, 200, 400):
        ann_s, found = _best(lambda: ann_search(index, queries, 10, candidates), repeats)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)]))
        what = f"candidates={candidates}: {len(queries):,} real users x {n_items:,} synthetic items (index built once: {build_s:.0f} s)"
        rows.append(_row(what + ", speed vs exact top-k", len(queries) / ann_s, len(queries) / exact_s, "users/s",
                         ">= 10x", exact_s / ann_s, exact_s / ann_s >= 10))
        rows.append(_row(f"candidates={candidates}: recall@10 against the exact top-10", recall, 1.0, "", ">= 0.95",
                         recall, recall >= 0.95))
    return rows


def render(report: dict) -> str:
    lines = ["# Speed against the raw libraries", "",
             f"- Command: `{report['command']}`",
             f"- Date: {report['date']}; git commit `{report['commit']}`",
             f"- Machine: {report['machine']}; {report['versions']}",
             f"- Data: Amazon Food-Kitchen ({report['interactions']:,} interactions); best of {report['repeats']} "
             "(the machine is shared: ratios are measured back to back in one run)",
             f"- Peak RSS of the run: {report['peak_rss_mb']:.0f} MB", "",
             "ratio = hybridrec's speed / the raw library's (for times: raw time / ours, so > 1 is faster; "
             "for the fit row: our time / raw time, a cost)", "",
             "| what | hybridrec | raw | ratio | goal | |", "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        met = "" if r["met"] is None else ("met" if r["met"] else "not met")
        fmt = ",.1f" if r["unit"] else ".4f"
        lines.append(f"| {r['what']} | {r['hybridrec']:{fmt}} {r['unit']} | {r['raw']:{fmt}} {r['unit']} | "
                     f"{r['ratio']:.2f}x | {r['goal']} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse(__doc__, RESULTS, argv)
    ds = load_amazon(args.data, "speed.py")
    if ds is None:
        return 0
    repeats, n_titles = (1, 500) if args.quick else (3, 2000)
    titles = ds.items["text"].sample(n_titles, random_state=0).tolist()
    rows = bench_encoder(titles, repeats)
    print(*(f"{r['what']}: {r['ratio']:.2f}x" for r in rows), sep="\n", flush=True)
    fit_rows, raw, matrix = bench_als_fit(ds.interactions, repeats)
    print(f"{fit_rows[0]['what']}: {fit_rows[0]['ratio']:.2f}x", flush=True)
    fit_rows += bench_lightfm(ds.interactions, ds.items, 2 if args.quick else 5)
    print(f"{fit_rows[-1]['what']}: {fit_rows[-1]['ratio']:.2f}x", flush=True)
    rec_rows, als = bench_recommend(ds.interactions, ds.items, raw, 10_000, repeats)
    print(*(f"{r['what']}: {r['ratio']:.2f}x" for r in rec_rows), sep="\n", flush=True)
    ann_rows = bench_ann(als.item_factors_, als.user_factors_[:2000], 200_000 if args.quick else 1_000_000, repeats)
    print(*(f"{r['what']}: {r['ratio']:.2f}x" for r in ann_rows), sep="\n", flush=True)
    import implicit
    import sentence_transformers
    import torch

    report = {
        "command": "python benchmarks/speed.py" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": commit(), "repeats": repeats,
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}",
        "versions": f"implicit {implicit.__version__}, sentence-transformers {sentence_transformers.__version__}, "
                    f"torch {torch.__version__}, numpy {np.__version__}",
        "interactions": int(matrix.nnz),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": rows + fit_rows + rec_rows + ann_rows,
    }
    write_json(args.out / "speed.json", report)
    write_text(args.out / "speed.md", render(report))
    print(f"wrote {args.out / 'speed.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
