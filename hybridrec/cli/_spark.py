"""``hybridrec recommend --spark``: batch top-k on Spark, written to Parquet."""
from __future__ import annotations

import argparse

import pandas as pd

from ._output import say


def recommend_on_spark(args: argparse.Namespace) -> int:
    import hybridrec as hr

    if not args.out:
        raise ValueError("recommend --spark needs --out, the Parquet folder to write.")
    if args.text:
        raise ValueError("recommend --spark recommends for users; --text is for one query, without --spark.")
    if args.partitions < 1:
        raise ValueError(f"--partitions must be a positive int. Got {args.partitions}.")
    from .model import parse_id, read_table

    model = hr.load(args.model, format=args.model_format)
    user_col = model.columns_["user"]
    if args.user:
        users = pd.DataFrame({user_col: [parse_id(u) for u in args.user]})
    elif args.users_table:
        table = read_table(args.users_table)
        if user_col not in table.columns:
            raise ValueError(f"--users-table has no {user_col!r} column. Its columns: {list(table.columns)}.")
        users = table[[user_col]].drop_duplicates()
    else:
        users = pd.DataFrame({user_col: model.data_.user_ids.to_numpy()})
    from ..spark import recommend_spark, session

    spark = session(args.master)
    frame = spark.createDataFrame(users).repartition(args.partitions)
    out = recommend_spark(model, frame, k=args.k, domain=args.domain, cross_domain_weight=args.cross_domain_weight)
    out.write.mode("overwrite").parquet(args.out)
    say(f"wrote {args.out}: top-{args.k} for {len(users):,} users ({args.partitions} partitions on {args.master})")
    return 0
