"""Recommendation quality of the hybrid against tuned single-component baselines, on every protocol.

Protocols (DESIGN.md, "Evaluation protocols"), all on the same seeded splits:

- ``cd_food2kitchen``, ``cd_kitchen2food``: CD-cold users on Amazon Food-Kitchen;
- ``cold_item``: 10% of the kitchen items cold, ranked among the cold items and among all;
- ``warm``: warm next-item (each official test user's last item);
- ``movielens_random``, ``movielens_cold_item``, ``goodbooks_random``, ``goodbooks_cold_item``;
- ``cold_user_text``: new Amazon users known only by a text (the titles of 3 of their items).

Rows per protocol: popularity, ALS, LightFM without and with text features, the text profile,
text kNN, item-kNN, EASE, PureSVD, the tower (sequence encoder) and the hybrid; on the MovieLens and goodbooks cold-item
protocols also the semantic profile, text kNN and LightFM on a second item block ("meta": the
catalogue's genres/authors/tags/year through ColumnEncoder) and the hybrid without that block.
Every baseline is tuned on validation users by walking ordered ladders of its parameters, one
axis at a time, while the score improves (a choice left at a ladder end is reported as an
edge); the hybrid is one HybridRecommender holding every component at its tuned parameters,
its blend tuned with ``tune_blend`` on the same validation users. Then the models a user gets
without tuning: ``HybridRecommender()`` and ``weights="auto"``. Every test figure comes with a
95% bootstrap interval over the test users. Writes ``quality.md``, ``quality.json`` and
``cd_weight_sweep.png`` under ``benchmarks/results/scoreboard/NAME`` (``--out``).

    python benchmarks/quality.py                 # everything (hours on 2 cores: Amazon alone ~2 h)
    python benchmarks/quality.py --quick         # minutes: Amazon subset, tiny grids, no goodbooks
    python benchmarks/quality.py --only cd,warm  # a subset (aliases: cd, amazon, movielens, goodbooks)
    python benchmarks/quality.py --data DIR      # datasets folder (default ../shared/datasets)
    python benchmarks/quality.py --screen-texts off  # models without the text screen (default: hold)
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import hybridrec as hr
from hybridrec.blend import query_weights

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import commit  # noqa: E402
from _quality_protocols import (  # noqa: E402
    ALIASES,
    LABELS,
    META_FAMILIES,
    TEXT_LABELS,
    PROTOCOLS,
    Task,
    build_tasks,
    load_datasets,
)
from _quality_budgets import Budget, full_budget, quick_budget  # noqa: E402
from _quality_report import write_run  # noqa: E402
from _quality_tuning import (  # noqa: E402
    BlendSearch,
    Lookup,
    Scorer,
    add_intervals,
    check_equivalence,
    fit_model,
    make_component,
    ratios,
    run_eval,
    staged_blend,
    tune_components,
    view,
)

log = logging.getLogger("quality")
SWEEP = [0.0, 0.25, 0.5, 0.75, 1.0]


class _Elapsed(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.start = time.perf_counter()

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"[{time.perf_counter() - self.start:7.1f}s]"
        if record.name != "quality":
            prefix += f" {record.levelname.lower()} {record.name}:"
        return f"{prefix} {record.getMessage()}"


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Elapsed())
    if not verbose:  # the library logs every evaluation at INFO; keep its warnings only
        handler.addFilter(lambda r: r.name == "quality" or r.levelno >= logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("hybridrec").setLevel(logging.INFO)  # fit times are read from its records


def default_out(only: str | None, quick: bool) -> Path:
    """``benchmarks/results/scoreboard/NAME`` for a run's results (see ``--out``)."""
    name = "_".join(part.strip() for part in only.split(",")) if only else "all"
    return HERE / "results" / "scoreboard" / (("quick_" if quick else "") + name)


def _protocols(only: str | None) -> list[str]:
    if not only:
        return list(PROTOCOLS)
    wanted: list[str] = []
    for part in only.split(","):
        part = part.strip()
        names = ALIASES.get(part, (part,))
        for name in names:
            if name not in PROTOCOLS:
                raise ValueError(f"--only: unknown protocol {part!r}. Known: {', '.join(PROTOCOLS)}; "
                                 f"aliases: {', '.join(ALIASES)}.")
            if name not in wanted:
                wanted.append(name)
    return [p for p in PROTOCOLS if p in wanted]


# ---------------------------------------------------------------------------- one protocol
def _components(task: Task, chosen: dict[str, dict], budget: Budget) -> list[tuple[str, Any]]:
    return [(f, make_component(f, chosen[f], budget.fixed.get(f))) for f in task.families]


def _tower_training(model: Any) -> dict[str, Any] | None:
    """The tower's epochs, best epoch and training seconds in ``model`` (None without a tower)."""
    tower = model.components_.get("tower")
    if tower is None:
        return None
    out = {"epochs": len(tower.training_curve_), "best_epoch": int(tower.best_epoch_),
           "seconds": round(float(tower.train_seconds_), 1)}
    log.info("tower: %(epochs)d epochs, best %(best_epoch)d, %(seconds).0f s of training", out)
    return out


def _row(method: str, component: str, metrics: dict, **extra: Any) -> dict[str, Any]:
    return {"method": method, "component": component, "metrics": metrics, **extra}


#: The models a user gets without tuning: the defaults, and the blend chosen in fit (weights="auto").
OUT_OF_THE_BOX = {
    "hybrid_default_model": ("default model: HybridRecommender() (untuned)", {}),
    "hybrid_auto": ("auto model: weights, cdw and normalization 'auto' (no validation users), auto_target "
                    "matching the protocol", {"weights": "auto", "cross_domain_weight": "auto", "normalization": "auto"}),
}


def _out_of_the_box(task: Task, budget: Budget, seed: int) -> dict[str, dict[str, Any]]:
    """Each out-of-the-box model fitted on the task's training rows alone, scored on its test users."""
    if task.mode == "text" or budget.add_unseen:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key, (label, params) in OUT_OF_THE_BOX.items():
        log.info("%s: fitting the %s", task.key, label)
        if params.get("weights") == "auto":
            params = {**params, "auto_target": task.auto_target}
        model = hr.HybridRecommender(random_state=seed, batch_size=2048, screen_texts=budget.screen_texts, **params)
        t0 = time.perf_counter()
        model.fit(task.split.train, items=task.split.items, users=task.split.users)
        fit_s = time.perf_counter() - t0
        out[key] = {"label": label, "fit_seconds": fit_s, "weights": dict(model.weights_),
                    "cdw": model.cross_domain_weight_, "normalization": model.normalization_,
                    "auto": model.auto_report_, "tower": _tower_training(model),
                    "metrics": {lab: run_eval(model, task.split, "test", cands, per_user=True) for lab, cands, _ in task.sets}}
        log.info("%s: %s fitted in %.0fs: %s", task.key, label, fit_s,
                 ", ".join(f"{lab} NDCG@10 {m['ndcg']:.4f}" for lab, m in out[key]["metrics"].items()))
        del model
        gc.collect()
    return out


def run_task(task: Task, budget: Budget, seed: int, state: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    log.info("=== %s: tuning component parameters on %s users of %s", task.key, task.tune_users,
             "a nested split" if task.refit else "the same split")
    timings: dict[str, Any] = {}
    t0 = time.perf_counter()
    chosen, component_report = tune_components(task, budget, seed)
    timings["component_grids"] = round(time.perf_counter() - t0, 1)

    log.info("%s: fitting the tuning hybrid (%s)", task.key, ", ".join(task.families))
    model, fit_s, comp_s = fit_model(_components(task, chosen, budget), task.tune_split, seed, budget.add_unseen,
                                     task.item_vectors, budget.screen_texts)
    timings["tuning_hybrid_fit"] = round(fit_s, 1)
    log.info("%s: fitted in %.0fs (%s)", task.key, fit_s, ", ".join(f"{n} {s:.0f}s" for n, s in comp_s.items()))

    blends: dict[str, dict] = {}
    for label, _, tune_cands in task.sets:
        log.info("%s [%s]: staged blend search", task.key, label)
        search = BlendSearch(model, task.tune_split, task.tune_users, tune_cands, task.families, mode=task.mode,
                             texts=task.texts.get("tune"))
        blends[label] = staged_blend(search, None if task.mode == "text" else task.cdw_grid, budget.norms,
                                     budget.blend_levels, budget.blend_rounds)
        b = blends[label]
        timings[f"blend_search [{label}]"] = b["seconds"]
        log.info("%s [%s]: blend %s, cdw %s, %s: validation NDCG@10 %.4f (%d candidates in %d calls, %.0fs)",
                 task.key, label, {n: w for n, w in b["weights"].items() if w}, b["cdw"], b["norm"], b["valid_ndcg"],
                 b["evaluated"], b["calls"], b["seconds"])
    without_meta: dict[str, dict] = {}
    if task.item_vectors:
        plain = [f for f in task.families if f not in META_FAMILIES]
        for label, _, tune_cands in task.sets:
            search = BlendSearch(model, task.tune_split, task.tune_users, tune_cands, plain)
            without_meta[label] = staged_blend(search, task.cdw_grid, budget.norms, budget.blend_levels, budget.blend_rounds)
            timings[f"blend_search without meta [{label}]"] = without_meta[label]["seconds"]
    history_blend = None
    if task.mode == "text":
        log.info("%s: staged blend search for the reference (3 items as history)", task.key)
        search = BlendSearch(model, task.tune_split, task.tune_users, None, task.families)
        history_blend = staged_blend(search, task.cdw_grid, budget.norms, budget.blend_levels, budget.blend_rounds)
        timings["blend_search [3 items as history]"] = history_blend["seconds"]

    sweep = None
    if task.sweep:
        t0 = time.perf_counter()
        b = blends[task.sets[0][0]]
        saved = (dict(model.weights_), model.normalization)
        model.reweight(b["weights"])
        model.set_params(normalization=b["norm"])
        from hybridrec.model_selection import tune_blend

        frame = tune_blend(model, view(task.tune_split, task.tune_users), {"cross_domain_weight": SWEEP},
                           users=task.tune_users, refit=False)
        sweep = sorted((float(c), float(v)) for c, v in zip(frame["cross_domain_weight"], frame["ndcg@10"]))
        model.reweight(saved[0])
        model.set_params(normalization=saved[1])
        timings["cdw_sweep"] = round(time.perf_counter() - t0, 1)
        log.info("%s: cdw sweep (validation) %s", task.key, ", ".join(f"{c:g}: {v:.4f}" for c, v in sweep))

    tune_fit = {"seconds": round(fit_s, 1), "components": comp_s, "tower": _tower_training(model)}
    if task.refit:
        del model
        gc.collect()
        log.info("%s: refitting every component on the outer training rows", task.key)
        model, fit_s, comp_s = fit_model(_components(task, chosen, budget), task.split, seed, budget.add_unseen,
                                         task.item_vectors, budget.screen_texts)
        timings["refit"] = round(fit_s, 1)
        log.info("%s: refitted in %.0fs", task.key, fit_s)
        tune_fit["refit_tower"] = _tower_training(model)

    if task.mode == "history" and "equivalence_check" not in state:
        b = blends[task.sets[0][0]]
        state["equivalence_check"] = check_equivalence(model, task.split, b["weights"], b["cdw"], b["norm"])
        log.info("check: score_new(weights=...) vs reweight(...).score_items max |diff| = %.2e", state["equivalence_check"])

    log.info("%s: evaluating %d methods on the test users", task.key, len(task.families) + 1)
    eval_lookup = Lookup(task.split.fold_in if task.mode == "text" else task.split.train)
    texts = task.texts.get("test")
    t0 = time.perf_counter()
    sets = []
    for label, cands, _ in task.sets:
        b = blends[label]
        rows = []
        for family in task.families:
            cdw = None if task.mode == "text" or family == "popularity" else b["single"][family]["cdw"]
            scorer = Scorer(model, {family: 1.0}, lookup=None if task.mode == "text" else eval_lookup, texts=texts, cdw=cdw)
            metrics = run_eval(scorer, task.split, "test", cands, per_user=True)
            rows.append(_row((TEXT_LABELS if task.mode == "text" else LABELS)[family], family, metrics,
                             params=chosen[family], cdw=cdw, fit_seconds=comp_s.get(family),
                             tune_ndcg=b["single"][family]["ndcg"]))
        scorer = Scorer(model, b["weights"], lookup=None if task.mode == "text" else eval_lookup, texts=texts,
                        cdw=b["cdw"], normalization=b["norm"])
        name = "hybrid (text blend)" if task.mode == "text" else "hybrid"
        rows.append(_row(name, "hybrid", run_eval(scorer, task.split, "test", cands, per_user=True), weights=b["weights"],
                         cdw=b["cdw"], normalization=b["norm"], fit_seconds=fit_s, tune_ndcg=b["valid_ndcg"]))
        if label in without_meta:
            w = without_meta[label]
            scorer = Scorer(model, w["weights"], lookup=eval_lookup, cdw=w["cdw"], normalization=w["norm"])
            rows.append(_row("hybrid without the meta block", "hybrid_without_meta",
                             run_eval(scorer, task.split, "test", cands, per_user=True), weights=w["weights"], cdw=w["cdw"],
                             normalization=w["norm"], fit_seconds=fit_s, tune_ndcg=w["valid_ndcg"]))
        default = query_weights(None, model.components_) if task.mode == "text" else None
        default = {n: w for n, w in (default or {}).items() if n in task.families and w > 0}
        if default:
            scorer = Scorer(model, default, texts=texts)
            rows.append(_row("reference: the library's default text_weights (untuned)", "hybrid_default",
                             run_eval(scorer, task.split, "test", cands, per_user=True), weights=default, cdw=None,
                             normalization=model.normalization, fit_seconds=fit_s, tune_ndcg=None))
        if history_blend is not None:
            h = history_blend
            scorer = Scorer(model, h["weights"], lookup=eval_lookup, cdw=h["cdw"], normalization=h["norm"])
            rows.append(_row("reference: hybrid given the 3 items as history", "hybrid_history",
                             run_eval(scorer, task.split, "test", cands, per_user=True), weights=h["weights"], cdw=h["cdw"],
                             normalization=h["norm"], fit_seconds=fit_s, tune_ndcg=h["valid_ndcg"]))
        for r in rows:
            m = r["metrics"]
            log.info("  %-46s NDCG@10 %.4f  Recall@10 %.4f  (%d users)", r["method"], m["ndcg"], m["recall"], m["n_users"])
        general, target = ratios(rows, task.targets.get(label))
        log.info("%s [%s]: hybrid / best baseline (%s) = %.2fx%s", task.key, label, general["best_label"], general["value"],
                 "" if target is None else f"; target {target['text']}: {'met' if target['met'] else 'NOT met'}"
                 f" ({target['ratio']:.2f}x vs {target['best_label']})")
        sets.append({"label": label, "rows": rows, "ratio": general, "target": target, "blend": b})
    timings["test_evaluation"] = round(time.perf_counter() - t0, 1)
    del model
    gc.collect()
    t0 = time.perf_counter()
    for key, fitted in _out_of_the_box(task, budget, seed).items():
        for entry in sets:
            entry["rows"].append(_row(fitted["label"], key, fitted["metrics"][entry["label"]], weights=fitted["weights"],
                                      cdw=fitted["cdw"], normalization=fitted["normalization"],
                                      fit_seconds=fitted["fit_seconds"], tune_ndcg=None, auto=fitted["auto"],
                                      tower=fitted["tower"]))
    timings["out_of_the_box_models"] = round(time.perf_counter() - t0, 1)
    for entry in sets:
        add_intervals(entry)
    return {
        "task": task.describe(), "component_tuning": component_report, "chosen": chosen, "tune_fit": tune_fit,
        "history_blend": history_blend, "sweep": sweep, "sets": sets, "timings": timings,
        "seconds": round(time.perf_counter() - start, 1),
    }


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--quick", action="store_true", help="minutes instead of an hour: subset, tiny grids, no goodbooks")
    parser.add_argument("--only", metavar="PROTOCOL[,PROTOCOL]",
                        help=f"run a subset: {', '.join(PROTOCOLS)}; aliases {', '.join(ALIASES)}")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets",
                        help="datasets folder (default ../shared/datasets from the repository root)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every split and model (default 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/scoreboard/NAME: NAME is 'all' or the "
                             "--only list joined by '_', prefixed 'quick_' with --quick; the docs' quality table "
                             "takes each protocol from the newest full run there)")
    parser.add_argument("--cold-items", choices=["in-fit", "add-items"], default="in-fit",
                        help="items without training interactions: in the catalogue given to fit (default, the "
                             "documented path) or left out of fit and added afterwards with add_items")
    parser.add_argument("--screen-texts", choices=["hold", "off"], default="hold",
                        help="HybridRecommender(screen_texts=...): 'hold' (the library's default) keeps items whose "
                             "text looks keyword-stuffed out of the lists (ranked last); 'off' does not screen")
    parser.add_argument("--verbose", action="store_true", help="also show the library's INFO logs")
    args = parser.parse_args(argv)

    try:
        protocols = _protocols(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    data_dir = args.data.expanduser().resolve()
    if not data_dir.is_dir():
        print(f"quality.py: the datasets folder {data_dir} does not exist; nothing to do (pass --data DIR). "
              "Nothing was written.")
        return 0
    _setup_logging(args.verbose)
    budget = quick_budget() if args.quick else full_budget()
    if args.cold_items == "add-items":
        budget.add_unseen = True
        budget.notes.append("--cold-items add-items: every model is fitted on the catalogue items that have "
                            "training interactions; the other items are added after fit with add_items.")
    budget.screen_texts = args.screen_texts
    if args.screen_texts != "hold":
        budget.notes.append(f"--screen-texts {args.screen_texts}: every model is fitted with "
                            f"HybridRecommender(screen_texts={args.screen_texts!r}).")
    protocols = [p for p in protocols if p not in budget.skip or args.only]
    given = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/quality.py" + (" " + shlex.join(given) if given else "")
    log.info("%s (budget %s, seed %d, protocols %s)", command, budget.name, args.seed, ", ".join(protocols))
    start = time.perf_counter()
    measured = commit()  # the code the run imports, before anyone changes the working tree
    data = load_datasets(data_dir, set(protocols), budget, args.seed)
    if not data:
        print(f"quality.py: none of the datasets the protocols need are under {data_dir}; nothing was written.")
        return 0
    tasks = build_tasks(protocols, data, budget, args.seed)
    skipped = [p + ": dataset missing" for p in protocols if p not in {t.key for t in tasks}]
    skipped += [p + f": not run with --{budget.name}" for p in PROTOCOLS if p in budget.skip and p not in protocols]
    state: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    written: list[Path] = []
    out = args.out or default_out(args.only, args.quick)
    settings = {"axes": budget.axes, "overrides": budget.overrides, "start": budget.start, "limits": budget.limits,
                "fixed": budget.fixed, "levels": budget.blend_levels, "rounds": budget.blend_rounds,
                "norms": budget.norms}
    for task in tasks:
        results.append(run_task(task, budget, args.seed, state))
        header = {
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "commit": measured,
            "seed": args.seed,
            "budget": budget.name,
            "budget_notes": budget.notes,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                       f"numpy {np.__version__}",
            "total_seconds": round(time.perf_counter() - start, 1),
            "data": str(data_dir),
            "equivalence_check": state.get("equivalence_check"),
            "protocols_done": f"{len(results)} of {len(tasks)}",
        }
        # written after every protocol, so a run stopped early keeps the protocols it finished
        written = write_run(out, {"header": header, "budget": settings, "protocols": results, "skipped": skipped})
    log.info("done in %.1f min; wrote %s", (time.perf_counter() - start) / 60, ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
