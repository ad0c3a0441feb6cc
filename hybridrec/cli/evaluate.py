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
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._optional import MissingExtraError
from ..components import available
from ..evaluation.protocols import protocol_defaults
from ..evaluation.splits import PROTOCOLS
from ._output import say
from ._options import LOADERS, check_args, parse_components, parse_weights, prepare_out
from ._tuning import default_grid, tune

__all__ = ["add_parser", "default_grid", "evaluate_command", "parse_components", "parse_weights"]

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from ..datasets import Dataset
    from ..evaluation.splits import Split


#: Default output folder.
DEFAULT_OUT = "hybridrec_eval"
#: Fraction of validation rows/users drawn for --tune when the protocol's default has none.
_TUNE_VALID_SIZE = 0.1
#: Labels of the two candidate sets of the cold_item protocol.
ALL_ITEMS, COLD_ITEMS = "all items", "cold items"

def _description() -> str:
    """The command's help text; the protocols' sizes are the splitters' own defaults."""
    pct = {p: {k: f"{round(100 * v):g}%" for k, v in protocol_defaults(p).items() if isinstance(v, float)}
           for p in PROTOCOLS}
    test = pct["random"]["test_size"]
    return f"""\
Split a dataset with one of the evaluation protocols, fit a HybridRecommender on the training
rows, optionally tune the blend on the validation users, and report full-ranking metrics of the
test users per domain and user group (cold: no history in that domain; warm: the others).

Protocols (all seeded by --seed):
  random        per-user random {test} holdout of the interactions
  leave_last    hold out each user's last interaction (by timestamp)
  cold_item     remove {pct["cold_item"]["frac"]} of the items (of --domain, or of all) from training; rank all
                items and, separately, the cold items only
  cold_user     remove {pct["cold_user"]["test_size"]} of the users from training; reveal \
{protocol_defaults("cold_user")["n_given"]} interactions of each at test time
  cross_domain  hide all --target-domain interactions of {pct["cross_domain"]["test_size"]} of the users active in
                two domains ({pct["cross_domain"]["valid_size"]} more for validation); rank every --target-domain item
For --loader amazon, leave_last and cross_domain use the official users of the 'split' column
('test' for evaluation, 'valid' for tuning). With --tune, the random and cold_user protocols hold
out {round(100 * _TUNE_VALID_SIZE):g}% more for validation (the test rows are the same as without --tune).

Writes OUT/metrics.json (settings, timings and the tidy metrics as records) and OUT/ndcg.png
(NDCG@k and Recall@k per domain and group; needs pip install "hybridrec[plot]")."""


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
        description=_description(),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = p.add_argument_group("data and protocol")
    data.add_argument("--loader", default="sample", metavar="{" + ",".join(LOADERS) + "}",
                      help="dataset loader (default sample: the bundled MovieLens sample)")
    data.add_argument("--path", help="dataset folder; required for every loader except sample")
    data.add_argument("--protocol", default="random", metavar="{" + ",".join(PROTOCOLS) + "}",
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
                            f"(known: {', '.join(available())})")
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
    settings = check_args(args)
    out_dir = prepare_out(args.out)
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
        tuning = tune(model, split, args.k, args.protocol, say, progress, quiet)

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
        "cross_domain_weight": float(model.cross_domain_weight_),
        "normalization": model.normalization_,
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


# ---------------------------------------------------------------------------- reporting
def _row(tidy: "pd.DataFrame", candidates: str, metric: str) -> "pd.Series":
    """The aggregate (domain 'all', group 'all') row of one metric."""
    rows = tidy[(tidy["candidates"] == candidates) & (tidy["domain"] == "all") & (tidy["group"] == "all")
                & (tidy["metric"] == metric)]
    return rows.iloc[0]
