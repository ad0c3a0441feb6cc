"""Strong outside sequential recommenders (RecTools 0.19) against the tower on the warm next-item split.

The split is exactly ``quality.py``'s warm next-item protocol on Amazon Food-Kitchen (official test
and validation users, each user's last event held out, ordered by time). The peers are RecTools'
``SASRecModel`` and ``BERT4RecModel`` (item ids only) and a UniSRec-style SASRec whose items are
the project's MiniLM embeddings through a mixture of linear experts, plus an ID embedding.

RecTools pins numpy<2 and pandas<3, so the peers run in their own environment,
``benchmarks/peers/.venv``, which this script creates from ``requirements.txt`` on first use. The
split goes over as files; each peer writes the top-50 lists of the validation and test users every
``eval_every`` epochs, and stops when the validation NDCG@10 has not improved for ``patience``
evaluations. Every list is scored here with the project's ``evaluate`` (the held-out item's domain
ranked in full, seen items excluded), and the epoch is chosen on the validation users only.

Stages (``--stage``, comma-separated; all by default):

- ``export``: write the split under ``benchmarks/results/cache/peers/split`` (and encode the item
  texts, cached on disk, for the text-aware peer);
- ``peers``: train the peers of ``--only`` (default: all of :data:`PEERS`) that have not finished;
- ``ours``: fit the tower (with and without text), the default model and the auto model on the
  same split, scoring validation and test users;
- ``report``: write ``benchmarks/results/peers.md`` and ``peers.json``.

Usage::

    python benchmarks/peers/run.py                       # everything (hours on 2 cores)
    python benchmarks/peers/run.py --stage peers --only sasrec_ss_d02
    python benchmarks/peers/run.py --stage ours,report --ours tower_dim128   # adds one row
    python benchmarks/peers/run.py --stage report

A finished peer run (``benchmarks/results/cache/peers/runs/<name>/done.json``) is not run again;
an unfinished one is reported with its curve so far, marked as stopped early.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the benchmarks folder: _common, _quality_protocols

import hybridrec as hr  # noqa: E402
from _common import DATA, RESULTS, commit  # noqa: E402
from hybridrec.evaluation import evaluate  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

log = logging.getLogger("peers")
SEED = 0
WORK = RESULTS / "cache" / "peers"
VENV = HERE / ".venv"
#: Published good settings for SASRec on Amazon data (eSASRec, gSASRec): 64 factors, 50 events,
#: 2 blocks, 256 sampled negatives, lr 1e-3; validation chooses the loss and the dropout. Padding is
#: masked out of attention, so the worker's length-bucketed batches compute what full-length ones would.
BASE = {"n_factors": 64, "session_max_len": 50, "n_blocks": 2, "n_heads": 2, "n_negatives": 256, "lr": 1e-3,
        "batch_size": 128, "train_min_user_interactions": 2, "use_key_padding_mask": True}
#: Every peer run: name -> worker config. Epochs: evaluated every ``eval_every``, up to ``max_epochs``.
PEERS: dict[str, dict[str, Any]] = {
    "sasrec_ss_d02": {"model": "sasrec", "params": {**BASE, "loss": "sampled_softmax", "dropout_rate": 0.2}},
    "sasrec_ss_d05": {"model": "sasrec", "params": {**BASE, "loss": "sampled_softmax", "dropout_rate": 0.5}},
    "sasrec_gbce_d02": {"model": "sasrec", "params": {**BASE, "loss": "gBCE", "gbce_t": 0.75, "dropout_rate": 0.2}},
    "bert4rec_ss_d02": {"model": "bert4rec", "params": {**BASE, "loss": "sampled_softmax", "dropout_rate": 0.2,
                                                         "mask_prob": 0.2}},
    "unisrec_ss_d02": {"model": "sasrec", "text": True,
                       "params": {**BASE, "loss": "sampled_softmax", "dropout_rate": 0.2}},
}
LABELS = {"sasrec": "SASRec (RecTools, item ids)", "bert4rec": "BERT4Rec (RecTools, item ids)",
          "unisrec": "UniSRec-style SASRec (RecTools + MiniLM item text, MoE adapter, + item ids)"}
SCHEDULE = {"eval_every": 2, "patience": 3, "max_epochs": 100, "k": 50, "seed": SEED, "threads": 2}


# ---------------------------------------------------------------------------- the split
def warm_split(data: Path) -> Any:
    """``quality.py``'s warm next-item split of Amazon Food-Kitchen (full data, seed 0)."""
    from _quality_protocols import warm_split as quality_warm_split

    split = quality_warm_split(data, SEED)
    if split is None:
        raise SystemExit(f"peers: Amazon Food-Kitchen is not under {data}; nothing was run.")
    return split


def export(split: Any, out: Path) -> None:
    """The split as files for the worker; test users' held-out items are never written."""
    out.mkdir(parents=True, exist_ok=True)
    train = split.train.sort_values(["user_id", "timestamp"], kind="stable")  # the split's order: time, then row
    train = train.assign(position=train.groupby("user_id", sort=False).cumcount())
    train[["user_id", "item_id", "position"]].rename(columns={"user_id": "user", "item_id": "item"}).to_csv(
        out / "train.csv.gz", index=False)
    items = split.items[["item_id", "domain"]].rename(columns={"item_id": "item"})
    items.to_csv(out / "items.csv", index=False)
    domain = items.set_index("item")["domain"]
    valid = pd.DataFrame({"user": split.valid["user_id"], "part": "valid", "domain": split.valid["item_id"].map(domain),
                          "held_out": split.valid["item_id"]})
    test = pd.DataFrame({"user": split.test["user_id"], "part": "test", "domain": split.test["item_id"].map(domain),
                         "held_out": pd.NA})
    if set(valid["user"]) & set(test["user"]):
        raise SystemExit("peers: a user is both a validation and a test user; the worker's lists assume not")
    pd.concat([valid, test]).to_csv(out / "targets.csv", index=False)
    texts = split.items["text"].tolist()
    np.save(out / "text.npy", hr.TextEncoder().encode(texts, show_progress=True).astype(np.float32))
    items[["item"]].to_csv(out / "text_items.csv", index=False)
    log.info("exported %d training events, %d validation and %d test users to %s",
             len(train), len(valid), len(test), out)


# ---------------------------------------------------------------------------- the peers
def ensure_venv() -> Path:
    """``benchmarks/peers/.venv`` with RecTools, created from ``requirements.txt`` when absent."""
    python = VENV / "bin" / "python"
    marker = VENV / ".requirements"
    wanted = (HERE / "requirements.txt").read_text()
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    log.info("creating %s (RecTools, torch, numpy<2, pandas<3)", VENV)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements.txt")], check=True)
    marker.write_text(wanted)
    return python


def run_peer(name: str, python: Path) -> None:
    """Train one peer in its environment (skipped when a finished run is on disk)."""
    out = WORK / "runs" / name
    if (out / "done.json").exists():
        log.info("%s: finished before; skipped", name)
        return
    config = {**SCHEDULE, **PEERS[name], "commit": commit()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1))
    start = time.perf_counter()
    subprocess.run([str(python), str(HERE / "_rectools_worker.py"), "--split", str(WORK / "split"),
                    "--config", str(out / "config.json"), "--out", str(out)], check=True)
    (out / "done.json").write_text(json.dumps({"wall_seconds": round(time.perf_counter() - start, 1)}))


# ---------------------------------------------------------------------------- scoring
def list_scorer(lists: pd.DataFrame):
    """``evaluate``'s callable for fixed top-k lists: rank r scores k + 1 - r, unlisted items 0."""
    k = int(lists["rank"].max())
    table = {user: dict(zip(rows["item"], k + 1 - rows["rank"])) for user, rows in lists.groupby("user")}

    def score(user_ids: list, item_ids: list) -> np.ndarray:
        column = {item: j for j, item in enumerate(item_ids)}
        out = np.zeros((len(user_ids), len(item_ids)))
        for i, user in enumerate(user_ids):
            for item, value in table.get(user, {}).items():
                if item in column:
                    out[i, column[item]] = value
        return out

    return score


def metrics(model: Any, split: Any, users: str) -> dict[str, float]:
    """NDCG@10, recall@10 and MRR of ``users`` ("valid" or "test"), all domains together."""
    frame = evaluate(model, split, users=users)
    frame = frame[(frame["domain"] == "all") & (frame["group"] == "all")].set_index("metric")["value"]
    return {name: round(float(frame[name]), 5) for name in ("ndcg", "recall", "mrr")}


def score_peer(name: str, split: Any) -> dict[str, Any] | None:
    """Every saved epoch scored on validation users; the test users at the best of them."""
    out = WORK / "runs" / name
    if not (out / "curve.json").exists():
        return None
    curve = json.loads((out / "curve.json").read_text())
    for point in curve:
        lists = pd.read_csv(out / f"lists_{point['epoch']:03d}.csv.gz")
        point["valid"] = metrics(list_scorer(lists[lists["part"] == "valid"]), split, "valid")
    best = max(curve, key=lambda p: p["valid"]["ndcg"])
    lists = pd.read_csv(out / f"lists_{best['epoch']:03d}.csv.gz")
    config = json.loads((out / "config.json").read_text())
    return {"name": name, "family": "unisrec" if config.get("text") else config["model"], "config": config,
            "finished": (out / "done.json").exists(), "curve": curve, "best_epoch": best["epoch"],
            "fit_seconds_to_best": best["fit_seconds"], "fit_seconds_total": curve[-1]["fit_seconds"],
            "valid": best["valid"], "test": metrics(list_scorer(lists[lists["part"] == "test"]), split, "test")}


#: The tower's settings chosen on validation users (``benchmarks/tower_speed.py`` probes q_*: dim 64/128/256,
#: batch 256/512/2048, dropout 0/0.1/0.2, 4 to 12 epochs; Amazon valid NDCG@10 0.1101 at dim 128 alone, 0.1234 here).
TUNED = {"dim": 128, "batch_size": 512, "dropout": 0.1}
OURS = {
    "tower": ("tower alone (sequence encoder, library defaults)", lambda: [("tower", _tower())]),
    "tower_no_text": ("tower alone, ID embeddings only (text=False)", lambda: [("tower", _tower(text=False))]),
    "tower_dim128": ("tower alone, dim=128 (chosen on validation users: benchmarks/results/tower_speed/probes)",
                     lambda: [("tower", _tower(dim=128))]),
    "tower_tuned": ("tower alone, tuned on validation users: " + ", ".join(f"{k}={v}" for k, v in TUNED.items())
                    + " (benchmarks/results/tower_speed/probes/q_*)", lambda: [("tower", _tower(**TUNED))]),
    "tower_tuned_no_text": ("tower alone, tuned settings, ID embeddings only (text=False)",
                            lambda: [("tower", _tower(text=False, **TUNED))]),
    "default": ("default model: HybridRecommender()", lambda: None),
    "auto": ("auto model: weights, cdw and normalization 'auto'", lambda: None),
    "auto_tuned": ("auto model, the default set with the tower at its tuned settings", lambda: _defaults(**TUNED)),
}


def _defaults(**tower: Any) -> list:
    """The default components, the tower's parameters set to ``tower``."""
    return [(name, comp.set_params(**tower) if name == "tower" else comp)
            for name, comp in hr.HybridRecommender().named_components()]


def _tower(**params: Any) -> Any:
    return hr.components.TowerComponent(encoder="sequence", **params)


def run_ours(split: Any, keys: list[str]) -> dict[str, Any]:
    """Our models ``keys`` fitted on the training rows alone (no validation users given), scored like the
    peers; added to the results of earlier runs."""
    out = json.loads((WORK / "ours.json").read_text()) if (WORK / "ours.json").exists() else {}
    for key in keys:
        label, components = OURS[key]
        extra = {"weights": "auto", "cross_domain_weight": "auto", "normalization": "auto"} if key.startswith("auto") else {}
        model = hr.HybridRecommender(components=components(), random_state=SEED, batch_size=2048, **extra)
        start = time.perf_counter()
        model.fit(split.train, items=split.items)
        seconds = time.perf_counter() - start
        out[key] = {"label": label, "commit": commit(), "fit_seconds": round(seconds, 1), "weights": dict(model.weights_),
                    "valid": metrics(model, split, "valid"), "test": metrics(model, split, "test")}
        log.info("%s: fitted in %.0f s; valid NDCG@10 %.4f, test %.4f", key, seconds, out[key]["valid"]["ndcg"],
                 out[key]["test"]["ndcg"])
        write_json(WORK / "ours.json", out)
    return out


# ---------------------------------------------------------------------------- the report
def report(split: Any, out_dir: Path, argv: list[str]) -> None:
    peers = [p for p in (score_peer(name, split) for name in PEERS) if p is not None]
    ours = json.loads((WORK / "ours.json").read_text()) if (WORK / "ours.json").exists() else {}
    best = {}
    for peer in (p for p in peers if p["finished"]):  # per family, the finished run validation prefers; an
        # unfinished run is shown with its curve only: no peer is compared before it has converged
        if peer["family"] not in best or peer["valid"]["ndcg"] > best[peer["family"]]["valid"]["ndcg"]:
            best[peer["family"]] = peer
    strongest = max(best.values(), key=lambda p: p["valid"]["ndcg"], default=None)
    result = {"command": "python benchmarks/peers/run.py " + " ".join(argv), "commit": commit(),
              "split": "warm next-item, Amazon Food-Kitchen (quality.py's), seed 0", "schedule": SCHEDULE,
              "peers": peers, "chosen": {f: p["name"] for f, p in best.items()},
              "strongest_peer": None if strongest is None else strongest["name"], "ours": ours,
              "note": "each row's commit is the one its model was trained at (the report's is above)"}
    write_json(out_dir / "peers.json", result)
    write_text(out_dir / "peers.md", _markdown(result, best, strongest))


def _markdown(result: dict[str, Any], best: dict[str, dict], strongest: dict | None) -> str:
    lines = ["# Outside sequential recommenders on the warm next-item split", "",
             f"`{result['command']}` at `{result['commit']}`; {result['split']}. Full ranking of the held-out "
             "item's domain, seen items excluded, the project's `evaluate`. Epochs, loss and dropout chosen on "
             "validation users; test users only at the chosen point.", "",
             "| model | valid NDCG@10 | test NDCG@10 | test recall@10 | test MRR | fit (s) | vs strongest peer | commit |",
             "|---|---|---|---|---|---|---|---|"]
    base = strongest["test"]["ndcg"] if strongest else None

    def row(label: str, entry: dict[str, Any], seconds: float, run_commit: str) -> str:
        ratio = f"{entry['test']['ndcg'] / base:.2f}x" if base else "n/a"
        return (f"| {label} | {entry['valid']['ndcg']:.4f} | {entry['test']['ndcg']:.4f} | "
                f"{entry['test']['recall']:.4f} | {entry['test']['mrr']:.4f} | {seconds:.0f} | {ratio} | `{run_commit}` |")

    for family, peer in best.items():
        lines.append(row(f"{LABELS[family]}: `{peer['name']}`, epoch {peer['best_epoch']}", peer,
                         peer["fit_seconds_to_best"], peer["config"].get("commit", "unknown")))
    for key, entry in result["ours"].items():
        lines.append(row(entry["label"], entry, entry["fit_seconds"], entry.get("commit", "unknown")))
    lines += ["", "Fit seconds of a peer: training up to the chosen epoch (the run went on until "
              f"{result['schedule']['patience']} evaluations without a better validation NDCG@10).", "",
              "## Every peer run (validation curves)", ""]
    for peer in result["peers"]:
        params = {k: v for k, v in peer["config"]["params"].items() if k not in BASE or BASE[k] != v}
        lines += [f"### `{peer['name']}` ({LABELS[peer['family']]})", "",
                  f"Settings: the shared base {json.dumps(BASE)} with {json.dumps(params)}. "
                  f"{'Finished' if peer['finished'] else '**Stopped before its rule said so: not converged, and left out of the table above**'}; "
                  f"best epoch {peer['best_epoch']}"
                  + (f" (test NDCG@10 {peer['test']['ndcg']:.4f})." if peer["finished"] else "."), "",
                  "| epoch | training s | valid NDCG@10 |", "|---|---|---|"]
        lines += [f"| {p['epoch']} | {p['fit_seconds']:.0f} | {p['valid']['ndcg']:.4f} |" for p in peer["curve"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--stage", default="export,peers,ours,report")
    parser.add_argument("--only", default=",".join(PEERS), help="peer runs of the peers stage")
    parser.add_argument("--ours", default=",".join(OURS), help="our models of the ours stage")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stages = set(args.stage.split(","))
    split = warm_split(args.data)
    if "export" in stages:
        export(split, WORK / "split")
    if "peers" in stages:
        python = ensure_venv()
        for name in args.only.split(","):
            run_peer(name, python)
    if "ours" in stages:
        run_ours(split, args.ours.split(","))
    if "report" in stages:
        report(split, args.out, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
