"""The command line, loader and NDCG@10 shared by the Amazon Food-Kitchen benchmark scripts."""
from __future__ import annotations

import argparse
from pathlib import Path

import hybridrec as hr

#: ../shared/datasets beside the checkout.
DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
#: Where the results go.
RESULTS = Path(__file__).resolve().parent / "results"


def parse(doc: str, out: Path, argv: list[str] | None, flags: dict[str, str] | None = None) -> argparse.Namespace:
    """``--data`` (default ../shared/datasets), ``--out`` (default ``out``), ``--quick`` and ``flags``.

    ``flags`` maps further on/off options (``"--speed"``) to their help.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--quick", action="store_true")
    for flag, text in (flags or {}).items():
        parser.add_argument(flag, action="store_true", help=text)
    return parser.parse_args(argv)


def ndcg(model, split, users: str = "test", candidates=None) -> float:
    """NDCG@10 of ``model`` on ``split``'s ``users`` (``hybridrec.evaluation.evaluate``), all domains together."""
    from hybridrec.evaluation import evaluate

    frame = evaluate(model, split, users=users, candidates=candidates)
    return float(frame[(frame["domain"] == "all") & (frame["group"] == "all") & (frame["metric"] == "ndcg")]["value"].iloc[0])


def load_amazon(data: Path, script: str) -> hr.datasets.Dataset | None:
    """Amazon Food-Kitchen from ``data``, or None (saying so) when it is absent."""
    folder = data / "amazon_food_kitchen_llmcdsr"
    if not folder.is_dir():
        print(f"{script}: {folder} is missing; nothing was written.")
        return None
    return hr.datasets.load_amazon_food_kitchen(folder)
