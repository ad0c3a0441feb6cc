"""What the benchmark scripts share: the command line, the Amazon loader, NDCG@10, the commit a run
measured, seeded user samples, and the adversarial recipe (stuffed texts, the fitted model and its
blends) that ``adversarial.py`` and ``screen_threshold.py`` both use. Scripts import this module,
never each other."""
from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import hybridrec as hr
from hybridrec.blend import default_weights, query_weights

#: ../shared/datasets beside the checkout.
DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
#: The checkout.
ROOT = Path(__file__).resolve().parents[1]
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


def commit() -> str:
    """The checkout's short commit, marked when tracked files have uncommitted changes."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def sample_users(split: Any, n: int | None, seed: int, which: str = "test") -> Any:
    """The split with its ``which`` rows restricted to a seeded sample of ``n`` users."""
    frame = getattr(split, which)
    users = frame[split.user_col].unique()
    if n is None or len(users) <= n:
        return split
    keep = np.random.default_rng(seed).choice(users, size=n, replace=False)
    return dataclasses.replace(split, **{which: frame[frame[split.user_col].isin(keep)]})


# ---------------------------------------------------------------------------- the adversarial recipe
#: The library's default components with text (the adversarial model fits these).
COMPONENTS = ("als", "lightfm", "semantic", "textknn")
#: A second LightFM with new items' text rows at the warm items' length (0.1 instead of 0.3).
LIGHTFM_LOW = ("lightfm_cold_0.1", {"cold_text_weight": 0.1})
#: Stop words left out of the keyword lists.
STOP = set("a an the of and or for with in on to by from & oz pack count ounce ounces lb inch x".split())


def methods(model: hr.HybridRecommender) -> dict[str, dict[str, dict[str, float]]]:
    """Per row: the weights for text users and for users with a history."""
    single = {"text profile": "semantic", "text kNN": "textknn", "ALS": "als", "LightFM + text": "lightfm",
              "LightFM + text, cold_text_weight 0.1": LIGHTFM_LOW[0]}
    out = {label: {"text": {name: 1.0}, "history": {name: 1.0}} for label, name in single.items()}
    library = {name: comp for name, comp in model.components_.items() if name in COMPONENTS}
    out["default blend"] = {"text": query_weights(None, library), "history": default_weights(library.items())}
    return out


def popular(train: pd.DataFrame, items: pd.DataFrame, domain: str, n: int) -> pd.DataFrame:
    counts = train["item_id"].value_counts()
    dom = items[items["domain"] == domain].copy()
    dom["count"] = counts.reindex(dom["item_id"]).fillna(0).to_numpy()
    return dom.sort_values(["count", "item_id"], ascending=[False, True]).head(n)


def stuffed_text(titles: list[str], max_words: int = 30) -> str:
    words: list[str] = []
    seen: set[str] = set()
    for title in titles:
        for word in re.findall(r"[A-Za-z][A-Za-z'-]+", title):
            if word.lower() not in STOP and word.lower() not in seen:
                seen.add(word.lower())
                words.append(word)
    return " ".join(words[:max_words])


def stuffed_texts(train: pd.DataFrame, items: pd.DataFrame, seed: int, per_domain: int = 25) -> dict[str, list[str]]:
    """Per domain: ``per_domain`` keyword lists, each from 8 titles drawn from the domain's 100 most popular."""
    rng = np.random.default_rng(seed)
    out = {}
    for domain in sorted(items["domain"].unique()):
        top = popular(train, items, domain, 100)["text"].to_numpy()
        out[domain] = [stuffed_text(list(top[rng.choice(len(top), 8, replace=False)])) for _ in range(per_domain)]
    return out


def fit(split, items: pd.DataFrame, seed: int) -> hr.HybridRecommender:
    """The adversarial model: COMPONENTS (text ones with the hubness correction) and LIGHTFM_LOW, on ``split.train``."""
    corrected = {"semantic", "textknn"}  # fitted with the correction so that set_params can switch it off
    comps = [(name, hr.components.create(name, **({"hubness_correction": 1.0} if name in corrected else {})))
             for name in COMPONENTS]
    comps.append((LIGHTFM_LOW[0], hr.components.create("lightfm", **LIGHTFM_LOW[1])))
    model = hr.HybridRecommender(components=comps, weights={name: 1.0 for name, _ in comps}, random_state=seed,
                                 batch_size=2048, screen_texts="hold")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the screen's warning; the held items are counted instead
        return model.fit(split.train, items=items, users=split.users)
