"""``hybridrec evaluate``: split a dataset, fit, (tune,) evaluate, write a report.

The command loads a dataset, splits it with one of the protocols of DESIGN.md
(:func:`hybridrec.evaluation.make_split`), fits a :class:`~hybridrec.HybridRecommender` on the
training rows, optionally tunes the blend on the validation users
(:func:`~hybridrec.model_selection.tune_blend`), evaluates the test users with
:func:`~hybridrec.evaluation.evaluate`, prints a table and writes ``metrics.json`` and
``ndcg.png`` (:mod:`hybridrec.evaluation.report`) to the output folder.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .._optional import MissingExtraError
from ._output import say

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datasets import Dataset
    from ..evaluation.splits import Split

logger = logging.getLogger(__name__)

#: Dataset loaders the command knows, by ``--loader`` name.
LOADERS = ("sample", "movielens", "goodbooks", "amazon")
#: Protocols of ``--protocol``, in the order the help lists them.
PROTOCOL_CHOICES = ("random", "leave_last", "cold_item", "cold_user", "cross_domain")
#: Default output folder.
DEFAULT_OUT = "hybridrec_eval"
#: Blend-weight levels of the default tuning grid (coarser when more components are fitted).
_GRID_LEVELS = {"few": (0.0, 0.5, 1.0), "many": (0.0, 1.0)}
#: cross_domain_weight values of the default tuning grid (multi-domain catalogues only).
_GRID_CDW = (0.0, 0.5, 1.0)
#: Fraction of validation rows/users drawn for --tune when the protocol's default has none.
_TUNE_VALID_SIZE = 0.1
#: Labels of the two candidate sets of the cold_item protocol.
ALL_ITEMS, COLD_ITEMS = "all items", "cold items"

_DESCRIPTION = """\
Split a dataset with one of the evaluation protocols, fit a HybridRecommender on the training
rows, optionally tune the blend on the validation users, and report full-ranking metrics of the
test users per domain and user group (cold: no history in that domain; warm: the others).

Protocols (all seeded by --seed):
  random        per-user random 80/20 holdout of the interactions
  leave_last    hold out each user's last interaction (by timestamp)
  cold_item     remove 10% of the items (of --domain, or of all) from training; rank all items
                and, separately, the cold items only
  cold_user     remove 10% of the users from training; reveal 3 interactions of each at test time
  cross_domain  hide all --target-domain interactions of 10% of the users active in two domains
                (10% more for validation); rank every --target-domain item for them
For --loader amazon, leave_last and cross_domain use the official users of the 'split' column
('test' for evaluation, 'valid' for tuning). With --tune, the random and cold_user protocols hold
out 10% more for validation (the test rows are the same as without --tune).

Writes OUT/metrics.json (settings, timings and the tidy metrics as records) and OUT/ndcg.png
(NDCG@k and Recall@k per domain and group)."""

_EPILOG = """\
examples:
  hybridrec evaluate --components als,itemknn
  hybridrec evaluate --protocol cross_domain --target-domain family --tune
  hybridrec evaluate --protocol cold_item --domain family --weights '{"semantic": 1, "als": 0.5}'
  hybridrec evaluate --loader movielens --path ../shared/datasets/movielens_latest_small --components als
  hybridrec evaluate --loader amazon --path ../shared/datasets/amazon_food_kitchen_llmcdsr \\
      --protocol cross_domain --target-domain kitchen --out results/food2kitchen"""


# ---------------------------------------------------------------------------- parser
def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` command on the ``hybridrec`` subparsers object.

    Choices are checked by the command itself (not by argparse), so that a bad value makes
    :func:`hybridrec.cli.main` return exit code 2 with an ``error: ...`` line instead of exiting.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The object returned by ``ArgumentParser.add_subparsers``.

    Returns
    -------
    argparse.ArgumentParser
        The ``evaluate`` subparser.
    """
    p = subparsers.add_parser(
        "evaluate",
        help="split a dataset, fit, evaluate (NDCG/Recall/... @k) and write metrics.json + ndcg.png",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = p.add_argument_group("data and protocol")
    data.add_argument("--loader", default="sample", metavar="{" + ",".join(LOADERS) + "}",
                      help="dataset loader (default sample: the bundled MovieLens sample)")
    data.add_argument("--path", help="dataset folder; required for every loader except sample")
    data.add_argument("--protocol", default="random", metavar="{" + ",".join(PROTOCOL_CHOICES) + "}",
                      help="evaluation protocol (default random)")
    data.add_argument("--target-domain", metavar="DOMAIN", help="cross_domain: the domain whose interactions are hidden and ranked")
    data.add_argument("--domain", help="cold_item: the domain whose items are made cold (default: all items)")
    data.add_argument("--k", type=int, default=10, help="cut-off of the @k metrics (default 10)")
    data.add_argument("--seed", type=int, default=0, help="seed of the split and random_state of the model (default 0)")

    model = p.add_argument_group("model")
    model.add_argument("--weights", metavar="JSON",
                       help="blend weights as a JSON object, e.g. '{\"als\": 1, \"itemknn\": 1}'; components not "
                            "named are not fitted (default: the HybridRecommender defaults)")
    model.add_argument("--components", metavar="LIST",
                       help="comma-separated components to fit, each at weight 1, e.g. als,itemknn "
                            f"(known: {', '.join(known_components())})")
    model.add_argument("--cross-domain-weight", type=float, default=0.5, metavar="W",
                       help="weight of a user's other-domain history, in [0, 1] (default 0.5)")
    model.add_argument("--tune", action="store_true",
                       help="tune the fitted components' weights and cross_domain_weight on the validation "
                            "users (a small grid, by NDCG@k) before testing")

    out = p.add_argument_group("output")
    out.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                     help=f"folder for metrics.json and ndcg.png (default ./{DEFAULT_OUT})")
    out.add_argument("--quiet", action="store_true", help="no progress messages or bars (the table is still printed)")
    p.set_defaults(func=evaluate_command)
    return p


# ---------------------------------------------------------------------------- command
def evaluate_command(args: argparse.Namespace) -> int:
    """Run ``hybridrec evaluate`` with parsed arguments; return the exit code (0 on success).

    Bad options raise ``ValueError`` and missing files ``FileNotFoundError``, which
    :func:`hybridrec.cli.main` reports as ``error: ...`` with exit code 2.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the parser of :func:`add_evaluate_parser`.

    Returns
    -------
    int
    """
    settings = _check_args(args)
    out_dir = _prepare_out(args.out)
    quiet = args.quiet
    progress = (lambda text: None) if quiet else say

    import pandas as pd

    import hybridrec as hr

    from ..components import create
    from ..evaluation import evaluate, report

    start = time.perf_counter()
    progress(f"Loading {args.loader}{'' if args.path is None else ' from ' + str(args.path)} ...")
    ds = _load(args.loader, args.path)
    progress(f"  {ds!r}")
    split = _make_split(ds, args, settings)
    progress(f"  {split!r}")
    load_seconds = time.perf_counter() - start

    weights = settings["weights"]
    model = hr.HybridRecommender(
        components=None if weights is None else [(name, create(name)) for name in weights],
        weights=weights,
        cross_domain_weight=settings["cross_domain_weight"],
        random_state=args.seed,
        show_progress=not quiet,
    )
    named = "defaults" if weights is None else ", ".join(f"{n}={w:g}" for n, w in weights.items())
    progress(f"Fitting HybridRecommender ({named}) on {len(split.train)} training rows ...")
    t0 = time.perf_counter()
    model.fit(split.train, items=split.items, users=split.users)
    fit_seconds = time.perf_counter() - t0
    progress(f"  fitted {sorted(model.components_)} in {fit_seconds:.1f}s")
    model.show_progress = False  # evaluate and tune_blend show one bar each; no nested scoring bars

    tuning = None
    if args.tune:
        tuning = _tune(model, split, args.k, args.protocol, say, progress, quiet)

    progress(f"Evaluating the test users (k={args.k}) ...")
    t0 = time.perf_counter()
    runs = [(ALL_ITEMS, None)]
    if args.protocol == "cold_item":
        runs.append((COLD_ITEMS, split.cold_items))
    frames = []
    for label, candidates in runs:
        frame = evaluate(model, split, k=args.k, candidates=candidates, show_progress=not quiet)
        frame.insert(0, "candidates", label)
        frames.append(frame)
    tidy = pd.concat(frames, ignore_index=True)
    evaluate_seconds = time.perf_counter() - t0

    headline = _row(tidy, ALL_ITEMS, "ndcg")
    summary = {
        "command": "hybridrec evaluate",
        "hybridrec_version": hr.__version__,
        "loader": args.loader,
        "path": None if args.path is None else str(Path(args.path).expanduser().resolve()),
        "dataset": repr(ds),
        "protocol": args.protocol,
        "target_domain": split.target_domain,
        "domain": args.domain,
        "k": args.k,
        "seed": args.seed,
        "split": settings["split_params"],
        "split_summary": repr(split),
        "n_train_rows": int(len(split.train)),
        "n_test_rows": int(len(split.test)),
        "n_valid_rows": 0 if split.valid is None else int(len(split.valid)),
        "n_cold_items": None if split.cold_items is None else int(len(split.cold_items)),
        "requested_weights": weights,
        "weights": {n: float(w) for n, w in model.weights_.items()},
        "cross_domain_weight": float(model.cross_domain_weight),
        "normalization": model.normalization,
        "tuned": bool(tuning and tuning.get("best_params") is not None),
        "tuning": tuning,
        "n_users": int(headline["n_users"]),
        "load_seconds": round(load_seconds, 3),
        "fit_seconds": round(fit_seconds, 3),
        "tune_seconds": None if tuning is None else tuning.get("seconds"),
        "evaluate_seconds": round(evaluate_seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
        "metrics": report.records(tidy),
    }
    json_path = report.write_json(out_dir / "metrics.json", summary)
    title = (f"{args.loader} / {args.protocol}" + (f" / {split.target_domain}" if split.target_domain else "")
             + f"  (seed {args.seed}, {summary['n_users']} users)")
    try:
        png_path = report.plot_metrics(tidy, args.k, title, out_dir / "ndcg.png")
    except MissingExtraError as exc:
        png_path = None
        say(f"warning: ndcg.png not written: {exc}")

    say(f"\nhybridrec evaluate: {args.loader}, protocol {args.protocol}"
        + (f" ({split.target_domain})" if split.target_domain else "")
        + f", k={args.k}, seed {args.seed}, weights "
        + ", ".join(f"{n}={w:g}" for n, w in summary["weights"].items())
        + f", cross_domain_weight={summary['cross_domain_weight']:g}")
    say(report.format_table(tidy, args.k))
    figures = ", ".join(
        f"{_row(tidy, label, 'ndcg')['value']:.4f} ({label}, {int(_row(tidy, label, 'ndcg')['n_users'])} users)"
        for label, _ in runs
    ) if len(runs) > 1 else f"{headline['value']:.4f} over {summary['n_users']} test users"
    say(f"\nNDCG@{args.k} {figures} (fit {fit_seconds:.1f}s, evaluate {evaluate_seconds:.1f}s)")
    say(f"wrote {json_path}")
    if png_path is not None:
        say(f"wrote {png_path}")
    return 0


# ---------------------------------------------------------------------------- checks
def _check_args(args: argparse.Namespace) -> dict[str, Any]:
    """Validate the options before anything slow runs; return the parsed weights and split sizes."""
    if args.loader not in LOADERS:
        raise ValueError(f"--loader must be one of {list(LOADERS)}. Got {args.loader!r} instead.")
    if args.loader != "sample" and not args.path:
        raise ValueError(f"--path is required with --loader {args.loader} (the dataset folder). Got none.")
    if args.loader == "sample" and args.path:
        raise ValueError(f"--path is not used with --loader sample (the sample is bundled). Got {args.path!r}; "
                         "drop --path or choose another --loader.")
    if args.protocol not in PROTOCOL_CHOICES:
        raise ValueError(f"--protocol must be one of {list(PROTOCOL_CHOICES)}. Got {args.protocol!r} instead.")
    if args.protocol == "cross_domain" and not args.target_domain:
        raise ValueError("--target-domain is required with --protocol cross_domain (the domain to hide and rank). Got none.")
    if args.target_domain and args.protocol != "cross_domain":
        raise ValueError(f"--target-domain applies to --protocol cross_domain only. Got --target-domain "
                         f"{args.target_domain!r} with --protocol {args.protocol}; use --domain for cold_item.")
    if args.domain and args.protocol != "cold_item":
        raise ValueError(f"--domain applies to --protocol cold_item only. Got --domain {args.domain!r} with "
                         f"--protocol {args.protocol}" + ("; use --target-domain." if args.protocol == "cross_domain" else "."))
    if isinstance(args.k, bool) or not isinstance(args.k, int) or args.k <= 0:
        raise ValueError(f"--k must be a positive integer (the cut-off of the @k metrics). Got {args.k!r} instead.")
    if isinstance(args.seed, bool) or not isinstance(args.seed, int) or args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0. Got {args.seed!r} instead.")
    cdw = args.cross_domain_weight
    if not isinstance(cdw, (int, float)) or not math.isfinite(cdw) or not 0 <= cdw <= 1:
        raise ValueError(f"--cross-domain-weight must be a number in [0, 1]. Got {cdw!r} instead.")
    if args.weights is not None and args.components is not None:
        raise ValueError("--weights and --components are alternatives; give one of them. Got both.")
    weights = None
    if args.weights is not None:
        weights = parse_weights(args.weights)
    elif args.components is not None:
        weights = parse_components(args.components)
    return {"weights": weights, "cross_domain_weight": float(cdw), "split_params": {}}


def known_components() -> list[str]:
    """Names usable in --weights and --components: every registered component."""
    from ..components import available

    return available()


def parse_weights(text: str) -> dict[str, float]:
    """Parse ``--weights``: a JSON object of component name -> weight >= 0, at least one > 0.

    Parameters
    ----------
    text : str
        E.g. ``'{"als": 1, "itemknn": 0.5}'``.

    Returns
    -------
    dict of str -> float
        The named components' weights, in the order given.
    """
    from ..blend import check_weights

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--weights must be a JSON object of component name -> weight, e.g. '{{\"als\": 1, \"itemknn\": 1}}'. "
            f"Got {text!r}, which is not valid JSON ({exc.msg} at position {exc.pos})."
        ) from None
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"--weights must be a non-empty JSON object of component name -> weight, e.g. "
            f"'{{\"als\": 1, \"itemknn\": 1}}'. Got {text!r}."
        )
    checked = check_weights(value, known_components(), where="--weights")
    return {name: checked[name] for name in value}


def parse_components(text: str) -> dict[str, float]:
    """Parse ``--components``: a comma-separated list of component names, each at weight 1.

    Parameters
    ----------
    text : str
        E.g. ``"als,itemknn"``.

    Returns
    -------
    dict of str -> float
    """
    names = [part.strip() for part in text.split(",")]
    known = known_components()
    if not names or any(not n for n in names):
        raise ValueError(f"--components must be a comma-separated list of component names from {known}. Got {text!r}.")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--components names unknown components {unknown}. Known components: {known}.")
    if len(set(names)) != len(names):
        raise ValueError(f"--components lists a component twice. Got {text!r}.")
    return {name: 1.0 for name in names}


def _prepare_out(out: str | os.PathLike) -> Path:
    """Create the output folder (before the slow steps, so a bad --out fails at once)."""
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out must be a folder. Got {str(folder)!r}, which is an existing file.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out: cannot create the folder {str(folder)!r} ({exc.strerror}).") from None
    return folder


# ---------------------------------------------------------------------------- data and split
def _load(loader: str, path: str | None) -> "Dataset":
    from .. import datasets

    if loader == "sample":
        return datasets.load_sample()
    if loader == "movielens":
        return datasets.load_movielens(path)
    if loader == "goodbooks":
        return datasets.load_goodbooks(path)
    return datasets.load_amazon_food_kitchen(path)


def _make_split(ds: "Dataset", args: argparse.Namespace, settings: dict[str, Any]) -> "Split":
    """The protocol's split of ``ds`` (the splitters' own defaults); records its parameters in ``settings``."""
    from ..datasets import official_users
    from ..evaluation import make_split

    protocol = args.protocol
    for option, value in (("--target-domain", args.target_domain), ("--domain", args.domain)):
        if value:
            known = sorted(ds.items["domain"].astype(str).unique().tolist()) if "domain" in ds.items else []
            if value not in known:
                raise ValueError(f"{option} must be one of the item domains of {args.loader}, {known}. Got {value!r} instead.")
    params: dict[str, Any] = {}
    if protocol in ("random", "cold_user") and args.tune:
        params["valid_size"] = _TUNE_VALID_SIZE
    if protocol == "cold_item":
        params["domain"] = args.domain
    if protocol == "cross_domain":
        params["target_domain"] = args.target_domain
    official = args.loader == "amazon" and protocol in ("leave_last", "cross_domain")
    if official:
        test, valid = official_users(ds)
        params.update(test_users=test, valid_users=valid or None)
    split, used = make_split(protocol, ds.interactions, items=ds.items, users=ds.users, seed=args.seed, **params)
    if official:
        used.pop("valid_users")
        used["test_users"] = "official 'test' and 'valid' users of the split column"
    settings["split_params"] = used
    return split


# ---------------------------------------------------------------------------- tuning
def default_grid(components: Sequence[str], multi_domain: bool) -> list[dict[str, Any]]:
    """The small grid ``--tune`` searches: fitted components' weights x ``cross_domain_weight``.

    Weights take the levels (0, 0.5, 1) for up to three components and (0, 1) for more, scaled
    so that the largest is 1: the all-zero combination and combinations that are multiples of
    another (the same ranking) are left out. ``cross_domain_weight`` takes (0, 0.5, 1) when the catalogue has several
    domains and is not tuned otherwise.

    Parameters
    ----------
    components : sequence of str
        Names of the fitted components.
    multi_domain : bool
        Whether the catalogue has more than one domain.

    Returns
    -------
    list of dict
        Candidates for :func:`hybridrec.model_selection.tune_blend`.
    """
    names = list(components)
    levels = _GRID_LEVELS["few"] if len(names) <= 3 else _GRID_LEVELS["many"]
    combos: list[dict[str, float]] = []
    seen: set[tuple[float, ...]] = set()
    for values in itertools.product(levels, repeat=len(names)) if len(names) > 1 else [(1.0,)]:
        top = max(values)
        if top == 0:
            continue
        ratio = tuple(round(v / top, 6) for v in values)  # the largest weight is 1
        if ratio in seen:
            continue
        seen.add(ratio)
        combos.append(dict(zip(names, ratio)))
    cdws = _GRID_CDW if multi_domain else (None,)
    grid = []
    for cdw, weights in itertools.product(cdws, combos):
        cand: dict[str, Any] = {"weights": weights}
        if cdw is not None:
            cand["cross_domain_weight"] = cdw
        grid.append(cand)
    return grid


def _tune(model: Any, split: "Split", k: int, protocol: str, say: Callable[[str], None],
          progress: Callable[[str], None], quiet: bool) -> dict[str, Any]:
    """Run tune_blend on the validation users; return what metrics.json records about it."""
    from ..model_selection import tune_blend

    if split.valid is None:
        reason = f"the {protocol} split has no validation rows"
        say(f"--tune skipped: {reason}; testing with the weights as given.")
        return {"skipped": reason, "best_params": None}
    multi_domain = len(set(model.data_.item_domain.tolist())) > 1
    grid = default_grid(list(model.components_), multi_domain)
    if len(grid) < 2:
        reason = "one component on a single-domain catalogue leaves nothing to tune"
        say(f"--tune skipped: {reason}.")
        return {"skipped": reason, "best_params": None}
    n_valid = split.valid[split.user_col].nunique()
    progress(f"Tuning {len(grid)} blends on {n_valid} validation users (NDCG@{k}) ...")
    t0 = time.perf_counter()
    table = tune_blend(model, split, grid, k=k, metric="ndcg", users="valid", show_progress=not quiet)
    seconds = time.perf_counter() - t0
    best = table.attrs["best_params"]
    label = f"ndcg@{k}"
    say(f"--tune: best of {len(grid)} blends on {n_valid} validation users: {label} "
        f"{table.iloc[0][label]:.4f} with {_describe(best)} ({seconds:.1f}s)")
    from ..evaluation.report import records

    results = table.assign(weights=table["weights"].map(lambda w: {n: float(v) for n, v in w.items()}))
    return {
        "skipped": None,
        "metric": label,
        "n_candidates": len(grid),
        "n_valid_users": int(n_valid),
        "best_params": best,
        "best_value": float(table.iloc[0][label]),
        "seconds": round(seconds, 3),
        "results": records(results),
    }


def _describe(params: Mapping[str, Any]) -> str:
    parts = [", ".join(f"{n}={w:g}" for n, w in params.get("weights", {}).items())]
    if "cross_domain_weight" in params:
        parts.append(f"cross_domain_weight={params['cross_domain_weight']:g}")
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------------------- reporting
def _row(tidy: "pd.DataFrame", candidates: str, metric: str) -> "pd.Series":
    """The aggregate (domain 'all', group 'all') row of one metric."""
    rows = tidy[(tidy["candidates"] == candidates) & (tidy["domain"] == "all") & (tidy["group"] == "all")
                & (tidy["metric"] == metric)]
    return rows.iloc[0]
