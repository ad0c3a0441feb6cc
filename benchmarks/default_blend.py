"""The default model with and without the sequence tower, on the Amazon protocols of ``quality.py``.

Both are ``HybridRecommender()`` with the declared default weights, fitted on each protocol's
training rows and scored on its test users (the same splits and evaluation as ``quality.py``);
the second gives the tower weight 0. Answers one question: does the tower, now a default
component on ordered interactions, lift the untuned default blend?

    python benchmarks/default_blend.py --quick     # the quick Amazon subset of quality.py --quick
    python benchmarks/default_blend.py             # the whole dataset

Writes ``benchmarks/results/out_of_the_box/default_blend[_quick].{md,json}``.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hybridrec as hr  # noqa: E402
from _common import commit  # noqa: E402
from _quality_budgets import full_budget, quick_budget  # noqa: E402
from _quality_protocols import build_tasks, load_datasets  # noqa: E402
from _quality_tuning import run_eval  # noqa: E402
from hybridrec.blend import default_weights  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

log = logging.getLogger("default_blend")
PROTOCOLS = ["cd_food2kitchen", "cd_kitchen2food", "warm"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "out_of_the_box")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    budget = quick_budget() if args.quick else full_budget()
    measured = commit()
    tasks = build_tasks(PROTOCOLS, load_datasets(args.data, set(PROTOCOLS), budget, 0), budget, 0)
    rows = []
    for task in tasks:
        base = hr.HybridRecommender(random_state=0, batch_size=2048)
        defaults = default_weights(base.named_components())
        for label, weights in (("default", None), ("default without the tower", {**defaults, "tower": 0.0})):
            model = hr.HybridRecommender(random_state=0, batch_size=2048, weights=weights)
            start = time.perf_counter()
            model.fit(task.split.train, items=task.split.items, users=task.split.users)
            seconds = time.perf_counter() - start
            _, cands, _ = task.sets[0]
            metrics = run_eval(model, task.split, "test", cands)
            rows.append({"protocol": task.title, "model": label, "ndcg@10": round(metrics["ndcg"], 4),
                         "users": metrics["n_users"], "fit_seconds": round(seconds, 1),
                         "weights": {n: w for n, w in model.weights_.items() if w}})
            log.info("%s, %s: NDCG@10 %.4f (fit %.0fs)", task.key, label, metrics["ndcg"], seconds)
    name = "default_blend_quick" if args.quick else "default_blend"
    command = "python benchmarks/default_blend.py" + (" --quick" if args.quick else "")
    write_json(args.out / f"{name}.json", {"command": command, "commit": measured, "rows": rows})
    lines = [f"# The default model with and without the tower ({'quick subset' if args.quick else 'whole data'})", "",
             f"- Command: `{command}`; commit `{measured}`; seed 0; test users, NDCG@10", "",
             "| protocol | model | NDCG@10 | users | fit s | weights |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['protocol']} | {r['model']} | {r['ndcg@10']:.4f} | {r['users']} | {r['fit_seconds']} | "
              + ", ".join(f"{n} {w:g}" for n, w in r["weights"].items()) + " |" for r in rows]
    write_text(args.out / f"{name}.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
