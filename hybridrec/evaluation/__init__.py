"""Evaluation: seeded splits for the DESIGN.md protocols, vectorised ranking metrics, evaluate(), reports.

>>> from hybridrec.evaluation import cross_domain_split, evaluate
>>> split = cross_domain_split(ds.interactions, ds.items, "kitchen", seed=0)  # doctest: +SKIP
>>> model = HybridRecommender(weights={"als": 1.0}).fit(split.train, items=split.items)  # doctest: +SKIP
>>> evaluate(model, split, k=10)  # doctest: +SKIP
"""
from .evaluate import evaluate
from .metrics import METRICS, coverage, ranking_metrics, top_k_items
from .protocols import SPLITTERS, make_split, protocol_defaults
from .splits import (
    PROTOCOLS,
    Split,
    cold_item_split,
    cold_user_split,
    cross_domain_split,
    leave_last_split,
    random_split,
)

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "SPLITTERS",
    "Split",
    "cold_item_split",
    "cold_user_split",
    "coverage",
    "cross_domain_split",
    "evaluate",
    "leave_last_split",
    "make_split",
    "protocol_defaults",
    "random_split",
    "ranking_metrics",
    "top_k_items",
]
