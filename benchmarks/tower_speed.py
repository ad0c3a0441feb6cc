"""Fit time and validation quality of the tower (sequence encoder), on Amazon warm next-item and the sample.

For each setting: fit a HybridRecommender holding only the tower on the warm next-item split's
training rows (the split of ``quality.py``: the official users' last events held out, the
catalogue in the same seeded order), then evaluate NDCG@10 on the split's *validation* users
(never the test users). Reports the fit's seconds, seconds per epoch, epochs run, the epoch
kept, and the per-epoch curve. ``--profile`` runs the fit under torch's profiler and writes
which operators its time goes to (use it with ``--set max_epochs=1``).

    python benchmarks/tower_speed.py                        # Amazon + sample + the demo's fit, default settings
    python benchmarks/tower_speed.py --what sample --set negatives=256 --set max_epochs=8
    python benchmarks/tower_speed.py --what amazon --profile
    python benchmarks/tower_speed.py --label before --out benchmarks/results/tower_speed

Writes ``<out>/<label>.json`` and ``<label>.md``.
"""
from __future__ import annotations

import argparse
import ast
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hybridrec as hr  # noqa: E402
from _common import commit  # noqa: E402
from hybridrec.components import TowerComponent  # noqa: E402
from hybridrec.evaluation import evaluate, leave_last_split  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

log = logging.getLogger("tower_speed")
SEED = 0


def _amazon(root: Path) -> tuple[Any, str]:
    from _quality_protocols import warm_split

    return warm_split(root, SEED), "valid"


def _sample() -> tuple[Any, str]:
    ds = hr.datasets.load_sample()
    split = leave_last_split(ds.interactions, timestamp_col="timestamp", seed=SEED, items=ds.items)
    return split, "valid"


def run_one(name: str, split: Any, users: str, params: dict[str, Any], profile: bool) -> dict[str, Any]:
    tower = TowerComponent(**{"encoder": "sequence", **params})
    model = hr.HybridRecommender(components=[("tower", tower)], random_state=SEED)
    profiler = None
    if profile:
        import torch

        profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    start = time.perf_counter()
    if profiler is not None:
        profiler.start()
    model.fit(split.train, items=split.items)
    if profiler is not None:
        profiler.stop()
    fit_s = time.perf_counter() - start
    fitted = model.components_["tower"]
    metrics = evaluate(model, split, k=10, users=users)
    row = (metrics["domain"] == "all") & (metrics["group"] == "all") & (metrics["metric"] == "ndcg")
    ndcg = float(metrics.loc[row, "value"].iloc[0])
    curve = fitted.training_curve_
    seconds = [c["seconds"] for c in curve]
    per_epoch = [round(b - a, 2) for a, b in zip([0.0] + seconds[:-1], seconds)]
    out = {"data": name, "params": params, "fit_seconds": round(fit_s, 1),
           "train_seconds": round(float(fitted.train_seconds_), 1), "epochs": len(curve),
           "best_epoch": int(fitted.best_epoch_), "seconds_per_epoch": per_epoch,
           "valid_ndcg@10": round(ndcg, 4), "curve": curve}
    if profiler is not None:
        out["profile"] = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
    log.info("%s %s: fit %.1fs, %d epochs (best %d), %s s/epoch, valid NDCG@10 %.4f", name, params, fit_s,
             len(curve), fitted.best_epoch_, per_epoch, ndcg)
    return out


def run_demo() -> dict[str, Any]:
    """The demo's fit: the default model on the whole sample (embeddings cached), per component."""
    ds = hr.datasets.load_sample()
    model = hr.HybridRecommender(cross_domain_weight=0.5, random_state=SEED)
    model.fit(ds.interactions, items=ds.items, users=ds.users)  # warms the embedding cache
    start = time.perf_counter()
    model = hr.HybridRecommender(cross_domain_weight=0.5, random_state=SEED)
    model.fit(ds.interactions, items=ds.items, users=ds.users)
    fit_s = time.perf_counter() - start
    parts = {name: round(comp.fit_seconds_, 1) for name, comp in model.components_.items()}
    log.info("demo fit %.1fs: %s", fit_s, parts)
    return {"fit_seconds": round(fit_s, 1), "components": parts}


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# Tower fit time and validation quality: {report['label']}", "",
             f"- Command: `{report['command']}`", f"- Commit `{report['commit']}`; {report['machine']}", "",
             "| data | settings | fit s | training s | epochs | best epoch | s/epoch | valid NDCG@10 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        settings = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "defaults"
        mean = sum(r["seconds_per_epoch"]) / max(1, len(r["seconds_per_epoch"]))
        lines.append(f"| {r['data']} | {settings} | {r['fit_seconds']} | {r['train_seconds']} | {r['epochs']} | "
                     f"{r['best_epoch']} | {mean:.1f} | {r['valid_ndcg@10']:.4f} |")
    if report.get("demo"):
        d = report["demo"]
        lines += ["", f"The demo's fit (`hybridrec demo`: the default model on the whole sample, embeddings cached): "
                      f"{d['fit_seconds']} s; per component: " + ", ".join(f"{n} {s} s" for n, s in d["components"].items())]
    for r in report["runs"]:
        lines += ["", f"## {r['data']}: curve", "", "| epoch | loss | held-out recall@20 | seconds |", "|---|---|---|---|"]
        lines += [f"| {c['epoch']} | {c['loss']:.4f} | {c['valid_recall@20']:.4f} | {c['seconds']} |" for c in r["curve"]]
        if "profile" in r:
            lines += ["", "### torch profiler (torch operators, sorted by own CPU time)", "", "```", r["profile"].strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "datasets")
    parser.add_argument("--what", default="amazon,sample,demo")
    parser.add_argument("--set", action="append", default=[], help="a TowerComponent parameter, name=value")
    parser.add_argument("--profile", action="store_true", help="profile the fit (use with --set max_epochs=1)")
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "tower_speed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    params = _parse_sets(args.set)
    runs, demo = [], None
    for name in args.what.split(","):
        if name == "demo":
            demo = run_demo()
            continue
        if name == "amazon":
            if not (args.data / "amazon_food_kitchen_llmcdsr").is_dir():
                log.warning("Amazon Food-Kitchen is not under %s; skipped", args.data)
                continue
            split, users = _amazon(args.data)
        else:
            split, users = _sample()
        runs.append(run_one(name, split, users, params, args.profile))
    report = {"label": args.label, "command": "python benchmarks/tower_speed.py " + " ".join(argv or sys.argv[1:]),
              "commit": commit(), "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
              "runs": runs, "demo": demo}
    write_json(args.out / f"{args.label}.json", report)
    write_text(args.out / f"{args.label}.md", _markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
