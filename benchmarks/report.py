"""Tables generated from the committed results, never typed: the README's and the docs' benchmark blocks.

A generated block sits between two markers in a Markdown file::

    <!-- generated: peers -->
    ...
    <!-- end generated -->

``python benchmarks/report.py`` rewrites every block from the JSON results under
``benchmarks/results/``, stamping each with the file, the command and the commit it comes from;
``python benchmarks/report.py --check`` rewrites nothing and exits 1 (naming the blocks) when a
file differs from what the results give. ``tests/test_generated_tables.py`` runs the check.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _quality_protocols import PROTOCOLS  # noqa: E402 - the protocols' order
RESULTS = ROOT / "benchmarks" / "results"
#: The Markdown files that hold generated blocks.
FILES = (ROOT / "README.md", ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "guide" / "serving.md")
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def peers_table() -> str:
    """Warm next-item on Amazon: the strongest outside peer against our models (``results/peers.json``)."""
    result = _load("peers.json")
    strongest = next(p for p in result["peers"] if p["name"] == result["strongest_peer"])
    base = strongest["test"]["ndcg"]
    rows = [(f"SASRec (RecTools, item ids; `{strongest['name']}`, epoch {strongest['best_epoch']})",
             strongest["valid"]["ndcg"], base, strongest["fit_seconds_to_best"], strongest["config"]["commit"])]
    for entry in result["ours"].values():
        rows.append((entry["label"], entry["valid"]["ndcg"], entry["test"]["ndcg"], entry["fit_seconds"], entry["commit"]))
    lines = [f"From `benchmarks/results/peers.json` (`{result['command']}`; {result['split']}); "
             "NDCG@10, test users; each row's commit is the one its model was fitted at.", "",
             "| model | valid | test | vs the strongest peer | fit (s) | commit |", "|---|---|---|---|---|---|"]
    for label, valid, test, seconds, commit in rows:
        lines.append(f"| {label} | {valid:.4f} | {test:.4f} | {test / base:.2f}x | {seconds:,.0f} | `{commit.split()[0]}` |")
    return "\n".join(lines) + "\n"


#: The full ``quality.py`` runs the quality table is drawn from: every full-budget run under
#: ``scoreboard/`` (``quality.py``'s default output) and the two-part run at deb13e1. Each
#: protocol comes from the newest run (by its header's date) that has it, so a rerun of some
#: protocols replaces their rows only.
QUALITY_RUNS = (*sorted(str(p.relative_to(RESULTS)) for p in RESULTS.glob("scoreboard/*/quality.json")),
                "tower/quality_amazon.json", "tower/quality_movielens_goodbooks.json")


def _ratio(row: dict, base: dict, key: str) -> str:
    """``row``'s NDCG@10 over ``base``'s, with the interval the run stored under ``key`` if any."""
    value = row["metrics"]["ndcg"] / base["metrics"]["ndcg"] if base["metrics"]["ndcg"] else float("nan")
    pair = row.get(key)
    return f"{value:.2f}x" + (f" [{pair[0]:.2f}, {pair[1]:.2f}]" if pair else "")


def quality_table() -> str:
    """Every protocol x candidate set of the full ``quality.py`` runs: the hybrid against its best single component."""
    runs = [(name, _load(name)) for name in QUALITY_RUNS]
    runs = [(name, result) for name, result in runs if result["header"]["budget"] == "full"]
    runs.sort(key=lambda run: run[1]["header"]["date"], reverse=True)
    taken: dict[str, tuple[str, dict, dict]] = {}
    for name, result in runs:
        for protocol in result["protocols"]:
            taken.setdefault(protocol["task"]["key"], (name, result["header"], protocol))
    used = sorted({name for name, _, _ in taken.values()}, key=QUALITY_RUNS.index)
    stamps = [f"`benchmarks/results/{name}` (`{head['command']}`, commit `{head['commit']}`, {head['date']})"
              for name in used for head in [dict(runs)[name]["header"]]]
    lines = []
    for name, head, protocol in (taken[key] for key in PROTOCOLS if key in taken):
        for group in protocol["sets"]:
            rows = {r["component"]: r for r in group["rows"]}
            hybrid = rows["hybrid"]
            # the run's own choice, which its stored intervals are relative to (runs before 4d6d133
            # did not store it: the same rule, the highest row that is not a hybrid)
            chosen = group["ratio"].get("best_component")
            best = rows[chosen] if chosen else max(
                (r for r in group["rows"] if not str(r["component"]).startswith("hybrid")), key=lambda r: r["metrics"]["ndcg"])
            tower = rows.get("tower")
            untuned = [rows.get(key) for key in ("hybrid_default_model", "hybrid_auto")]
            lines.append(f"| {protocol['task']['title']} ({group['label']}) | {hybrid['metrics']['ndcg']:.4f} | "
                         f"{best['method']} {best['metrics']['ndcg']:.4f} | {_ratio(hybrid, best, 'vs_best_interval')} | "
                         + (f"{tower['metrics']['ndcg']:.4f} | " if tower else "- | ")
                         + " | ".join("-" if r is None else f"{r['metrics']['ndcg']:.4f} ("
                                      f"{_ratio(r, best, 'vs_best_interval')} best single)" for r in untuned)
                         + f" | `{head['commit'].split()[0]}` |")
    intro = ("From " + " and ".join(stamps) + "; NDCG@10 on each protocol's test users, each protocol from the "
             "newest run that has it. The best single component is the highest of the rows that are not a hybrid "
             "(the tower included). Brackets: 95% bootstrap intervals over the test users (runs that stored them). "
             "The default model is `HybridRecommender()` and the auto model `weights=\"auto\"` (with "
             "`cross_domain_weight` and `normalization` \"auto\"), both fitted on the training rows with no "
             "validation users.")
    return "\n".join([intro, "", "| protocol (candidates) | tuned hybrid | best single component | ratio | tower alone "
                      "| default model | auto model | commit |", "|---|---|---|---|---|---|---|---|", *lines]) + "\n"


#: Block name -> the function that renders it.
def _stamp(name: str, result: dict) -> str:
    return f"From `benchmarks/results/{name}` (`{result['command']}`, commit `{result['commit']}`, {result['date']})"


def serve_load_table(name: str = "serve_load.json") -> str:
    """Requests/s and latency per endpoint and number of workers (``results/serve_load.json``)."""
    result = _load(name)
    lines = [_stamp(name, result) + f"; wrk, {result['connections']} connections, {result['seconds']} s per endpoint, "
             "client and server on the same 2 cores.", "",
             "| data | workers | endpoint | requests/s | p50 ms | p99 ms | errors | memory, PSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    for data, entry in result["datasets"].items():
        for workers, run in entry["runs"].items():
            for endpoint, r in run["endpoints"].items():
                lines.append(f"| {data} | {workers} | `{endpoint}` | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                             f"{r['p99_ms']:.1f} | {r['socket_errors'] + r['non_2xx']} | {r['pss_mb']:,.0f} |")
    return "\n".join(lines) + "\n"


def serve_soak_table() -> str:
    """Reads and live events under load with snapshots and reloads (``results/serve_soak.json``)."""
    result = _load("serve_soak.json")
    load = result["load"]
    failed = sum(e["snapshot_status"] != 200 or e["reload_status"] != 200 for e in result["admin"])
    lines = [_stamp("serve_soak.json", result) + f"; {result['seconds']} s, {result['connections']} connections; "
             f"every {result['every']:g} s a snapshot into the served file, then a reload (POST and SIGHUP in turn).", "",
             "| requests | requests/s | p50 ms | p99 ms | errors | snapshots + reloads (failed) | users before, after "
             "| memory before, after (PSS MB) |", "|---|---|---|---|---|---|---|---|",
             f"| {load['requests']:,} | {load['rps']:,.0f} | {load['p50_ms']:.1f} | {load['p99_ms']:.1f} | "
             f"{load['socket_errors'] + load['non_2xx']} | {len(result['admin'])} ({failed}) | "
             f"{result['model_users_before']:,}, {result['model_users_after']:,} | "
             f"{result['memory_before']['pss_mb']:,.0f}, {result['memory_after']['pss_mb']:,.0f} |"]
    return "\n".join(lines) + "\n"


def serve_brief() -> str:
    """One clause per endpoint of the bundled-sample load run, for each number of workers (``results/serve_load.json``)."""
    result = _load("serve_load.json")
    runs = result["datasets"]["bundled sample"]["runs"]
    parts = []
    for endpoint in runs["1"]["endpoints"]:
        figures = []
        for workers, run in runs.items():
            r = run["endpoints"][endpoint]
            figures.append(f"{r['rps']:,.0f} requests/s (p50 {r['p50_ms']:.0f} ms) on {workers} "
                           f"worker{'' if workers == '1' else 's'}")
        parts.append(f"`{endpoint}` " + ", ".join(figures))
    return (_stamp("serve_load.json", result) + "; the default model on the bundled sample, client and server on the "
            "same 2 cores: " + "; ".join(parts) + ".\n")


BLOCKS: dict[str, Callable[[], str]] = {"peers": peers_table, "quality": quality_table, "serve-brief": serve_brief,
                                        "serve-load": serve_load_table,
                                        "serve-load-workers": lambda: serve_load_table("serve_load_workers.json"),
                                        "serve-load-workers2": lambda: serve_load_table("serve_load_workers2.json"),
                                        "serve-soak": serve_soak_table}


def render(text: str) -> str:
    """``text`` with every generated block rendered from the results (unknown block names raise)."""
    def one(match: re.Match) -> str:
        name = match.group("name")
        if name not in BLOCKS:
            raise ValueError(f"Unknown generated block {name!r}; known: {sorted(BLOCKS)}.")
        return match.group(1) + BLOCKS[name]() + match.group(4)
    return _BLOCK.sub(one, text)


def stale() -> list[str]:
    """The files whose generated blocks differ from what the results give."""
    return [str(path.relative_to(ROOT)) for path in FILES if render(path.read_text()) != path.read_text()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 when a block is stale")
    args = parser.parse_args(argv)
    if args.check:
        out = stale()
        if out:
            print(f"stale generated blocks in {out}: run python benchmarks/report.py", file=sys.stderr)
        return 1 if out else 0
    for path in FILES:
        text = path.read_text()
        new = render(text)
        if new != text:
            path.write_text(new)
            print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
