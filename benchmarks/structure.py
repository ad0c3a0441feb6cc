"""The shape of the code: HybridRecommender's members and the largest modules.

``python benchmarks/structure.py`` prints the members (methods and properties, dunders left
out) that hybridrec's own classes give ``HybridRecommender`` (its mixins included, scikit-learn's
``BaseEstimator`` not), public and private, by class; then the ``--top`` longest modules of the
package, in lines. The figures the notes on the estimator's size quote come from here.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hybridrec as hr  # noqa: E402


def members() -> list[tuple[str, str]]:
    """``(defining class, name)`` of every member hybridrec's classes give HybridRecommender."""
    out, seen = [], set()
    for klass in hr.HybridRecommender.__mro__:
        if not klass.__module__.startswith("hybridrec"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("__") or name in seen:
                continue
            if callable(value) or isinstance(value, (property, staticmethod, classmethod)):
                seen.add(name)
                out.append((klass.__name__, name))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=8, help="how many of the longest modules to list")
    args = parser.parse_args(argv)
    found = members()
    public = [name for _, name in found if not name.startswith("_")]
    print(f"HybridRecommender: {len(found)} members, {len(public)} public")
    for klass, count in Counter(k for k, _ in found).most_common():
        print(f"  {klass}: {count}")
    print("  private:", ", ".join(name for _, name in found if name.startswith("_")))
    sizes = sorted(((len(p.read_text().splitlines()), p.relative_to(ROOT)) for p in (ROOT / "hybridrec").rglob("*.py")),
                   reverse=True)
    print(f"Longest modules (of {len(sizes)}):")
    for lines, path in sizes[: args.top]:
        print(f"  {lines:5d} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
