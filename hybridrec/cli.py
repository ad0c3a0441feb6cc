"""The ``hybridrec`` command line: demo, fit, recommend and evaluate."""
from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence, TextIO

import pandas as pd

logger = logging.getLogger(__name__)

DEMO_QUERY = "animated movies for kids about toys"


def _say(text: str = "") -> None:
    """Write one line of command output to stdout (the CLI's interface, not logging)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _table(frame: pd.DataFrame, titles: pd.Series, columns: Sequence[str] = ("rank", "title", "domain", "score")) -> str:
    shown = frame.assign(title=frame["item_id"].map(titles).str.slice(0, 60), score=frame["score"].round(2))
    return shown[list(columns)].to_string(index=False)


# ---------------------------------------------------------------------- demo
def _pick_users(interactions: pd.DataFrame, items: pd.DataFrame) -> tuple:
    """A user active in two domains, and a user whose history is all in one domain."""
    domain = interactions["item_id"].map(items.set_index("item_id")["domain"])
    counts = pd.crosstab(interactions["user_id"], domain)
    per_user = (counts > 0).sum(axis=1)
    two = counts[["family", "thriller"]].min(axis=1).sort_values(ascending=False)
    warm = two.index[0]
    single = counts[per_user == 1].sum(axis=1).sort_values(ascending=False)
    lone = single.index[0]
    lone_domain = counts.columns[counts.loc[lone] > 0][0]
    return warm, lone, lone_domain


def demo(args: argparse.Namespace) -> int:
    import hybridrec as hr

    start = time.perf_counter()
    ds = hr.datasets.load_sample()
    titles = ds.items.set_index("item_id")["title"]
    domains = sorted(ds.items["domain"].unique())
    _say(f"hybridrec {hr.__version__} demo: the bundled MovieLens latest-small sample")
    _say(f"  {ds.interactions['user_id'].nunique()} users, {len(ds.items)} movies, "
         f"{len(ds.interactions)} positive ratings, domains {domains}")
    _say("Fitting HybridRecommender (ALS + LightFM text features + semantic profile + item-kNN) ...")
    model = hr.HybridRecommender(cross_domain_weight=0.5, random_state=args.seed, show_progress=not args.quiet)
    model.fit(ds.interactions, items=ds.items, users=ds.users)
    _say(f"  fitted in {time.perf_counter() - start:.1f}s (text embeddings are cached for the next run)")

    warm, lone, lone_domain = _pick_users(ds.interactions, ds.items)
    liked = ds.interactions[ds.interactions["user_id"] == warm].sort_values("timestamp").tail(3)["item_id"]
    _say(f"\n1) User {warm}, active in several domains. Latest likes: {'; '.join(titles[liked])}")
    for domain in ("family", "thriller"):
        _say(f"   Top {args.k} in '{domain}':")
        _say(_indent(_table(model.recommend(warm, k=args.k, domain=domain), titles)))

    target = next(d for d in domains if d != lone_domain)
    _say(f"\n2) User {lone} has liked only '{lone_domain}' movies; recommending in '{target}'.")
    for weight in (0.0, 1.0):
        note = "same-domain history only (none here: a popularity-like fallback)" if weight == 0 else "all history counts"
        _say(f"   cross_domain_weight={weight:g}: {note}")
        recs = model.recommend(lone, k=args.k, domain=target, cross_domain_weight=weight)
        _say(_indent(_table(recs, titles)))

    _say(f"\n3) Free-text query: {args.query!r}")
    _say(_indent(_table(model.recommend_for_text(args.query, k=args.k), titles)))

    top = model.recommend(warm, k=1, domain="family").iloc[0]
    _say("\n4) Why? " + model.explain(warm, top["item_id"])["sentence"])
    _say(f"\nDone in {time.perf_counter() - start:.1f}s.")
    return 0


def _indent(text: str, pad: str = "     ") -> str:
    return "\n".join(pad + line for line in text.splitlines())


# ---------------------------------------------------------------------- fit / recommend
def _read_table(path: str | None) -> pd.DataFrame | None:
    if path is None:
        return None
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such file: {source}")
    return pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source)


def fit(args: argparse.Namespace) -> int:
    import hybridrec as hr

    interactions = _read_table(args.interactions)
    model = hr.HybridRecommender(
        cross_domain_weight=args.cross_domain_weight, random_state=args.seed, show_progress=not args.quiet
    )
    model.fit(interactions, items=_read_table(args.items), users=_read_table(args.users))
    hr.save(model, args.out)
    _say(f"saved {args.out}")
    return 0


def recommend(args: argparse.Namespace) -> int:
    import hybridrec as hr

    model = hr.load(args.model)
    if args.text:
        frame = model.recommend_for_text(args.text, k=args.k, domain=args.domain)
    else:
        ids = [_parse_id(u) for u in args.user]
        frame = model.recommend(ids, k=args.k, domain=args.domain, cross_domain_weight=args.cross_domain_weight)
    _say(frame.to_csv(index=False) if args.csv else frame.to_string(index=False))
    return 0


def _parse_id(value: str) -> int | str:
    """Command-line ids are text; ids that look like integers are matched as integers."""
    try:
        return int(value)
    except ValueError:
        return value


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridrec",
        description="Hybrid, cross-domain recommendation: ALS + LightFM text features + sentence-transformer semantics.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="fit on the bundled sample and show recommendations (offline)")
    p.add_argument("--k", type=int, default=5, help="recommendations per list (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--query", default=DEMO_QUERY, help="free-text query to recommend for")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=demo)

    p = sub.add_parser("fit", help="fit on CSV/Parquet tables and save the model with joblib")
    p.add_argument("--interactions", required=True, help="table with user_id, item_id[, weight]")
    p.add_argument("--items", help="table with item_id, text[, domain]")
    p.add_argument("--users", help="table with user_id, text")
    p.add_argument("--out", required=True, help="model file to write (.joblib)")
    p.add_argument("--cross-domain-weight", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=fit)

    p = sub.add_parser("recommend", help="recommend from a saved model, for user ids or a text")
    p.add_argument("--model", required=True, help="model file written by 'hybridrec fit' or hybridrec.save (trusted files only)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--user", nargs="+", help="user ids")
    group.add_argument("--text", help="free-text query")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--domain")
    p.add_argument("--cross-domain-weight", type=float)
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=recommend)

    try:
        from .evaluation.cli import add_evaluate_parser
    except ImportError:  # pragma: no cover - evaluation extras absent
        pass
    else:
        add_evaluate_parser(sub)
    return parser


def _warn_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
               file: TextIO | None = None, line: str | None = None) -> None:
    """Show a warning as one ``warning: ...`` line on stderr (no source location: users did not write it)."""
    sys.stderr.write(f"warning: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():  # one-line warnings for this command only; restored afterwards
        warnings.showwarning = _warn_line
        try:
            return args.func(args)
        except (ValueError, FileNotFoundError) as exc:
            _say(f"error: {exc}")
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
