"""Which LightFM text features help, and what they cost: on validation users.

``--speed`` compares the cost of the side features instead: the number of PCA components per item
(``text_components``), text codes instead of them (``text_features="codes"``) and the history
features sampled per user and epoch (``max_history``), with the seconds per epoch of each fit.

Amazon Food-Kitchen, seed 0, LightFM alone (10 epochs, the quality benchmark's tuned setting),
NDCG@10 on VALIDATION users only (this chose the library's defaults; test users are never read):

- CD-cold food -> kitchen: the official 'valid' users, all their kitchen rows hidden;
- warm next-item: the official 'valid' users' last item;
- cold kitchen items, ranked among themselves: a nested cold-item split of the training rows
  (seed 1), 1,000 of its users.

    python benchmarks/lightfm_text.py            # every setting (about 40 minutes on 2 cores)
    python benchmarks/lightfm_text.py --quick    # no text, the defaults and text at 1
    python benchmarks/lightfm_text.py --speed    # feature sizes against seconds per epoch

Writes ``benchmarks/results/lightfm_text.md`` (``lightfm_speed.md`` with ``--speed``).
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

import hybridrec as hr
from hybridrec.components import LightFMComponent
from hybridrec.datasets import official_users
from hybridrec.evaluation import cold_item_split, cross_domain_split, leave_last_split
from hybridrec.evaluation.report import write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, commit, load_amazon, ndcg, parse  # noqa: E402

SETTINGS = {
    "no text": {"text_components": 0},
    "text 1 everywhere": {"text_weight": 1.0, "cold_text_weight": 1.0},
    "text 0.25 everywhere": {"text_weight": 0.25, "cold_text_weight": 0.25},
    "text 0.1 everywhere": {"text_weight": 0.1, "cold_text_weight": 0.1},
    "text 0.1, cold items 1": {"text_weight": 0.1, "cold_text_weight": 1.0},
    "defaults (text 0.1, cold items 0.3)": {},
    "whitened, text 1": {"whiten": True, "text_weight": 1.0, "cold_text_weight": 1.0},
}
QUICK = ("no text", "text 1 everywhere", "defaults (text 0.1, cold items 0.3)")
#: Feature sizes: PCA components per item block and history features per user and epoch.
SPEED_SETTINGS = {
    f"text_components {tc}, max_history {mh}": {"text_components": tc, "max_history": mh}
    for tc, mh in ((32, 32), (16, 32), (8, 32), (16, 8), (8, 8))
}
#: Text codes (cluster features) instead of PCA dimensions.
CODE_SETTINGS = {
    f"text codes, max_history {mh}": {"text_features": "codes", "max_history": mh} for mh in (32, 8)
}



def main(argv: list[str] | None = None) -> int:
    args = parse(__doc__, RESULTS / "lightfm_text.md", argv,
                 {"--speed": "feature sizes against seconds per epoch (writes lightfm_speed.md by default)"})
    speed = args.speed
    if speed and args.out == RESULTS / "lightfm_text.md":
        args.out = RESULTS / "lightfm_speed.md"
    ds = load_amazon(args.data, "lightfm_text.py")
    if ds is None:
        return 0
    test, valid = official_users(ds)
    cd = cross_domain_split(ds.interactions, ds.items, "kitchen", test_users=test, valid_users=valid, seed=0)
    warm = leave_last_split(ds.interactions, test_users=test, valid_users=valid, seed=0, items=ds.items)
    outer = cold_item_split(ds.interactions, ds.items, domain="kitchen", frac=0.1, seed=0)
    cold = cold_item_split(outer.train, outer.items, domain="kitchen", frac=0.1, seed=1)
    keep = np.random.default_rng(1).choice(cold.test["user_id"].unique(), size=1000, replace=False)
    cold = dataclasses.replace(cold, test=cold.test[cold.test["user_id"].isin(keep)])
    tasks = {
        "CD-cold food -> kitchen (valid users)": (cd, "valid", None),
        "warm next-item (valid users)": (warm, "valid", None),
        "cold kitchen items among themselves (nested split)": (cold, "test", cold.cold_items),
    }
    rows = []
    for name, params in ({**SPEED_SETTINGS, **CODE_SETTINGS} if speed else SETTINGS).items():
        if args.quick and name not in QUICK:
            continue
        row = {"setting": name, "epoch": []}
        for task, (split, users, candidates) in tasks.items():
            start = time.perf_counter()
            model = hr.HybridRecommender(components=[("lightfm", LightFMComponent(epochs=10, **params))],
                                         weights={"lightfm": 1.0}, random_state=0, batch_size=2048)
            model.fit(split.train, items=split.items)
            held = split.valid if users == "valid" else split.test
            view = dataclasses.replace(split, train=split.train[split.train["user_id"].isin(held["user_id"].unique())])
            row[task] = ndcg(model, view, users, candidates)
            row["epoch"] += model.components_["lightfm"].epoch_seconds_
            print(f"{name:38s} {task:52s} NDCG@10 {row[task]:.4f} ({time.perf_counter() - start:.0f}s)", flush=True)
        rows.append(row)
    flags = (" --speed" if speed else "") + (" --quick" if args.quick else "")
    lines = [f"# LightFM {'feature sizes' if speed else 'text features'} on validation users (Amazon Food-Kitchen, seed 0)",
             "", f"- Command: `python benchmarks/lightfm_text.py{flags}`",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; git commit `{commit()}`; LightFM alone, 10 epochs; NDCG@10; "
             "s/epoch: median seconds per epoch over the three fits (one thread; the machine is shared)",
             "",
             "| setting | " + " | ".join(tasks) + " | s/epoch |", "|---|" + "---|" * (len(tasks) + 1)]
    lines += ["| " + r["setting"] + " | " + " | ".join(f"{r[t]:.4f}" for t in tasks)
              + f" | {np.median(r['epoch']):.2f} |" for r in rows]
    write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
