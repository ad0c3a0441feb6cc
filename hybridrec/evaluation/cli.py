"""The ``hybridrec evaluate`` command: split a dataset, fit, (tune,) evaluate, write a report.

``hybridrec.cli.build_parser`` calls :func:`add_evaluate_parser` with its subparsers object.
The command loads a dataset, splits it with one of the protocols of DESIGN.md
(:data:`~hybridrec.evaluation.PROTOCOLS`), fits a :class:`~hybridrec.HybridRecommender` on the
training rows, optionally tunes the blend on the validation users
(:func:`~hybridrec.model_selection.tune_blend`), evaluates the test users with
:func:`~hybridrec.evaluation.evaluate`, prints a table and writes ``metrics.json`` and
``ndcg.png`` to the output folder (each written atomically).

Only the standard library is imported at module level: ``hybridrec.cli`` treats an
``ImportError`` here as "no evaluate command", so heavy imports live inside the functions.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .._io import json_ready, write_atomic

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from ..datasets import Dataset
    from .splits import Split

logger = logging.getLogger(__name__)

#: Dataset loaders the command knows, by ``--loader`` name.
LOADERS = ("sample", "movielens", "goodbooks", "amazon")
#: Protocols of ``--protocol`` (the same names as :data:`hybridrec.evaluation.PROTOCOLS`).
PROTOCOL_CHOICES = ("random", "leave_last", "cold_item", "cold_user", "cross_domain")
#: Default output folder.
DEFAULT_OUT = "hybridrec_eval"
#: Metric columns of the printed table, in order (``evaluate`` also reports ``coverage``).
TABLE_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc", "coverage")
#: Components that exist but are not among ``default_components()``: usable via --weights/--components.
_EXTRA_COMPONENTS = ("ease", "svd", "textknn")
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
def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` command on the ``hybridrec`` subparsers object.

    Choices are checked by the command itself (not by argparse), so that a bad value makes
    ``hybridrec.cli.main`` return exit code 2 with an ``error: ...`` line instead of exiting.

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
                            "(known: als, lightfm, semantic, itemknn, popularity, ease, svd, textknn)")
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
    ``hybridrec.cli.main`` reports as ``error: ...`` with exit code 2.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the parser of :func:`add_evaluate_parser`.

    Returns
    -------
    int
    """
    from ..cli import _say

    settings = _check_args(args)
    out_dir = _prepare_out(args.out)
    quiet = args.quiet
    progress = (lambda text: None) if quiet else _say

    import pandas as pd

    import hybridrec as hr

    from .evaluate import evaluate

    start = time.perf_counter()
    progress(f"Loading {args.loader}{'' if args.path is None else ' from ' + str(args.path)} ...")
    ds = _load(args.loader, args.path)
    progress(f"  {ds!r}")
    split = _make_split(ds, args, settings)
    progress(f"  {split!r}")
    load_seconds = time.perf_counter() - start

    weights = settings["weights"]
    model = hr.HybridRecommender(
        components=_components_for(weights),
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
        tuning = _tune(model, split, args.k, args.protocol, _say, progress, quiet)

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
    report = {
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
        "metrics": _records(tidy),
    }
    json_path = out_dir / "metrics.json"
    png_path = out_dir / "ndcg.png"
    _write_atomic(json_path, lambda handle: handle.write(_dumps(report).encode("utf-8")))
    _plot(tidy, args.k, f"{args.loader} / {args.protocol}"
          + (f" / {split.target_domain}" if split.target_domain else "")
          + f"  (seed {args.seed}, {report['n_users']} users)", png_path)

    _say(f"\nhybridrec evaluate: {args.loader}, protocol {args.protocol}"
         + (f" ({split.target_domain})" if split.target_domain else "")
         + f", k={args.k}, seed {args.seed}, weights "
         + ", ".join(f"{n}={w:g}" for n, w in report["weights"].items())
         + f", cross_domain_weight={report['cross_domain_weight']:g}")
    _say(format_table(tidy, args.k))
    summary = ", ".join(
        f"{_row(tidy, label, 'ndcg')['value']:.4f} ({label}, {int(_row(tidy, label, 'ndcg')['n_users'])} users)"
        for label, _ in runs
    ) if len(runs) > 1 else f"{headline['value']:.4f} over {report['n_users']} test users"
    _say(f"\nNDCG@{args.k} {summary} (fit {fit_seconds:.1f}s, evaluate {evaluate_seconds:.1f}s)")
    _say(f"wrote {json_path}")
    _say(f"wrote {png_path}")
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
    """Names usable in --weights and --components: the default components plus EASE and PureSVD."""
    from ..recommender import default_components

    names = [name for name, _ in default_components()]
    return names + [name for name in _EXTRA_COMPONENTS if name not in names]


def parse_weights(text: str) -> dict[str, float]:
    """Parse ``--weights``: a JSON object of component name -> weight >= 0, at least one > 0.

    Parameters
    ----------
    text : str
        E.g. ``'{"als": 1, "itemknn": 0.5}'``.

    Returns
    -------
    dict of str -> float
    """
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
    known = known_components()
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"--weights names unknown components {unknown}. Known components: {known}.")
    weights = {}
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"--weights: the weight of {name!r} must be a finite number >= 0. Got {weight!r} instead.")
        weights[name] = float(weight)
    if not any(weights.values()):
        raise ValueError(f"--weights must give at least one component a weight > 0. Got {text!r}.")
    return weights


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


def _components_for(weights: Mapping[str, float] | None) -> list | None:
    """``components=`` for HybridRecommender: None (the defaults) unless EASE, PureSVD or text kNN is asked for."""
    from ..components import EASEComponent, PureSVDComponent, TextKNNComponent
    from ..recommender import default_components

    if weights is None:
        return None
    comps = default_components()
    have = {name for name, _ in comps}
    extra = {"ease": EASEComponent, "svd": PureSVDComponent, "textknn": TextKNNComponent}
    wanted = [name for name in _EXTRA_COMPONENTS if weights.get(name, 0) > 0 and name not in have]
    if not wanted:
        return None
    return comps + [(name, extra[name]()) for name in wanted]


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


def _official_users(ds: "Dataset") -> tuple[list, list]:
    """Amazon Food-Kitchen: the users of split 'test' and of split 'valid'."""
    frame = ds.interactions
    if "split" not in frame.columns:
        raise ValueError("--loader amazon: the interactions have no 'split' column; cannot take the official users.")
    test = frame.loc[frame["split"] == "test", "user_id"].unique().tolist()
    valid = frame.loc[frame["split"] == "valid", "user_id"].unique().tolist()
    if not test:
        raise ValueError("--loader amazon: no interactions have split == 'test'; cannot take the official test users.")
    return test, valid


def _make_split(ds: "Dataset", args: argparse.Namespace, settings: dict[str, Any]) -> "Split":
    """The protocol's split of ``ds``; records its parameters in ``settings['split_params']``."""
    from .splits import cold_item_split, cold_user_split, cross_domain_split, leave_last_split, random_split

    seed, protocol = args.seed, args.protocol
    for option, value in (("--target-domain", args.target_domain), ("--domain", args.domain)):
        if value:
            known = sorted(ds.items["domain"].astype(str).unique().tolist()) if "domain" in ds.items else []
            if value not in known:
                raise ValueError(f"{option} must be one of the item domains of {args.loader}, {known}. Got {value!r} instead.")
    valid_size = _TUNE_VALID_SIZE if args.tune else 0.0
    official = args.loader == "amazon" and protocol in ("leave_last", "cross_domain")
    params: dict[str, Any]
    if protocol == "random":
        params = {"test_size": 0.2, "valid_size": valid_size}
        split = random_split(ds.interactions, seed=seed, items=ds.items, users=ds.users, **params)
    elif protocol == "leave_last":
        params = {"timestamp_col": "timestamp", "valid": True}
        if official:
            test, valid = _official_users(ds)
            params["users"] = "official 'test' and 'valid' users of the split column"
            split = leave_last_split(ds.interactions, test_users=test, valid_users=valid or None, valid=True,
                                     seed=seed, items=ds.items, users=ds.users)
        else:
            split = leave_last_split(ds.interactions, seed=seed, items=ds.items, users=ds.users)
    elif protocol == "cold_item":
        params = {"domain": args.domain, "frac": 0.1}
        split = cold_item_split(ds.interactions, ds.items, seed=seed, users=ds.users, **params)
    elif protocol == "cold_user":
        params = {"test_size": 0.1, "valid_size": valid_size, "n_given": 3}
        split = cold_user_split(ds.interactions, seed=seed, items=ds.items, users=ds.users, **params)
    else:
        params = {"target_domain": args.target_domain}
        if official:
            test, valid = _official_users(ds)
            params["users"] = "official 'test' and 'valid' users of the split column"
            split = cross_domain_split(ds.interactions, ds.items, args.target_domain, test_users=test,
                                       valid_users=valid, seed=seed, users=ds.users)
        else:
            params.update(test_size=0.1, valid_size=0.1)
            split = cross_domain_split(ds.interactions, ds.items, seed=seed, users=ds.users, **params)
    settings["split_params"] = params
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
    results = table.assign(weights=table["weights"].map(lambda w: {n: float(v) for n, v in w.items()}))
    return {
        "skipped": None,
        "metric": label,
        "n_candidates": len(grid),
        "n_valid_users": int(n_valid),
        "best_params": best,
        "best_value": float(table.iloc[0][label]),
        "seconds": round(seconds, 3),
        "results": _records(results),
    }


def _describe(params: Mapping[str, Any]) -> str:
    parts = [", ".join(f"{n}={w:g}" for n, w in params.get("weights", {}).items())]
    if "cross_domain_weight" in params:
        parts.append(f"cross_domain_weight={params['cross_domain_weight']:g}")
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------------------- reporting
def _label(metric: str, k: int) -> str:
    """Column name of a metric: ``ndcg@10``; MRR and AUC rank the whole list, so no ``@k``."""
    return metric if metric in ("mrr", "auc") else f"{metric}@{k}"


def _row(tidy: "pd.DataFrame", candidates: str, metric: str) -> "pd.Series":
    """The aggregate (domain 'all', group 'all') row of one metric."""
    rows = tidy[(tidy["candidates"] == candidates) & (tidy["domain"] == "all") & (tidy["group"] == "all")
                & (tidy["metric"] == metric)]
    return rows.iloc[0]


def wide_table(tidy: "pd.DataFrame", k: int, drop_single_all: bool = True) -> "pd.DataFrame":
    """One row per (candidates, domain, group), one column per metric, plus ``n_users``.

    Rows keep the order of :func:`~hybridrec.evaluation.evaluate` (domains sorted, then
    ``all``; groups ``all``, ``cold``, ``warm``); ``n_users`` is the number of users behind the
    NDCG value (AUC may skip a few more).

    Parameters
    ----------
    tidy : DataFrame
        ``evaluate``'s frame with a ``candidates`` column in front.
    k : int
    drop_single_all : bool, default=True
        Leave out the aggregate ``all`` domain where a candidate set has a single domain (its
        rows would repeat that domain's).

    Returns
    -------
    DataFrame
    """
    import pandas as pd

    keys = ["candidates", "domain", "group"]
    wide = tidy.pivot(index=keys, columns="metric", values="value")
    metrics = [m for m in TABLE_METRICS if m in wide.columns] + [m for m in wide.columns if m not in TABLE_METRICS]
    wide = wide[metrics].rename(columns=lambda m: _label(m, k))
    users = tidy[tidy["metric"] == "ndcg"].set_index(keys)["n_users"]
    wide["n_users"] = users.reindex(wide.index).astype(int)
    wide.columns.name = None
    order = pd.MultiIndex.from_frame(tidy[keys].drop_duplicates())
    wide = wide.reindex(order).reset_index()
    if drop_single_all:
        real = wide[wide["domain"] != "all"].groupby("candidates", sort=False)["domain"].nunique()
        single = wide["candidates"].map(real).fillna(0) <= 1
        wide = wide[~(single & (wide["domain"] == "all"))].reset_index(drop=True)
    return wide


def format_table(tidy: "pd.DataFrame", k: int) -> str:
    """The printed table: domain x group rows, metric columns (4 decimals), ``n_users``.

    The ``candidates`` column is shown only when there are two candidate sets (cold_item).
    """
    wide = wide_table(tidy, k)
    if wide["candidates"].nunique() == 1:
        wide = wide.drop(columns="candidates")
    numeric = [c for c in wide.columns if c not in ("candidates", "domain", "group", "n_users")]
    formatters = {c: (lambda v: "nan" if v != v else f"{v:.4f}") for c in numeric}
    return wide.to_string(index=False, formatters=formatters)


def _plot(tidy: "pd.DataFrame", k: int, title: str, path: Path) -> None:
    """Bar chart of NDCG@k and Recall@k per (candidates,) domain and group, written atomically."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    wide = wide_table(tidy, k)
    two_sets = wide["candidates"].nunique() > 1
    labels = [
        (f"{c}\n" if two_sets else "") + f"{d} / {g}\n(n={n})"
        for c, d, g, n in zip(wide["candidates"], wide["domain"], wide["group"], wide["n_users"])
    ]
    x = np.arange(len(wide))
    width = 0.38
    fig = Figure(figsize=(max(6.0, 0.9 * len(wide) + 2.0), 4.8), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg backend, without touching pyplot's global state
    ax = fig.add_subplot()
    for offset, metric, color in ((-width / 2, "ndcg", "#1f77b4"), (width / 2, "recall", "#ff7f0e")):
        values = np.nan_to_num(wide[_label(metric, k)].to_numpy(dtype=float))
        bars = ax.bar(x + offset, values, width, label=f"{'NDCG' if metric == 'ndcg' else 'Recall'}@{k}", color=color)
        if len(wide) <= 16:
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set_xticks(x, labels, fontsize=8, rotation=0 if len(wide) <= 8 else 45, ha="center" if len(wide) <= 8 else "right")
    ax.set_ylabel("mean over users")
    ax.set_ylim(0, max(0.05, float(np.nanmax(wide[[_label("ndcg", k), _label("recall", k)]].to_numpy(dtype=float),
                                                initial=0.0))) * 1.15)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    _write_atomic(path, lambda handle: fig.savefig(handle, format="png", dpi=120))


def _records(frame: "pd.DataFrame") -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts (NaN -> None, numpy scalars -> Python)."""
    return [{str(key): json_ready(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]


def _dumps(report: Mapping[str, Any]) -> str:
    return json.dumps(json_ready(dict(report)), indent=2, allow_nan=False, default=str) + "\n"


def _write_atomic(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``path`` atomically (see :func:`hybridrec._io.write_atomic`) and log it."""
    write_atomic(path, write)
    logger.info("wrote %s", path)


if __name__ == "__main__":  # pragma: no cover
    from ..cli import main

    sys.exit(main(["evaluate", *sys.argv[1:]]))
