"""Fuzz every public entry point with hypothesis: 10,000+ cases, results in results/fuzz.md.

Each case draws odd input (ids of mixed types, NaN, huge ints, tuples, Unicode; empty, 100k-char,
control, right-to-left, emoji and Chinese texts; negative, NaN and inf weights; k of 0, negative,
huge, float or bool; unknown domains; frames with missing, duplicated or extra columns, and empty
frames) for one entry point and checks the property of ``tests/_fuzz.py``: the documented shape,
or a ``ValueError`` / ``TypeError`` raised by hybridrec with a message, and a model whose
recommendations are unchanged after a refused call. The first failure of an entry point is
recorded (shrunk by hypothesis) and the run goes on with the next one.

    python benchmarks/fuzz.py [--cases 800] [--seed 0] [--quick]
"""
from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings, seed
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import hybridrec as hr  # noqa: E402
from _common import RESULTS, commit  # noqa: E402
from _fuzz import ENTRY_POINTS, check, small_model, snapshot  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402


def fuzz(name: str, model, cases: int, random_seed: int) -> dict:
    """Run ``cases`` drawn cases of one entry point; count outcomes, keep the first failure."""
    before = snapshot(model)
    counts = {"ok": 0, "refused": 0}

    @seed(random_seed)
    @settings(max_examples=cases, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        counts[check(name, model, before, data)] += 1

    start = time.perf_counter()
    failure = None
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - a property failure, reported, not raised
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return {"entry_point": name, **counts, "cases": counts["ok"] + counts["refused"], "failure": failure,
            "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=800, help="cases per entry point (13 entry points)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="50 cases per entry point")
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz.md")
    args = parser.parse_args(argv)
    cases = 50 if args.quick else args.cases
    logging.disable(logging.WARNING)  # the refused calls' warnings would flood the output
    warnings.simplefilter("ignore")
    model = small_model(hr.datasets.load_sample())
    start = time.perf_counter()
    rows = []
    for name in ENTRY_POINTS:
        rows.append(fuzz(name, model, cases, args.seed))
        print(rows[-1], flush=True)
    total = sum(r["cases"] for r in rows)
    lines = ["# Fuzzing the public entry points", "",
             f"- Command: `python benchmarks/fuzz.py --cases {cases} --seed {args.seed}`",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; git commit `{commit()}`; "
             f"{(time.perf_counter() - start) / 60:.1f} min",
             f"- Machine: {platform.machine()}, Python {platform.python_version()}",
             "- Model: ALS + semantic on 60 users of the bundled sample (`tests/_fuzz.py: small_model`); mutating "
             "calls run on a copy.",
             "- Property: the documented shape, or `ValueError`/`TypeError` raised in hybridrec's code with a "
             "message, and unchanged recommendations after a refused call.", "",
             f"**{total:,} cases, {sum(1 for r in rows if r['failure'])} entry points failing.**", "",
             "| entry point | cases | served | refused | s | first failure |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['entry_point']} | {r['cases']:,} | {r['ok']:,} | {r['refused']:,} | {r['seconds']:.0f} | "
              f"{(r['failure'] or '').replace('|', '/')} |" for r in rows]
    lines += ["", "## Failures found by fuzzing and fixed", "",
              "- `add_items`, `predict`, `fit` and `recommend_new` with a frame that has two columns of the same "
              "name failed inside pandas (\"The truth value of a Series is ambiguous\"); `require_frame` now "
              "refuses duplicate column names, and every frame parameter goes through it.",
              "- `recommend(..., k=10**12)` tried to allocate a 7 TiB block; a k beyond the catalogue now "
              "returns every item.",
              "- `tune_blend` with a grid holding an empty list (`{'': []}`) failed inside scikit-learn's "
              "`ParameterGrid`; the grid is now checked by `tune_blend`, whose message names `param_grid`.",
              "- `tune_blend(..., k=10**9)` (and `ranking_metrics`) built an array of k rank discounts: the first "
              "full fuzz run was killed for memory at 24 GB. The discounts now stop at the catalogue size."]
    write_text(args.out, "\n".join(lines) + "\n")
    write_json(args.out.with_suffix(".json"), {"commit": commit(), "cases_per_entry_point": cases, "seed": args.seed,
                                               "rows": rows})
    print(f"wrote {args.out}: {total:,} cases")
    return 1 if any(r["failure"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
