"""Adversarial item texts: how far stuffed or duplicated texts push into top-10 lists, with and without the defence.

Data: Amazon Food-Kitchen (DESIGN.md), seed 0. Two defences, each compared with none on the SAME
fitted model:

- ``screen``: the recommender's text screen (``HybridRecommender(screen_texts="hold")``, the
  default; ``hybridrec/screening.py``): items scored from text alone whose text borrows 12 or
  more words from listings other than its closest one are held out of every list;
- ``hubness``: the CSLS hubness correction of the semantic and text-kNN components
  (``hubness_correction=1``; default 0, off; ``hybridrec/components/hubness.py``).

The model is fitted with both; "none" sets the correction to 0 and holds nothing.

Exposure (the cold-user split of DESIGN.md, ``cold_user_split(test_size=0.02, n_given=3,
seed=0)``; the library's default components ALS, LightFM + text, semantic profile and text kNN,
default parameters, plus a second LightFM with ``cold_text_weight=0.1``, fitted on its training
rows; the "default blend" rows weigh the four at the library's defaults). Added afterwards with
``add_items``:

- 50 **stuffed** items, 25 per domain: each a keyword list of up to 30 distinct words taken from
  8 titles drawn from the domain's 100 most popular items (popularity over the training rows);
- 50 **duplicates**: the 25 most popular titles of each domain, copied under new ids (the report
  also counts which injected items `add_items` warned about as copies);
- 50 **honest** new items (the control): real catalogue items without training interactions
  (25 per domain where there are that many), left out of fit and added with their own titles.

Three audiences rank the injected items' domain: 1,000 text **queries** (the first 5 words of
the titles of 1,000 training interactions drawn at random, in that item's domain); the
protocol's **cold users** known only by a text (their 3 revealed titles, joined); the same cold
users given their 3 revealed items as a **history**. Exposure = top-10 slots an injected kind
takes (each list has 10).

Quality: NDCG@10 under each setting, on the cold-user protocol (the same model;
only the protocol's own candidates are ranked, so injected items never count) and on the
cold-item protocol (kitchen, 10% of items cold, seed 0, 2,000 sampled test users, a second
model with the same components fitted on that split): cold items only and all kitchen items.

    python benchmarks/adversarial.py [--quick]      # about 12 minutes; --quick: 300 queries and users

Writes ``benchmarks/results/adversarial.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybridrec as hr  # noqa: E402
from _common import commit, fit, methods, popular, sample_users, stuffed_texts  # noqa: E402
from _quality_protocols import user_texts  # noqa: E402
from _quality_tuning import Lookup, Scorer, run_eval  # noqa: E402
from hybridrec.components.hubness import COPY_COSINE, copies  # noqa: E402
from hybridrec.evaluation import cold_item_split, cold_user_split  # noqa: E402
from hybridrec.evaluation.report import write_json, write_text  # noqa: E402

log = logging.getLogger("adversarial")
HERE = Path(__file__).resolve().parent
KINDS = ("stuffed", "duplicate", "honest")
#: The settings compared: no defence, the hubness correction, the text screen.
SETTINGS = ("none", "hubness", "screen")



def set_defence(model: hr.HybridRecommender, setting: str, held: pd.Index) -> None:
    """Switch the fitted model to ``setting``: the components' ``hubness_correction`` (fitted at 1, so
    their offsets exist; 0 skips them) and the items held by the screen (``held``, from fit and add_items)."""
    model.set_params(**{f"{name}__hubness_correction": 1.0 if setting == "hubness" else 0.0
                        for name, comp in model.components_.items() if "hubness_correction" in comp.scoring_params})
    model.release_items(model.held_item_ids_)
    if setting == "screen":
        model.hold_items(held)


# ---------------------------------------------------------------------------- the injected items
def injected(train: pd.DataFrame, items: pd.DataFrame, honest: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The 150 new items: stuffed, duplicate and honest, with a ``kind`` column."""
    rows = []
    for domain, texts in stuffed_texts(train, items, seed).items():
        rows += [{"item_id": f"stuffed-{domain}-{j}", "text": text, "domain": domain, "kind": "stuffed"}
                 for j, text in enumerate(texts)]
        top = popular(train, items, domain, 100)
        for j, text in enumerate(top["text"].head(25)):
            rows.append({"item_id": f"duplicate-{domain}-{j}", "text": text, "domain": domain, "kind": "duplicate"})
    frame = pd.DataFrame(rows)
    return pd.concat([frame, honest[["item_id", "text", "domain"]].assign(kind="honest")], ignore_index=True)


def honest_items(split, seed: int, per_domain: int = 25) -> pd.DataFrame:
    """Catalogue items without training interactions (they leave fit and come back with add_items)."""
    unseen = split.items[~split.items["item_id"].isin(split.train["item_id"].unique())]
    parts = [g.sample(min(per_domain, len(g)), random_state=seed) for _, g in unseen.groupby("domain")]
    return pd.concat(parts)


# ---------------------------------------------------------------------------- exposure
def audiences(ds, split, n: int, seed: int) -> dict[str, dict[str, Any]]:
    """Queries, cold users by text and the same users by history: ids, domains, texts, lookup."""
    titles = split.items.set_index("item_id")
    picks = split.train.sample(n, random_state=seed)["item_id"].to_numpy()
    queries = {f"q{i}": " ".join(str(titles.at[item, "text"]).split()[:5]) for i, item in enumerate(picks)}
    q_domains = [titles.at[item, "domain"] for item in picks]
    held = split.test.merge(split.items[["item_id", "domain"]], on="item_id")
    pairs = held[["user_id", "domain"]].drop_duplicates()
    users = pairs["user_id"].unique()[:n]
    pairs = pairs[pairs["user_id"].isin(users)]
    texts = user_texts(split.fold_in, ds.items)
    return {
        "queries": {"ids": list(queries), "domains": q_domains, "texts": queries, "lookup": None},
        "cold users (text)": {"ids": pairs["user_id"].tolist(), "domains": pairs["domain"].tolist(), "texts": texts,
                              "lookup": None},
        "cold users (3 items as history)": {"ids": pairs["user_id"].tolist(), "domains": pairs["domain"].tolist(),
                                            "texts": None, "lookup": Lookup(split.fold_in)},
    }


def exposure(model: hr.HybridRecommender, audience: dict[str, Any], weights: dict[str, float],
             kinds: dict[Any, str], k: int = 10, batch: int = 500) -> dict[str, int]:
    """Top-k slots taken by each injected kind over the audience's lists (each in its own domain)."""
    slots = dict.fromkeys(KINDS, 0)
    domains = np.asarray(audience["domains"])
    catalogue = model.data_.item_ids
    item_domains = np.asarray(model.data_.domains)[model.data_.item_domain]
    for domain in np.unique(domains):
        cands = catalogue[item_domains == domain]
        tags = np.array([kinds.get(i, "") for i in cands])
        ids = [u for u, d in zip(audience["ids"], domains) if d == domain]
        scorer = Scorer(model, weights, lookup=audience["lookup"], texts=audience["texts"])
        held = pd.Index(cands).isin(model.held_item_ids_)  # recommend never lists them
        for start in range(0, len(ids), batch):
            part = ids[start:start + batch]
            scores = scorer(part, list(cands))
            scores[:, held] = -np.inf
            if audience["lookup"] is not None:  # the history's own items are never recommended
                seen = audience["lookup"].rows(part)
                rows = pd.Series(np.arange(len(part)), index=part)
                cols = pd.Series(np.arange(len(cands)), index=cands)
                keep = seen["item_id"].isin(cols.index).to_numpy()
                scores[rows[seen["user_id"][keep]].to_numpy(), cols[seen["item_id"][keep]].to_numpy()] = -np.inf
            top = np.argpartition(-scores, k, axis=1)[:, :k]
            for kind in KINDS:
                slots[kind] += int((tags[top] == kind).sum())
    slots["lists"] = len(domains)
    return slots


# ---------------------------------------------------------------------------- the run
def exposure_part(ds, seed: int, n: int) -> tuple[dict, dict, dict]:
    split = cold_user_split(ds.interactions, test_size=0.02, n_given=3, seed=seed, items=ds.items)
    honest = honest_items(split, seed)
    new = injected(split.train, split.items, honest, seed)
    t0 = time.perf_counter()
    model = fit(split, split.items[~split.items["item_id"].isin(honest["item_id"])], seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # add_items warns about the copies; counted below
        model.add_items(new[["item_id", "text", "domain"]])
    log.info("cold-user split: fitted and injected in %.0fs", time.perf_counter() - t0)
    kinds = dict(zip(new["item_id"], new["kind"]))
    emb = model.item_embeddings_
    flagged, _ = copies(emb[len(emb) - len(new):], emb[:len(emb) - len(new)])  # what add_items warned about
    copied = new["kind"].iloc[flagged].value_counts().reindex(list(KINDS), fill_value=0).to_dict()
    held = model.held_item_ids_
    screened = new["kind"][pd.Index(new["item_id"]).isin(model.held_item_ids_)].value_counts()
    screened = screened.reindex(list(KINDS), fill_value=0).to_dict()
    groups = audiences(ds, split, n, seed)
    rows, quality = {}, {}
    for setting in SETTINGS:
        set_defence(model, setting, held)
        for label, weights in methods(model).items():
            for audience, spec in groups.items():
                mode = "history" if spec["lookup"] is not None else "text"
                rows[(setting, label, audience)] = exposure(model, spec, weights[mode], kinds)
            scorer = Scorer(model, weights["text"], texts=user_texts(split.fold_in, ds.items))
            quality[(setting, label)] = run_eval(scorer, split, "test", None)["ndcg"]
        log.info("exposure with %s done", setting)
    examples = new.groupby("kind").head(2)[["kind", "item_id", "text"]].to_dict("records")
    return rows, quality, {"examples": examples, "split": repr(split), "n_injected": new["kind"].value_counts().to_dict(),
                           "copies_flagged": copied, "screened": screened}


def cold_item_part(ds, seed: int, n_users: int) -> tuple[dict, str]:
    split = cold_item_split(ds.interactions, ds.items, domain="kitchen", frac=0.1, seed=seed)
    split = sample_users(split, n_users, seed)
    model = fit(split, split.items, seed)
    held = model.held_item_ids_
    n_held = (len(held), int(pd.Index(model.data_.item_ids).isin(split.cold_items).sum()))
    lookup = Lookup(split.train)
    out = {}
    for setting in SETTINGS:
        set_defence(model, setting, held)
        for label, weights in methods(model).items():
            for cands_label, cands in (("cold items only", split.cold_items), ("all kitchen items", None)):
                scorer = Scorer(model, weights["history"], lookup=lookup)  # ranks held items last
                out[(setting, label, cands_label)] = run_eval(scorer, split, "test", cands)["ndcg"]
        log.info("cold-item NDCG with %s done", setting)
    return out, repr(split), n_held


# ---------------------------------------------------------------------------- report
def _cut(before: int, after: int) -> str:
    if before == 0:
        return "-"
    return f"{before / after:.1f}x" if after else f"{before} -> 0"


def report(args, exposure_rows, cold_user, cold_item, info, seconds) -> str:
    labels = list(dict.fromkeys(label for _, label, _ in exposure_rows))
    audiences_ = list(dict.fromkeys(a for _, _, a in exposure_rows))
    held, cold = info["cold_item_held"]
    lines = [
        "# Adversarial item texts: exposure of stuffed and duplicated items, with no defence, the hubness correction "
        "and the text screen",
        "",
        "- Command: `python benchmarks/adversarial.py" + (" --quick" if args.quick else "") + "`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; git commit `{commit()}`; seed {args.seed}",
        f"- Machine: {platform.machine()}, Python {platform.python_version()}; total time {seconds / 60:.1f} min",
        f"- Exposure split: `{info['split']}`; injected with add_items: {info['n_injected']}",
        "",
        "How the items are built, who ranks them and what is measured: see the script's docstring. Settings, each on "
        "the same fitted model: `none`; `hubness` (the semantic and text-kNN components' `hubness_correction=1`; "
        "default 0); `screen` (`HybridRecommender(screen_texts='hold')`, the default: flagged items are held out of "
        "the lists). A cell is top-10 slots taken by that kind (out of 10 x lists); a cut is slots with none / "
        "slots with the defence.",
        "",
        "The screen held, of the injected items: " + ", ".join(
            f"{kind} {info['screened'][kind]} of {info['n_injected'].get(kind, 0)}" for kind in KINDS)
        + f"; of the cold-item split's {cold} honest cold items (no interactions in fit): {held}.",
        "",
        f"`add_items` warned that these texts copy an existing item's (cosine >= {COPY_COSINE}): "
        + ", ".join(f"{kind} {info['copies_flagged'][kind]} of {info['n_injected'].get(kind, 0)}" for kind in KINDS)
        + ". The warning changes no score.",
        "",
        "Examples of the injected texts:",
        "",
    ]
    for ex in info["examples"]:
        lines.append(f"- {ex['kind']} `{ex['item_id']}`: {ex['text'][:160]}")
    for audience in audiences_:
        n = exposure_rows[("none", labels[0], audience)]["lists"]
        lines += ["", f"## Exposure: {audience} ({n} lists)", "",
                  "| method | stuffed: none | hubness | cut | screen | cut | duplicate: none | hubness | screen "
                  "| honest: none | hubness | screen |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label in labels:
            r = {setting: exposure_rows[(setting, label, audience)] for setting in SETTINGS}
            st = [r[x]["stuffed"] for x in SETTINGS]
            lines.append(f"| {label} | {st[0]} | {st[1]} | {_cut(st[0], st[1])} | {st[2]} | {_cut(st[0], st[2])} | "
                         + " | ".join(str(r[x][kind]) for kind in ("duplicate", "honest") for x in SETTINGS) + " |")
    lines += ["", "## Quality: NDCG@10 under each setting", "",
              f"Cold-item split: `{info['cold_item_split']}`.", "",
              "| protocol | method | none | hubness | change | screen | change |", "|---|---|---|---|---|---|---|"]
    rows = [("cold user from text", label, {x: cold_user[(x, label)] for x in SETTINGS}) for label in labels]
    rows += [(f"cold-item kitchen, {cands}", label, {x: cold_item[(x, label, cands)] for x in SETTINGS})
             for (setting, label, cands) in cold_item if setting == "none"]
    for protocol, label, v in rows:
        lines.append(f"| {protocol} | {label} | {v['none']:.4f} | {v['hubness']:.4f} | {_change(v['none'], v['hubness'])} "
                     f"| {v['screen']:.4f} | {_change(v['none'], v['screen'])} |")
    return "\n".join(lines) + "\n"


def _change(off: float, on: float) -> str:
    return f"{(on - off) / off:+.1%}" if off else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "adversarial.md")
    parser.add_argument("--quick", action="store_true", help="300 queries and cold users, 500 cold-item users")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("hybridrec").setLevel(logging.WARNING)
    start = time.perf_counter()
    ds = hr.datasets.load_amazon_food_kitchen(args.data / "amazon_food_kitchen_llmcdsr")
    n = 300 if args.quick else 1000
    rows, cold_user, info = exposure_part(ds, args.seed, n)
    cold_item, info["cold_item_split"], info["cold_item_held"] = cold_item_part(ds, args.seed, 500 if args.quick else 2000)
    seconds = time.perf_counter() - start
    write_text(args.out, report(args, rows, cold_user, cold_item, info, seconds))
    write_json(args.out.with_suffix(".json"), {
        "commit": commit(), "seed": args.seed, "quick": args.quick, "seconds": round(seconds, 1),
        "exposure": [{"setting": v, "method": m, "audience": a, **c} for (v, m, a), c in rows.items()],
        "cold_user_ndcg": [{"setting": v, "method": m, "ndcg": x} for (v, m), x in cold_user.items()],
        "cold_item_ndcg": [{"setting": v, "method": m, "candidates": c, "ndcg": x}
                           for (v, m, c), x in cold_item.items()],
        "examples": info["examples"], "copies_flagged": info["copies_flagged"], "screened": info["screened"],
        "cold_item_held": dict(zip(("held", "cold_items"), info["cold_item_held"])),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
