"""``hybridrec fit`` and ``hybridrec recommend``: a model from tables to a file, and lists from a file."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..model_selection import AUTO_TARGETS
from ._output import say

#: Characters of an item's text shown beside its id.
TEXT_WIDTH = 60


def add_parsers(sub) -> None:
    p = sub.add_parser("fit", help="fit on CSV/Parquet tables and save the model (safe format)")
    p.add_argument("--interactions", required=True, help="table with user_id, item_id[, weight]")
    p.add_argument("--items", help="table with item_id, text[, domain]")
    p.add_argument("--users", help="table with user_id, text")
    p.add_argument("--out", required=True, help="model file to write (.hybridrec: a zip of a JSON manifest and arrays)")
    p.add_argument("--cross-domain-weight", type=float, default=0.5)
    p.add_argument("--auto", action="store_true",
                   help="choose the blend weights, cross-domain weight and normalization on held-out events "
                        "of the training users (weights='auto'; about twice the fit time)")
    p.add_argument("--auto-target", choices=AUTO_TARGETS, default="next_item",
                   help="with --auto: what the held-out events stand for: each user's last item (default), "
                        "a random item, or a whole domain (users new to a domain)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=fit)

    p = sub.add_parser("recommend", help="recommend from a saved model, for user ids or a text")
    p.add_argument("--model", required=True, help="model file written by 'hybridrec fit' or hybridrec.save")
    p.add_argument("--model-format", choices=["hybridrec", "joblib"], default="hybridrec",
                   help="joblib: a pickle written by save(..., format='joblib'); it runs code when loaded, so "
                        "only for files you trust (default: the safe format)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--user", nargs="+", help="user ids")
    group.add_argument("--text", help="free-text query")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--domain")
    p.add_argument("--cross-domain-weight", type=float)
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    spark = p.add_argument_group("batch recommendation on Spark (pip install \"hybridrec[spark]\"; Java 17+)")
    spark.add_argument("--spark", action="store_true",
                       help="recommend on Spark for --user, the user_id column of --users-table, or every known user")
    spark.add_argument("--users-table", help="CSV/Parquet table whose user_id column lists the users (with --spark)")
    spark.add_argument("--out", help="Parquet folder to write (with --spark)")
    spark.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    spark.add_argument("--partitions", type=int, default=4, help="partitions of the users (default 4)")
    p.set_defaults(func=recommend)


def read_table(path: str | None) -> pd.DataFrame | None:
    """A CSV or Parquet table (by suffix); ``FileNotFoundError`` names a missing file."""
    if path is None:
        return None
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such file: {source}")
    return pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source)


def fit(args: argparse.Namespace) -> int:
    import hybridrec as hr

    interactions = read_table(args.interactions)
    auto = {"weights": "auto", "cross_domain_weight": "auto", "normalization": "auto",
            "auto_target": args.auto_target} if args.auto else \
        {"cross_domain_weight": args.cross_domain_weight}
    model = hr.HybridRecommender(random_state=args.seed, show_progress=not args.quiet, **auto)
    model.fit(interactions, items=read_table(args.items), users=read_table(args.users))
    hr.save(model, args.out)
    if args.auto:
        report = model.auto_report_
        chosen = ", ".join(f"{n} {w:g}" for n, w in report["weights"].items() if w)
        say(f"chosen on {report['users']} held-out users: {chosen}; cross-domain weight "
            f"{report['cross_domain_weight']:g}; {report['normalization']} (held-out NDCG@10 "
            f"{report['heldout_ndcg@10']:.4f})")
    say(f"saved {args.out}")
    return 0


def recommend(args: argparse.Namespace) -> int:
    import hybridrec as hr

    if args.spark:
        from ._spark import recommend_on_spark

        return recommend_on_spark(args)
    if not args.user and not args.text:
        raise ValueError("recommend needs --user or --text (or --spark with --out for a batch).")
    model = hr.load(args.model, format=args.model_format)
    if args.text:
        frame = model.recommend_for_text(args.text, k=args.k, domain=args.domain)
    else:
        ids = [parse_id(u) for u in args.user]
        frame = model.recommend(ids, k=args.k, domain=args.domain, cross_domain_weight=args.cross_domain_weight)
    frame = with_text(model, frame)
    say(frame.to_csv(index=False) if args.csv else frame.to_string(index=False))
    return 0


def with_text(model, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each item's text (its title, usually) beside its id, shortened for a terminal."""
    item_col = model.columns_["item"]
    texts = pd.Series(model.data_.item_texts, index=model.data_.item_ids, dtype=object)
    shown = texts.reindex(frame[item_col].to_numpy()).fillna("").str.slice(0, TEXT_WIDTH).to_numpy()
    return frame.assign(text=shown)


def parse_id(value: str) -> int | str:
    """Command-line ids are text; ids that look like integers are matched as integers."""
    try:
        return int(value)
    except ValueError:
        return value
