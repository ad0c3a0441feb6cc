"""A soak run of ``hybridrec serve``: known-user reads and live events under wrk, with snapshots and reloads.

Fits the default model on the bundled sample, saves it, and starts ``hybridrec serve --allow-updates
--allow-reload --snapshot <the model file>`` on a free localhost port. ``wrk`` then drives one
mixed stream for ``--seconds``: 9 of 10 requests are ``GET /recommend`` for known users (cycling
through them), 1 of 10 a ``POST /events`` with one event for a known user or one of 50 new
visitors. Meanwhile, every ``--every`` seconds, this script saves a snapshot
(``POST /admin/snapshot``, into the served file) and reloads it, alternately through
``POST /admin/reload`` and SIGHUP. Reported: requests, errors (socket errors and non-2xx
answers), latency percentiles, the snapshots and reloads done, the model's users before and
after, and the server's memory before and after.

    python benchmarks/serve_soak.py [--seconds 60] [--every 15] [--connections 16]

Needs Debian's ``wrk`` (``apt-get install wrk``).
"""
from __future__ import annotations

import argparse
import json
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybridrec as hr  # noqa: E402
from _common import RESULTS, commit  # noqa: E402
from serve_load import DONE, LINES, free_port, quote_value, tree_memory_mb, wait_ready  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

#: 9 reads of a known user's list, then one event for a user (known, or one of the visitors).
MIXED = """
local items = {}
for line in io.lines("%(items)s") do items[#items + 1] = line end
request = function()
  i = i + 1
  if i %% 10 == 0 then
    local user = (i %% 20 == 0) and ('"visitor-' .. (math.floor(i / 20) %% 50) .. '"') or values[(i * 7 %% #values) + 1]
    return wrk.format("POST", "/events", {["Content-Type"] = "application/json"},
                      '{"user_id": ' .. user .. ', "events": [{"item_id": ' .. items[(i * 13 %% #items) + 1] .. '}]}')
  end
  return wrk.format("GET", "/recommend?k=10&user=" .. values[(i %% #values) + 1])
end
"""


def _admin(base: str, server: subprocess.Popen, every: float, stop: threading.Event, log: list[dict]) -> None:
    """Every ``every`` s: a snapshot into the served file, then a reload (POST and SIGHUP in turn)."""
    import httpx

    n = 0
    while not stop.wait(every):
        start = time.perf_counter()
        saved = httpx.post(base + "/admin/snapshot", timeout=120)
        entry: dict[str, Any] = {"snapshot_status": saved.status_code, **(saved.json() if saved.is_success else {})}
        if n % 2 == 0:
            reloaded = httpx.post(base + "/admin/reload", timeout=300)
            entry.update(reload="POST /admin/reload", reload_status=reloaded.status_code)
        else:
            server.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 120
            while httpx.get(base + "/version", timeout=10).json()["model_version"] != entry.get("model_version"):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            entry.update(reload="SIGHUP", reload_status=200 if time.monotonic() <= deadline else None)
        entry["seconds"] = time.perf_counter() - start
        log.append(entry)
        n += 1


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    data = hr.datasets.load_sample()
    model = hr.HybridRecommender(random_state=0, show_progress=False).fit(data.interactions, items=data.items,
                                                                          users=data.users)
    path = hr.save(model, folder / "sample.hybridrec")
    (folder / "users.txt").write_text("\n".join(quote_value(u) for u in model.data_.user_ids))
    (folder / "items.txt").write_text("\n".join(json.dumps(i.item() if hasattr(i, "item") else i)
                                                for i in model.data_.item_ids))
    lua = folder / "mixed.lua"
    lua.write_text(LINES % (folder / "users.txt") + MIXED % {"items": folder / "items.txt"} + DONE)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "hybridrec.cli", "serve", "--model", str(path), "--port", str(port),
                               "--allow-updates", "--allow-reload", "--snapshot", str(path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    try:
        ready = wait_ready(base, server)
        before = tree_memory_mb(server.pid)
        users_before = httpx.get(base + "/version").json()
        stop, log = threading.Event(), []
        admin = threading.Thread(target=_admin, args=(base, server, args.every, stop, log), daemon=True)
        admin.start()
        out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "10s",
                              "-s", str(lua), base], capture_output=True, text=True, check=True).stdout
        stop.set()
        admin.join(timeout=600)
        result = json.loads(out.split("RESULT ", 1)[1])
        result["rps"] = result["requests"] / result["seconds"]
        metrics = httpx.get(base + "/metrics").text
        users_after = next(float(line.split()[-1]) for line in metrics.splitlines()
                           if line.startswith("hybridrec_model_users"))
        return {"ready_s": ready, "memory_before": before, "memory_after": tree_memory_mb(server.pid),
                "load": result, "admin": log, "model_users_before": int(model.data_.n_users),
                "model_users_after": int(users_after), "components": sorted(users_before["components"]),
                "server_alive": server.poll() is None}
    finally:
        server.terminate()
        server.wait(timeout=60)


def _markdown(r: dict[str, Any]) -> str:
    load = r["load"]
    failed = [e for e in r["admin"] if e["snapshot_status"] != 200 or e["reload_status"] != 200]
    lines = ["# Soak run of `hybridrec serve`: reads and live events under load, with snapshots and reloads", "",
             f"- Command: `{r['command']}`", f"- Date: {r['date']}; git commit `{r['commit']}`",
             f"- Machine: {r['machine']}; `wrk` (1 thread, {r['connections']} connections, {r['seconds']} s) and the "
             "server share the cores",
             "- Server: `hybridrec serve --allow-updates --allow-reload --snapshot <model file>`, one process, the "
             f"default model on the bundled sample ({', '.join(r['components'])})",
             "- Stream: 9 in 10 requests `GET /recommend` for a known user, 1 in 10 `POST /events` (one event for a "
             f"known user or one of 50 visitors); every {r['every']} s a snapshot into the served file, then a reload "
             "(POST /admin/reload and SIGHUP in turn)", "",
             "| requests | requests/s | p50 ms | p95 ms | p99 ms | socket errors | non-2xx | snapshots + reloads | failed |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| {load['requests']:,} | {load['rps']:,.0f} | {load['p50_ms']:.1f} | {load['p95_ms']:.1f} | "
             f"{load['p99_ms']:.1f} | {load['socket_errors']} | {load['non_2xx']} | {len(r['admin'])} | {len(failed)} |",
             "", f"Users in the model: {r['model_users_before']:,} before, {r['model_users_after']:,} after the last "
             "reload (visitors folded in by the snapshots).",
             f"Memory (PSS, MB): {r['memory_before']['pss_mb']:,.0f} before, {r['memory_after']['pss_mb']:,.0f} after.",
             "", "| snapshot + reload | users with events | events | seconds | how |", "|---|---|---|---|---|"]
    for n, e in enumerate(r["admin"], start=1):
        lines.append(f"| {n} | {e.get('users', '-')} | {e.get('events', '-')} | {e['seconds']:.1f} | {e['reload']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--every", type=float, default=15.0, help="seconds between snapshot + reload rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_soak.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args, Path(tmp))
    result.update(command="python benchmarks/serve_soak.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                  date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit=commit(),
                  machine=f"{platform.machine()}, Python {platform.python_version()}", seconds=args.seconds,
                  every=args.every, connections=args.connections)
    write_json(args.out.with_suffix(".json"), result)
    write_text(args.out, _markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
