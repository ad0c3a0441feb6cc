"""The tuning budgets of ``benchmarks/quality.py``: the ladders each component walks, and what a run covers.

``full_budget`` is the scoreboard's; ``quick_budget`` takes minutes (a subset, tiny ladders).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from _quality_protocols import ALIASES, BASE_FAMILY  # the benchmarks folder is on sys.path (scripts run from it)
from hybridrec.components import LightFMComponent


#: Ladder ends that are the parameter's own bounds (item-kNN offers 1 or 2 hops; its alpha is in
#: [0, 1]; shrink cannot go below 0): a choice there is not a sign of a short ladder.
NATURAL_LIMITS: dict[str, dict[str, tuple[Any, Any]]] = {
    "itemknn": {"hops": (1, 2), "alpha": (0.0, 1.0), "shrink": (0.0, None)},
}


@dataclass
class Budget:
    """How much tuning a run does; ``full`` targets about an hour on 2 cores, ``quick`` minutes.

    ``axes`` maps a component to its parameter axes, each an ordered ladder of values. Every
    component is searched by ``walk``: from ``start`` (a ladder's middle where not given), one
    axis at a time, stepping along the ladder while the tuning score improves, passes repeated
    until none moves (at most three). ``limits`` names the ladder ends that are natural bounds (item-kNN's
    ``alpha`` in [0, 1]); a choice at any other end is reported as an edge, a sign that the
    ladder is too short. ``overrides`` replaces axes per dataset (name prefix).
    ``fixed`` holds parameters that are not tuned. LightFM with text gets one setting: the
    epochs chosen for LightFM without text.
    """

    name: str
    axes: dict[str, dict[str, list[Any]]]
    fixed: dict[str, dict[str, Any]]
    start: dict[str, dict[str, Any]] = field(default_factory=dict)
    limits: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=lambda: dict(NATURAL_LIMITS))
    overrides: dict[str, dict[str, dict[str, list[Any]]]] = field(default_factory=dict)
    blend_levels: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    blend_rounds: int = 3
    norms: tuple[str, ...] = ("zscore", "minmax")
    amazon_extra_users: int | None = None
    cold_item_test_users: int | None = 2000
    cold_item_tune_users: int | None = 1500
    cold_user_test_size: float = 0.02
    cold_user_n: int | None = None
    skip: tuple[str, ...] = ()
    add_unseen: bool = False
    screen_texts: str = "hold"
    notes: list[str] = field(default_factory=list)

    def axes_for(self, family: str, dataset: str) -> dict[str, list[Any]]:
        """The family's axes (a family that is another configuration of a component takes that one's)."""
        for name in (family, BASE_FAMILY.get(family)):
            for prefix, table in self.overrides.items():
                if dataset.startswith(prefix) and name in table:
                    return table[name]
            if name in self.axes:
                return self.axes[name]
        return {}


#: LightFM's default text weight: the "LightFM + text" rows measure the library's default.
_TEXT_WEIGHT = LightFMComponent().text_weight


def _fixed(extra: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Parameters that are not tuned: what makes each row family what it is, plus ``extra``."""
    return {
        "lightfm": {"text_components": 0},
        "lightfm_text": {"block_weights": {"text": _TEXT_WEIGHT}},
        "semantic_meta": {"modality": "meta"},
        "textknn_meta": {"modality": "meta"},
        "lightfm_meta": {"block_weights": {"text": _TEXT_WEIGHT, "meta": 1.0}},
        **extra,
    }


def full_budget() -> Budget:
    return Budget(
        name="full",
        axes={
            "als": {"alpha": [2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0], "factors": [8, 16, 32, 64, 128, 256],
                    "regularization": [0.01, 0.1, 1.0, 10.0, 100.0]},
            "itemknn": {"hops": [1, 2], "alpha": [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
                        "shrink": [0.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0], "k": [25, 50, 100, 200, 400, 800]},
            "ease": {"l2": [10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0]},
            "svd": {"factors": [8, 16, 32, 64, 128, 256, 512]},
            "lightfm": {"epochs": [5, 10, 20, 40, 80]},
            "textknn": {"temperature": [0.0125, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8]},
        },
        start={"als": {"alpha": 20.0, "factors": 64, "regularization": 0.1},
               "itemknn": {"hops": 1, "alpha": 0.5, "shrink": 30.0, "k": 100},
               "svd": {"factors": 64}, "lightfm": {"epochs": 20},
               "textknn": {"temperature": 0.1}},
        overrides={"amazon": {"ease": {"l2": [300.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0], "max_items": [10000]},
                              "lightfm": {"epochs": [10]}}},
        fixed=_fixed({"ease": {"min_count": 8, "max_items": 15000},
                      "tower": {"encoder": "sequence"}}),
        blend_rounds=2,
        cold_item_test_users=2000,
        cold_item_tune_users=1000,
        notes=[
            "Component search: each component alone, on the tuning users, walks ordered ladders one axis at "
            "a time from a start (bold below), stepping while the tuning NDCG@10 improves, passes repeated "
            "until none moves (at most three); each protocol's `edges` line lists any choice left at a ladder end that is not "
            "a natural bound (none means every choice is interior). Ladders: ALS alpha {2.5 ... **20** ... 160} "
            "(doubling) x factors {8, 16, 32, **64**, 128, 256} x regularization {0.01, **0.1**, 1, 10, 100}; item-kNN "
            "hops {**1**, 2} x alpha {0, 0.1, 0.3, **0.5**, 0.7, 0.9, 1} x shrink {0, 10, **30**, 100, 300, 1000, "
            "3000} x k {25, 50, **100**, 200, 400, 800}; EASE (min_count 8, at most 15,000 items) l2 {10, 30, 100, "
            "300, **1000**, ..., 100000}; PureSVD factors {8, 16, 32, **64**, ..., 512}; LightFM epochs {5, 10, **20**, "
            "40, 80}; text kNN temperature {0.0125 ... **0.1** ... 0.8} (doubling). The tower is not tuned: the "
            "sequence encoder with the library's defaults.",
            "On Amazon, to keep the run shorter: EASE keeps at most 10,000 items (of ~14,600 with >= 8 "
            "interactions; fit ~25 s instead of ~65 s; validation NDCG@10 0.0625 vs 0.0632 on CD-cold food -> "
            "kitchen at l2 = 1000) and walks l2 {300, 1000, **3000**, 10000, 30000, 100000}; LightFM trains 10 epochs "
            "(20 lost to 10 on the CD-cold food -> kitchen and warm validation users in earlier runs).",
        ],
    )


def quick_budget() -> Budget:
    return Budget(
        name="quick",
        axes={
            "als": {"alpha": [10.0, 40.0], "factors": [32]},
            "itemknn": {"hops": [1, 2], "shrink": [100.0]},
            "ease": {"l2": [250.0, 1000.0]},
            "svd": {"factors": [32, 64]},
            "lightfm": {"epochs": [5]},
            "textknn": {"temperature": [0.1]},
        },
        fixed=_fixed({"ease": {"min_count": 8, "max_items": 3000},
                      "tower": {"encoder": "sequence"}}),
        blend_rounds=2,
        amazon_extra_users=3000,
        cold_item_test_users=500,
        cold_item_tune_users=300,
        cold_user_n=300,
        skip=ALIASES["goodbooks"],
        notes=[
            "quick mode: Amazon subset (official valid/test users + 3,000 users active in both domains, "
            "and the items they touched), tiny grids, EASE on at most 3,000 items, LightFM 5 epochs, "
            "no goodbooks, cold-user-from-text on 300 users.",
        ],
    )
