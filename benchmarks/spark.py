"""Spark in local mode against the single process: ALS quality and time, batch recommendation, partitions.

- **ALS on Amazon Food-Kitchen**, CD-cold food -> kitchen (official test users, seed 0): an
  ALS-only ``HybridRecommender`` trained by implicit (``ALSComponent``) and by Spark ML in
  ``local[2]`` (``SparkALSComponent``, the same parameters mapped), fit time and NDCG@10;
- **batch recommendation** for every user of a synthetic dataset (``make_synthetic``, 10M
  interactions, 1M users; 1M interactions with ``--quick``): top-10 kitchen items from an
  ALS-only model, ``model.recommend`` in this process against ``recommend_spark`` in
  ``local[2]`` with 2, 4 and 8 partitions (written to Parquet). On one machine Spark only adds
  work (serialising the model, Python workers, Arrow); the partition column is what carries to a
  cluster, where partitions run on separate machines.

    python benchmarks/spark.py            # about 30 minutes on 2 cores
    python benchmarks/spark.py --quick    # the 1M-interaction dataset

Writes ``benchmarks/results/spark.md`` and ``spark.json``. Needs pyspark and Java 17+.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import hybridrec as hr
from hybridrec.components import ALSComponent
from hybridrec.datasets import official_users
from hybridrec.evaluation import cross_domain_split
from hybridrec.evaluation.report import write_json, write_text
from hybridrec.synthetic import make_synthetic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, commit, load_amazon, ndcg, parse  # noqa: E402

ALS = {"factors": 64, "regularization": 0.1, "alpha": 10.0, "iterations": 15}



def bench_als(ds) -> list[dict]:
    from hybridrec.spark import SparkALSComponent

    test, valid = official_users(ds)
    split = cross_domain_split(ds.interactions, ds.items, "kitchen", test_users=test, valid_users=valid, seed=0)
    view = dataclasses.replace(split, train=split.train[split.train["user_id"].isin(split.test["user_id"].unique())])
    rows = []
    for name, comp in (("implicit ALS (this process, 2 threads)", ALSComponent(**ALS)),
                       ("Spark ML ALS (local[2])", SparkALSComponent(**ALS))):
        model = hr.HybridRecommender(components=[("als", comp)], random_state=0, show_progress=False)
        model.fit(split.train, items=split.items)
        rows.append({"system": name, "fit_s": model.components_["als"].fit_seconds_, "ndcg": ndcg(model, view)})
        print(rows[-1], flush=True)
    return rows


def bench_batch(n_interactions: int, spark) -> dict:
    from hybridrec.spark import recommend_spark

    ds = make_synthetic(n_interactions, seed=0)
    model = hr.HybridRecommender(components=[("als", ALSComponent(**ALS))], random_state=0, show_progress=False)
    model.fit(ds.interactions, items=ds.items)
    users = model.data_.user_ids.to_numpy()
    start = time.perf_counter()
    model.recommend(list(users), k=10, domain="kitchen")
    local_s = time.perf_counter() - start
    out = {"interactions": len(ds.interactions), "users": len(users), "items": len(ds.items), "local_s": local_s,
           "spark_s": {}}
    frame = spark.createDataFrame(pd.DataFrame({"user_id": users})).cache()
    frame.count()
    with tempfile.TemporaryDirectory() as folder:
        for partitions in (2, 4, 8):
            start = time.perf_counter()
            recommend_spark(model, frame.repartition(partitions), k=10, domain="kitchen") \
                .write.mode("overwrite").parquet(str(Path(folder) / f"p{partitions}"))
            out["spark_s"][partitions] = time.perf_counter() - start
            print(f"{partitions} partitions: {out['spark_s'][partitions]:.1f}s (local {local_s:.1f}s)", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(__doc__, RESULTS / "spark.md", argv)
    try:
        from hybridrec.spark import session

        spark = session("local[2]")
    except Exception as exc:  # no pyspark or no Java: say so, write nothing
        print(f"spark.py: {exc}")
        return 0
    start = time.perf_counter()
    ds = load_amazon(args.data, "spark.py")
    als = bench_als(ds) if ds is not None else []
    batch = bench_batch(1_000_000 if args.quick else 10_000_000, spark)
    import pyspark

    lines = ["# Spark (local mode) against the single process", "",
             f"- Command: `python benchmarks/spark.py{' --quick' if args.quick else ''}`",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; git commit `{commit()}`; total "
             f"{(time.perf_counter() - start) / 60:.1f} min",
             f"- Machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python "
             f"{platform.python_version()}, pyspark {pyspark.__version__}, Spark master local[2]", ""]
    if als:
        lines += ["## ALS on Amazon Food-Kitchen, CD-cold food -> kitchen (official test users, seed 0)", "",
                  f"Parameters {ALS} (Spark: mapped by `spark_als_params`).", "",
                  "| system | ALS fit s | NDCG@10 |", "|---|---|---|"]
        lines += [f"| {r['system']} | {r['fit_s']:.1f} | {r['ndcg']:.4f} |" for r in als]
    lines += ["", f"## Batch recommendation: top-10 kitchen items for all {batch['users']:,} users", "",
              f"`make_synthetic({batch['interactions']:,} interactions)`, {batch['items']:,} items, ALS alone. "
              "Spark: `recommend_spark` in local[2], written to Parquet.", "",
              "| how | seconds | users/s | vs this process |", "|---|---|---|---|",
              f"| `model.recommend` in this process | {batch['local_s']:.1f} | {batch['users'] / batch['local_s']:,.0f} | 1.00x |"]
    for partitions, seconds in batch["spark_s"].items():
        lines.append(f"| `recommend_spark`, {partitions} partitions | {seconds:.1f} | {batch['users'] / seconds:,.0f} | "
                     f"{batch['local_s'] / seconds:.2f}x |")
    best = max(batch["spark_s"], key=lambda n: batch["local_s"] / batch["spark_s"][n])
    ratio = batch["local_s"] / batch["spark_s"][best]
    lines += ["", f"Spark's best here is {ratio:.2f}x this process ({best} partitions). "
              + ("Why is not profiled: over 100,000 users `model.recommend` already uses about 1.9 cores "
                 "(CPU time over wall time), so the gain at 1,000,000 users is not simply Spark's second worker. "
                 if ratio > 1.05 else
                 "On one machine Spark adds the model's broadcast, Python workers and Arrow transfers for little "
                 "gain. ")
              + "What carries over to a cluster is the partition column: each partition is an independent "
              "`recommend` call on its own executor, and the model is broadcast once (`broadcast_model`)."]
    write_text(args.out, "\n".join(lines) + "\n")
    write_json(args.out.with_suffix(".json"), {"commit": commit(), "als": als, "batch": batch})
    print(f"wrote {args.out}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
