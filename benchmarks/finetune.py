"""Does fine-tuning the text encoder help? The text components with the bundled and a tuned MiniLM.

Protocol: cold-item (DESIGN.md) on MovieLens latest-small, seed 0, as in ``quality.py``: 10% of
the films held out of training (``cold_item_split(frac=0.1, seed=0)``), ranked among the cold
films only; the nested cold-item split of the training rows (seed 1) is the validation set. The
encoder is fine-tuned ONCE, on (earlier film title, next film title) pairs from the nested
split's training rows (``hybridrec.finetune.text_pairs``), so neither the validation nor the
test cold films appear in its training pairs, and no test user is read before the final rows.

Rows: the semantic profile, text kNN (temperature 0.1) and LightFM + text, each alone, with the
bundled encoder and with the tuned one; NDCG@10 on the validation and the test users. Nothing is
tuned on the test users (the component settings are fixed defaults).

    python benchmarks/finetune.py                    # 20,000 pairs, a 600 s budget (about 20 min)
    python benchmarks/finetune.py --quick            # 2,000 pairs, 60 s

Writes ``benchmarks/results/finetune.md``.
"""
from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path

import hybridrec as hr
from hybridrec import components
from hybridrec.evaluation import cold_item_split, evaluate
from hybridrec.evaluation.report import write_text
from hybridrec.finetune import text_pairs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import commit  # noqa: E402
from _quality_protocols import shuffle_catalogue  # noqa: E402

ROWS = {
    "semantic profile": ("semantic", {}),
    "text kNN (T 0.1)": ("textknn", {"temperature": 0.1}),
    "LightFM + text": ("lightfm", {}),
}


def _ndcg(model, split, cold) -> float:
    frame = evaluate(model, split, candidates=cold)
    row = frame[(frame["domain"] == "all") & (frame["group"] == "all") & (frame["metric"] == "ndcg")]
    return float(row["value"].iloc[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "finetune.md")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    folder = args.data / "movielens_latest_small"
    if not folder.is_dir():
        print(f"finetune.py: {folder} is missing; nothing was written.")
        return 0
    n_pairs, budget = (2_000, 60.0) if args.quick else (20_000, 600.0)
    ds = shuffle_catalogue(hr.datasets.load_movielens(folder), args.seed)
    split = cold_item_split(ds.interactions, ds.items, domain="movies", frac=0.1, seed=args.seed)
    inner = cold_item_split(split.train, split.items, domain="movies", frac=0.1, seed=args.seed + 1)

    pairs = text_pairs(hr.InteractionData.from_frames(inner.train, inner.items), max_pairs=n_pairs, seed=args.seed)
    base = hr.TextEncoder()
    with tempfile.TemporaryDirectory(prefix="hybridrec-finetune-") as scratch:
        tuned = base.fine_tune(pairs, Path(scratch) / "minilm-tuned", max_seconds=budget,
                               random_state=args.seed, show_progress=True)
        tune_log = tuned.fine_tune_log_
        results = []
        for label, (name, params) in ROWS.items():
            for which, encoder in (("bundled", base), ("tuned", tuned)):
                scores = {}
                for part, data in (("valid", inner), ("test", split)):
                    model = hr.HybridRecommender(components=[(name, components.create(name, **params))],
                                                 weights={name: 1.0}, encoder=encoder, random_state=args.seed)
                    model.fit(data.train, items=data.items)
                    scores[part] = _ndcg(model, data, data.cold_items)
                logging.info("%s, %s encoder: valid %.4f, test %.4f", label, which, scores["valid"], scores["test"])
                results.append((label, which, scores))

    lines = [
        "# Fine-tuning the text encoder: cold-item, MovieLens latest-small",
        "",
        f"- Command: `python benchmarks/finetune.py{' --quick' if args.quick else ''}`",
        f"- git commit `{commit()}`; seed {args.seed}; {platform.machine()}, "
        f"Python {platform.python_version()} (CPU only)",
        f"- Fine-tuning: {tune_log['pairs']:,} pairs from the nested split's training rows, "
        f"{tune_log['steps']} steps of batch 32 in {tune_log['seconds']:.0f} s (budget {budget:.0f} s); "
        f"mean training loss {tune_log['train_loss']:.3f}",
        f"- Validation: nested cold-item split (seed {args.seed + 1}), "
        f"{inner.test['user_id'].nunique()} users, {len(inner.cold_items)} cold films; "
        f"test: {split.test['user_id'].nunique()} users, {len(split.cold_items)} cold films; "
        "candidates: the cold films only",
        "",
        "| component | encoder | valid NDCG@10 | test NDCG@10 |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | {which} | {s['valid']:.4f} | {s['test']:.4f} |" for label, which, s in results]
    write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    logging.info("done in %.0f s", time.perf_counter() - start)
    raise SystemExit(code)
