"""Load on ``hybridrec serve`` over loopback: throughput, p50/p99 latency, errors and memory.

Fits the default model on the bundled sample, saves it, starts ``hybridrec serve`` in a
subprocess on a free localhost port, then sends a bounded number of requests from a thread pool
and stops by itself. The mix: 60% ``GET /recommend`` for a user (k=10, a random domain or none),
30% ``GET /search`` with one of 50 queries, 10% ``POST /recommend`` with a 5-item history.

    python benchmarks/serve_load.py [--requests 5000] [--concurrency 16] [--quick]
"""
from __future__ import annotations

import argparse
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybridrec as hr  # noqa: E402
from _common import RESULTS, commit  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

QUERIES = [f"{mood} {kind}" for mood in ("a funny", "a dark", "a gentle", "an epic", "a clever")
           for kind in ("heist", "space adventure", "family film", "love story", "war drama", "detective story",
                        "animated comedy", "horror night", "musical", "road movie")]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="500 requests")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.md")
    args = parser.parse_args(argv)
    total = 500 if args.quick else args.requests
    sample = hr.datasets.load_sample()
    model = hr.HybridRecommender(random_state=0, show_progress=False).fit(sample.interactions, items=sample.items,
                                                                          users=sample.users)
    rng = random.Random(0)
    users = sample.interactions["user_id"].unique().tolist()
    items = sample.items["item_id"].tolist()
    domains = [None, *model.data_.domains]
    with tempfile.TemporaryDirectory() as folder, socket.socket() as probe:
        path = hr.save(model, Path(folder) / "m.hybridrec")
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = subprocess.Popen([sys.executable, "-m", "hybridrec.cli", "serve", "--model", str(path), "--port",
                                   str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(base + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.3)
            before = rss_mb(server.pid)
            plan = []
            for _ in range(total):
                pick, domain = rng.random(), rng.choice(domains)
                extra = {"domain": domain} if domain else {}
                if pick < 0.6:
                    plan.append(("GET", "/recommend", {"user": rng.choice(users), "k": 10, **extra}, None))
                elif pick < 0.9:
                    plan.append(("GET", "/search", {"q": rng.choice(QUERIES), "k": 10, **extra}, None))
                else:
                    plan.append(("POST", "/recommend", None, {"history": [{"item_id": i} for i in rng.sample(items, 5)],
                                                              "k": 10, **extra}))
            client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=args.concurrency))

            def send(request):
                method, url, params, body = request
                start = time.perf_counter()
                try:
                    status = client.request(method, url, params=params, json=body).status_code
                except httpx.HTTPError:
                    status = -1
                return url if method == "GET" else "POST " + url, status, time.perf_counter() - start

            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(send, plan))
            wall = time.perf_counter() - start
            after = rss_mb(server.pid)
            client.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    latency = np.array([r[2] for r in results]) * 1000
    errors = sum(1 for r in results if r[1] != 200)
    per_kind = {}
    for kind in sorted({r[0] for r in results}):
        chosen = np.array([r[2] for r in results if r[0] == kind]) * 1000
        per_kind[kind] = {"requests": len(chosen), "p50_ms": float(np.percentile(chosen, 50)),
                          "p99_ms": float(np.percentile(chosen, 99))}
    summary = {"requests": total, "concurrency": args.concurrency, "seconds": wall, "throughput": total / wall,
               "p50_ms": float(np.percentile(latency, 50)), "p99_ms": float(np.percentile(latency, 99)),
               "errors": errors, "rss_before_mb": before, "rss_after_mb": after, "per_kind": per_kind}
    lines = ["# Load on `hybridrec serve` over loopback", "",
             f"- Command: `python benchmarks/serve_load.py --requests {total} --concurrency {args.concurrency}`",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; git commit `{commit()}`",
             f"- Machine: {platform.machine()}, Python {platform.python_version()}; client and server share the cores",
             "- Model: the default HybridRecommender on the bundled sample (one uvicorn process, FastAPI's thread pool)",
             "", f"**{total / wall:,.0f} requests/s; p50 {summary['p50_ms']:.0f} ms, p99 {summary['p99_ms']:.0f} ms; "
             f"{errors} errors; server memory {before:,.0f} MB before, {after:,.0f} MB after.**", "",
             "| request | count | p50 ms | p99 ms |", "|---|---|---|---|"]
    lines += [f"| `{kind}` | {v['requests']:,} | {v['p50_ms']:.0f} | {v['p99_ms']:.0f} |" for kind, v in per_kind.items()]
    write_text(args.out, "\n".join(lines) + "\n")
    write_json(args.out.with_suffix(".json"), {"commit": commit(), **summary})
    print("\n".join(lines))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
