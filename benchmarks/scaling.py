"""How fit time, recommend throughput and memory grow with the data: a scaling curve.

Synthetic cross-domain data from ``hybridrec.synthetic.make_synthetic`` (power-law users and
items, two domains, titles drawn from real title words; seed 0) at 0.1M, 1M and 10M
interactions (users = interactions / 10, items = interactions / 100), and Amazon Food-Kitchen
for its peak memory. Each size runs in its own process, so its peak RSS is its own:

- text encoding of the item titles into an empty cache (the default torch encoder);
- the default ``HybridRecommender`` fit, per component (from the cache just filled);
- ``recommend`` (top-10, kitchen, seen items left out) for 10,000 users at once: users/s;
- the process's peak resident memory.

The log-log slope of each fit time against the interactions (least squares over the sizes)
says how it grows: 1 is linear.

    python benchmarks/scaling.py            # 0.1M, 1M, 10M and Amazon (about 40 minutes on 2 cores)
    python benchmarks/scaling.py --quick    # 0.1M and 1M

Writes ``benchmarks/results/scaling.md``, ``scaling.json`` and ``scaling.png``.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, commit, load_amazon, parse  # noqa: E402

SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (100_000, 1_000_000)
USERS = 10_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(size: str, data: Path) -> dict:
    """One size, in this process: encode, fit, recommend, peak RSS."""
    import hybridrec as hr
    from hybridrec.synthetic import make_synthetic

    start = time.perf_counter()
    if size == "amazon":
        ds = load_amazon(data, "scaling.py")
        if ds is None:
            return {}
    else:
        ds = make_synthetic(int(size), seed=0)
    row = {"size": size, "interactions": len(ds.interactions), "users": int(ds.interactions["user_id"].nunique()),
           "items": len(ds.items), "generate_s": time.perf_counter() - start}
    with tempfile.TemporaryDirectory() as cache:
        # Amazon reads the default cache (warm, as in the 60 s goal); synthetic titles an empty one.
        encoder = hr.TextEncoder() if size == "amazon" else hr.TextEncoder(cache_dir=cache)
        texts = ds.items["text"].tolist()
        encoder.encode(texts[:2])  # load the model outside the timing
        start = time.perf_counter()
        encoder.encode(texts)
        row["encode_s"] = time.perf_counter() - start
        model = hr.HybridRecommender(encoder=encoder, random_state=0, show_progress=False)
        start = time.perf_counter()
        model.fit(ds.interactions, items=ds.items, users=ds.users)
        row["fit_s"] = time.perf_counter() - start
        row["components_s"] = {name: comp.fit_seconds_ for name, comp in model.components_.items()}
        row["fit_rss_mb"] = _peak_rss_mb()
        users = np.random.default_rng(0).permutation(ds.interactions["user_id"].unique())[:USERS]
        start = time.perf_counter()
        recs = model.recommend(users, k=10, domain="kitchen")
        row["recommend_users_per_s"] = len(users) / (time.perf_counter() - start)
        row["recommend_rows"] = len(recs)
    row["peak_rss_mb"] = _peak_rss_mb()
    return row


def _slope(xs: list[float], ys: list[float]) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0]) if len(xs) > 1 and min(ys) > 0 else float("nan")


def _plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    n = [r["interactions"] for r in rows]
    series = {"whole fit": [r["fit_s"] for r in rows], "encode (empty cache)": [r["encode_s"] for r in rows]}
    for name in rows[0]["components_s"]:
        series[name] = [r["components_s"][name] for r in rows]
    for name, ys in series.items():
        ax.loglog(n, np.maximum(ys, 1e-2), marker="o", label=name)
    ax.loglog(n, [rows[0]["fit_s"] * x / n[0] for x in n], "k:", label="linear")
    ax.set_xlabel("interactions")
    ax.set_ylabel("seconds")
    ax.set_title("hybridrec fit time, synthetic data (seed 0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def _report(rows: list[dict], amazon: dict, args, seconds: float) -> None:
    import implicit
    import lightfm

    from hybridrec.evaluation.report import write_json, write_text

    n = [r["interactions"] for r in rows]
    names = list(rows[0]["components_s"])
    slopes = {name: _slope(n, [r["components_s"][name] for r in rows]) for name in names}
    slopes["whole fit"] = _slope(n, [r["fit_s"] for r in rows])
    slopes["encode (empty cache)"] = _slope(n, [r["encode_s"] for r in rows])
    lines = [
        "# Scaling: fit time, recommend throughput and memory against data size", "",
        f"- Command: `python benchmarks/scaling.py{' --quick' if args.quick else ''}`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; git commit `{commit()}`; total {seconds / 60:.1f} min",
        f"- Machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}; "
        f"implicit {implicit.__version__}, lightfm {lightfm.__version__} (shared machine: times are noisy)",
        "- Data: `hybridrec.synthetic.make_synthetic(n, seed=0)` (users n/10, items n/100, power laws, two "
        "domains, titles from real title words); each size in its own process",
        "- Fit: the default `HybridRecommender` (components below, default parameters), text read from the "
        "cache the encode step filled; recommend: top-10 kitchen items for 10,000 users in one call", "",
        "| interactions | users | items | encode s (empty cache) | " + " | ".join(f"{m} s" for m in names)
        + " | whole fit s | recommend users/s | peak RSS MB |",
        "|---" * (7 + len(names)) + "|",
    ]
    for r in rows:
        lines.append(f"| {r['interactions']:,} | {r['users']:,} | {r['items']:,} | {r['encode_s']:.1f} | "
                     + " | ".join(f"{r['components_s'][m]:.1f}" for m in names)
                     + f" | {r['fit_s']:.1f} | {r['recommend_users_per_s']:.0f} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Log-log slope of time against interactions (goal for the fit: <= 1.1):", "",
              "| what | slope |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in slopes.items()]
    if amazon:
        lines += ["", f"Amazon Food-Kitchen ({amazon['interactions']:,} interactions, {amazon['items']:,} items), "
                  f"default fit with a warm embedding cache: {amazon['fit_s']:.1f} s ("
                  + ", ".join(f"{m} {s:.1f} s" for m, s in amazon["components_s"].items())
                  + f"); recommend {amazon['recommend_users_per_s']:.0f} users/s; peak RSS "
                  f"{amazon['peak_rss_mb']:.0f} MB (goal <= 4,096 MB)."]
    lines += ["", "![scaling](scaling.png)"]
    out = Path(args.out)
    write_text(out, "\n".join(lines) + "\n")
    write_json(out.with_suffix(".json"), {"commit": commit(), "sizes": rows, "amazon": amazon, "slopes": slopes})
    _plot(rows, out.with_suffix(".png"))
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--one":  # a child process: one size, a JSON line on stdout
        print("RESULT " + json.dumps(measure(argv[1], Path(argv[2]))), flush=True)
        return 0
    args = parse(__doc__, RESULTS / "scaling.md", argv)
    start = time.perf_counter()
    results = []
    for size in [str(s) for s in (QUICK_SIZES if args.quick else SIZES)] + ([] if args.quick else ["amazon"]):
        print(f"scaling.py: {size} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one", size, str(args.data)], capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(proc.stderr[-3000:])
            raise SystemExit(f"scaling.py: the {size} run failed (exit {proc.returncode})")
        row = json.loads(lines[-1][len("RESULT "):])
        print(f"  {row}", flush=True)
        results.append(row)
    rows = [r for r in results if r and r["size"] != "amazon"]
    amazon = next((r for r in results if r and r["size"] == "amazon"), {})
    _report(rows, amazon, args, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
