"""Load on ``hybridrec serve`` over loopback, driven by ``wrk`` (a compiled load generator).

Fits the default model on the bundled sample (and, with ``--amazon``, on Amazon Food-Kitchen from
``../shared/datasets``; skipped with a message when absent), saves it, starts ``hybridrec serve``
on a free localhost port, then drives one endpoint at a time with ``wrk`` (16 connections by
default, a fixed duration each) and stops by itself. ``wrk`` runs in C, so the client takes far
less of the two cores than a Python client would; client and server still share them.

Endpoints: ``GET /recommend`` for known users (cycling through every user; all domains, or one
domain), ``GET /search`` with 50 queries, ``POST /recommend`` with 5-item histories. Reported per
endpoint: requests/s, p50/p95/p99 latency, errors (socket errors and non-2xx answers), and the
server's memory after it (RSS and PSS summed over its processes). ``--workers 1,2`` serves the
same model file with each number of worker processes in turn.

    python benchmarks/serve_load.py [--seconds 10] [--connections 16] [--amazon] [--quick] [--workers 1,2]

Needs Debian's ``wrk`` (``apt-get install wrk``).
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybridrec as hr  # noqa: E402
from _common import DATA, RESULTS, commit, load_amazon  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

QUERIES = [f"{mood} {kind}" for mood in ("a funny", "a dark", "a gentle", "an epic", "a clever")
           for kind in ("heist", "space adventure", "family film", "love story", "war drama", "detective story",
                        "animated comedy", "horror night", "musical", "road movie")]

#: Lua pieces: a request generator per endpoint, and a summary line wrk prints at the end.
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, '
    .. '"socket_errors": %d, "non_2xx": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""
LINES = """
local values = {}
for line in io.lines("%s") do values[#values + 1] = line end
local i = 0
"""
_SCRIPTS = {
    "GET /recommend": """
request = function()
  i = i + 1
  return wrk.format("GET", "/recommend?k=10&user=" .. values[(i %% #values) + 1])
end
""",
    "GET /recommend?domain": """
local domains = {%(domains)s}
request = function()
  i = i + 1
  return wrk.format("GET", "/recommend?k=10&user=" .. values[(i %% #values) + 1] .. "&domain=" .. domains[(i %% #domains) + 1])
end
""",
    "GET /search": """
request = function()
  i = i + 1
  return wrk.format("GET", "/search?k=10&q=" .. values[(i %% #values) + 1])
end
""",
    "POST /recommend": """
request = function()
  i = i + 1
  local parts = {}
  for j = 1, 5 do parts[j] = '{"item_id": ' .. values[((i * 7 + j * 131) %% #values) + 1] .. '}' end
  return wrk.format("POST", "/recommend", {["Content-Type"] = "application/json"},
                    '{"k": 10, "history": [' .. table.concat(parts, ",") .. ']}')
end
""",
}


def _memory_mb(pid: int) -> tuple[float, float]:
    """Resident (RSS) and proportional (PSS: shared pages split among their users) memory of one process, MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return fields.get("Rss", float("nan")), fields.get("Pss", float("nan"))


def tree_memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS summed over a server process and its descendants (workers), and their count.

    RSS counts a page once per process that maps it, so shared model pages are counted once per
    worker; PSS splits each shared page among its processes, so its sum is the memory actually used.
    """
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("PPid:"))
        except (OSError, StopIteration, ValueError):
            continue
        children.setdefault(ppid, []).append(int(status.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    rss = pss = 0.0
    each = []
    for member in tree:
        try:
            r, p = _memory_mb(member)
            command = Path(f"/proc/{member}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        rss, pss = rss + r, pss + p
        kind = "worker" if "spawn_main" in command else "helper" if "resource_tracker" in command else "parent"
        each.append({"process": kind, "rss_mb": round(r, 1), "pss_mb": round(p, 1)})
    return {"rss_mb": rss, "pss_mb": pss, "processes": len(tree), "each": each}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, seconds: float = 900) -> float:
    """Seconds until ``/health`` answers (the server warms up first)."""
    import httpx

    start = time.monotonic()
    while True:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            if time.monotonic() - start > seconds or server.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.5)


def quote_value(value: Any) -> str:
    from urllib.parse import quote

    return quote(json.dumps(value) if not isinstance(value, str) else value, safe="")


def run_dataset(name: str, dataset: hr.datasets.Dataset, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Fit and save one dataset's default model, then serve and load it with each number of workers."""
    start = time.perf_counter()
    model = hr.HybridRecommender(random_state=0, show_progress=False).fit(
        dataset.interactions, items=dataset.items, users=dataset.users)
    fit_seconds = time.perf_counter() - start
    path = hr.save(model, folder / f"{name}.hybridrec")
    users = [quote_value(u) for u in model.data_.user_ids]
    values = {"GET /recommend": users, "GET /recommend?domain": users, "GET /search": [quote_value(q) for q in QUERIES],
              "POST /recommend": [json.dumps(i.item() if hasattr(i, "item") else i) for i in model.data_.item_ids]}
    domains = ", ".join(f'"{quote_value(d)}"' for d in model.data_.domains)
    runs = {str(workers): run_server(name, path, workers, values, domains, args, folder) for workers in args.workers}
    return {"items": model.data_.n_items, "users": model.data_.n_users, "components": sorted(model.components_),
            "fit_seconds": fit_seconds, "file_mb": path.stat().st_size / 2**20, "runs": runs}


def run_server(name: str, path: Path, workers: int, values: dict[str, list[str]], domains: str,
               args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Start ``hybridrec serve --workers`` on the saved model and drive each endpoint with wrk."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "hybridrec.cli", "serve", "--model", str(path), "--port", str(port),
                               "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = {}
    try:
        start_seconds = wait_ready(base, server)
        time.sleep(2)  # every worker up
        idle = tree_memory_mb(server.pid)
        for endpoint, script in _SCRIPTS.items():
            data_file = folder / f"{name}-{len(rows)}.txt"
            data_file.write_text("\n".join(values[endpoint]))
            lua = folder / f"{name}-{len(rows)}.lua"
            lua.write_text(LINES % data_file + script % {"domains": domains} + DONE)
            out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "10s",
                                  "-s", str(lua), base], capture_output=True, text=True, check=True).stdout
            result = json.loads(out.split("RESULT ", 1)[1])
            result["rps"] = result["requests"] / result["seconds"]
            result.update(tree_memory_mb(server.pid))
            rows[endpoint] = result
            print(f"{name}, {workers} worker(s), {endpoint}: {result['rps']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
                  f"p99 {result['p99_ms']:.1f} ms, errors {result['socket_errors'] + result['non_2xx']}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"start_seconds": start_seconds, "idle": idle, "endpoints": rows}


def _markdown(result: dict[str, Any]) -> str:
    lines = ["# Load on `hybridrec serve` over loopback (wrk)", "",
             f"- Command: `{result['command']}`",
             f"- Date: {result['date']}; git commit `{result['commit']}`",
             f"- Machine: {result['machine']}; `wrk` (1 thread, {result['connections']} connections, "
             f"{result['seconds']} s per endpoint) and the server share the cores",
             "- Server: `hybridrec serve --workers N`; known users' lists computed at start (once, by the parent, "
             "with several workers); text queries and posted histories micro-batched",
             "- Memory: summed over the server's processes (the parent, its workers, multiprocessing's helper). RSS "
             "counts a shared page once per process that maps it; PSS splits it among them, so its sum is what the "
             "server uses", ""]
    for name, data in result["datasets"].items():
        lines += [f"## {name}: {data['items']:,} items, {data['users']:,} users ({', '.join(data['components'])})", "",
                  f"Fit {data['fit_seconds']:.0f} s; model file {data['file_mb']:,.0f} MB.", "",
                  "| workers | ready in s | processes | RSS MB when ready | PSS MB when ready |", "|---|---|---|---|---|"]
        for workers, run in data["runs"].items():
            idle = run["idle"]
            lines.append(f"| {workers} | {run['start_seconds']:.0f} | {idle['processes']} | {idle['rss_mb']:,.0f} | "
                         f"{idle['pss_mb']:,.0f} |")
        lines += ["", "| workers | endpoint | requests/s | p50 ms | p95 ms | p99 ms | errors | PSS MB after |",
                  "|---|---|---|---|---|---|---|---|"]
        for workers, run in data["runs"].items():
            for endpoint, r in run["endpoints"].items():
                lines.append(f"| {workers} | `{endpoint}` | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                             f"{r['p99_ms']:.1f} | {r['socket_errors'] + r['non_2xx']} | {r['pss_mb']:,.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--amazon", action="store_true", help="also Amazon Food-Kitchen from --data")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="3 s per endpoint")
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1],
                        help="comma-separated worker counts to run, e.g. 1,2")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("serve_load.py needs wrk, a compiled load generator: apt-get install wrk")
        return 2
    if args.quick:
        args.seconds = 3
    datasets = {"bundled sample": hr.datasets.load_sample()}
    if args.amazon:
        amazon = load_amazon(args.data, "serve_load.py")
        if amazon is not None:
            datasets["Amazon Food-Kitchen"] = amazon
    result = {"command": "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": commit(),
              "machine": f"{platform.machine()}, Python {platform.python_version()}",
              "connections": args.connections, "seconds": args.seconds, "datasets": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name, dataset in datasets.items():
            result["datasets"][name] = run_dataset(name.split()[0].lower(), dataset, args, Path(folder))
    write_text(args.out, _markdown(result))
    write_json(args.out.with_suffix(".json"), result)
    errors = sum(r["socket_errors"] + r["non_2xx"] for d in result["datasets"].values() for run in d["runs"].values()
                 for r in run["endpoints"].values())
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
