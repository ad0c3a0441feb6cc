"""Compare two runs of ``benchmarks/quality.py``: every figure in their ``quality.json`` except timings.

For changes that must not move quality (a refactor): run ``quality.py`` at the commit before and
at the commit after, then

    python benchmarks/compare_quality.py BEFORE/quality.json AFTER/quality.json [--out FILE.md]

It lists every value that differs (metrics, chosen parameters, blends, sweeps), skipping keys
that hold wall times (``seconds``, ``timings``, ``fit s``, ...), and exits 1 when any differs.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

#: Keys whose values are wall times (they differ from run to run).
TIMING_KEYS = {"timings", "seconds", "tune_fit", "fit_seconds"}


def _timing(key: str) -> bool:
    return key in TIMING_KEYS or "second" in key or key.endswith("_s")


def differences(before: Any, after: Any, path: str = "") -> tuple[int, list[tuple[str, Any, Any]]]:
    """(number of values compared, [(path, before, after) for each value that differs])."""
    if isinstance(before, dict) and isinstance(after, dict):
        count, out = 0, []
        for key in sorted(set(before) | set(after), key=str):
            if _timing(str(key)):
                continue
            if key not in before or key not in after:
                out.append((f"{path}/{key}", before.get(key, "<absent>"), after.get(key, "<absent>")))
                continue
            n, diff = differences(before[key], after[key], f"{path}/{key}")
            count, out = count + n, out + diff
        return count, out
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return 1, [(path, f"{len(before)} entries", f"{len(after)} entries")]
        count, out = 0, []
        for i, (b, a) in enumerate(zip(before, after)):
            n, diff = differences(b, a, f"{path}[{i}]")
            count, out = count + n, out + diff
        return count, out
    same = before == after or (isinstance(before, float) and isinstance(after, float)
                               and math.isnan(before) and math.isnan(after))
    return 1, [] if same else [(path, before, after)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--out", type=Path, help="also write the report to this markdown file")
    args = parser.parse_args(argv)
    runs = [json.loads(path.read_text()) for path in (args.before, args.after)]
    count, diff = differences(runs[0]["protocols"], runs[1]["protocols"], "protocols")
    commits = [run.get("header", {}).get("commit", "?") for run in runs]
    lines = [f"# quality.py before and after: `{commits[0]}` -> `{commits[1]}`", "",
             f"- `python benchmarks/compare_quality.py {args.before} {args.after}`",
             f"- {count} values compared (every protocol's metrics, chosen parameters, blends and sweeps; "
             f"wall times skipped): **{len(diff)} differ**."]
    lines += [f"  - `{p}`: {b!r} -> {a!r}" for p, b, a in diff[:200]]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
