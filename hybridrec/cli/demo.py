"""``hybridrec demo``: fit on the bundled sample and show what the library does (offline)."""
from __future__ import annotations

import argparse
import time

import pandas as pd

from ._output import indent, say, table

DEMO_QUERY = "animated movies for kids about toys"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="fit on the bundled sample and show recommendations (offline)")
    p.add_argument("--k", type=int, default=5, help="recommendations per list (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    p.add_argument("--query", default=DEMO_QUERY, help="free-text query to recommend for")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=demo)


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
    say(f"hybridrec {hr.__version__} demo: the bundled MovieLens latest-small sample")
    say(f"  {ds.interactions['user_id'].nunique()} users, {len(ds.items)} movies, "
        f"{len(ds.interactions)} positive ratings, domains {domains}")
    say("Fitting HybridRecommender (ALS + LightFM text features + semantic profile + item-kNN + sequence tower) ...")
    model = hr.HybridRecommender(cross_domain_weight=0.5, random_state=args.seed, show_progress=not args.quiet)
    model.fit(ds.interactions, items=ds.items, users=ds.users)
    say(f"  fitted in {time.perf_counter() - start:.1f}s (text embeddings are cached for the next run)")

    warm, lone, lone_domain = _pick_users(ds.interactions, ds.items)
    liked = ds.interactions[ds.interactions["user_id"] == warm].sort_values("timestamp").tail(3)["item_id"]
    say(f"\n1) User {warm}, active in several domains. Latest likes: {'; '.join(titles[liked])}")
    for domain in ("family", "thriller"):
        say(f"   Top {args.k} in '{domain}':")
        say(indent(table(model.recommend(warm, k=args.k, domain=domain), titles)))

    target = next(d for d in domains if d != lone_domain)
    say(f"\n2) User {lone} has liked only '{lone_domain}' movies; recommending in '{target}'.")
    for weight in (0.0, 1.0):
        note = "same-domain history only (none here: a popularity-like fallback)" if weight == 0 else "all history counts"
        say(f"   cross_domain_weight={weight:g}: {note}")
        recs = model.recommend(lone, k=args.k, domain=target, cross_domain_weight=weight)
        say(indent(table(recs, titles)))

    say(f"\n3) Free-text query: {args.query!r}")
    say(indent(table(model.recommend_for_text(args.query, k=args.k), titles)))

    top = model.recommend(warm, k=1, domain="family").iloc[0]
    say("\n4) Why? " + model.explain(warm, top["item_id"])["sentence"])
    say(f"\nDone in {time.perf_counter() - start:.1f}s.")
    return 0
