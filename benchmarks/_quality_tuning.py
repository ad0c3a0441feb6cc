"""Scoring, component search (ladder walks) and staged blend tuning for ``benchmarks/quality.py``.

Every method is scored through the public API: ``HybridRecommender.component_scores(user_ids,
history=..., texts=..., item_ids=..., cross_domain_weight=..., normalization=...,
components=...)`` with the users' training rows as ``history`` (or their text alone), blended
by ``hybridrec.blend.blend``. With ``weights={name: 1}`` only that component is scored, which
is exactly ``reweight({name: 1})`` followed by ``score_items`` (checked once per run) without
scoring the other seven components too.
"""
from __future__ import annotations

import dataclasses
import gc
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

import hybridrec as hr
from hybridrec import components
from hybridrec.blend import blend
from hybridrec.evaluation import Split, evaluate
from hybridrec.model_selection import search_blend

log = logging.getLogger("quality")

K = 10
#: Metrics reported per row (``evaluate``'s names).
REPORTED = ("ndcg", "recall", "precision", "map", "coverage")
from _quality_protocols import BASE_FAMILY  # noqa: E402 - the families' registered components

if TYPE_CHECKING:
    from _quality_budgets import Budget
    from _quality_protocols import Task

_EMPTY = pd.DataFrame({"user_id": pd.Series([], dtype=object), "item_id": pd.Series([], dtype=object)})


def make_component(family: str, params: Mapping[str, Any], fixed: Mapping[str, Any] | None = None) -> Any:
    return components.create(BASE_FAMILY.get(family, family), **{**(fixed or {}), **params})


def fit_model(components: list[tuple[str, Any]], split: Split, seed: int, add_unseen: bool = False,
              item_vectors: dict[str, Any] | None = None, screen_texts: str = "hold"
              ) -> tuple[hr.HybridRecommender, float, dict[str, float]]:
    """A HybridRecommender with every component at weight 1, fitted on ``split.train``.

    ``add_unseen``: fit on the catalogue items that have training interactions only, then add
    the others with ``add_items`` (scored from their text and blocks, as new items), instead of
    passing the whole catalogue to ``fit``. ``item_vectors``: named blocks for fit.
    """
    # batch_size only groups users for scoring (results do not depend on it); large batches make
    # EASE's per-batch column gather of its item-item matrix rarer.
    model = hr.HybridRecommender(components=components, weights={n: 1.0 for n, _ in components}, random_state=seed,
                                 batch_size=2048, screen_texts=screen_texts)
    items = split.items
    unseen = None
    if add_unseen:
        seen = items["item_id"].isin(split.train["item_id"].unique()).to_numpy()
        items, unseen = items[seen], items[~seen]
    start = time.perf_counter()
    model.fit(split.train, items=items, users=split.users, item_vectors=item_vectors)
    seconds = {name: round(comp.fit_seconds_, 1) for name, comp in model.components_.items()}
    if unseen is not None and len(unseen):
        uses_text = model.item_embeddings_ is not None
        if uses_text:
            model.add_items(unseen)
        else:
            raise ValueError("--cold-items add-items needs a text component in every model")
    return model, time.perf_counter() - start, dict(seconds)


# ---------------------------------------------------------------------------- component search
def walk(axes: Mapping[str, Sequence[Any]], start: Mapping[str, Any], score: Callable[[dict[str, Any]], float],
         passes: int = 3) -> dict[str, Any]:
    """Coordinate ascent along ordered ladders: the best setting ``score`` finds, from ``start``.

    An axis missing from ``start`` (or whose start is not on its ladder) starts at the
    ladder's middle.

    For each axis in turn, step up the ladder while the score improves; if the first step up
    does not improve, step down while it does. Repeat the pass over the axes until a whole
    pass moves nothing, at most ``passes`` times. Ties keep the current value, so the walk is
    deterministic. ``score`` should cache: a later pass asks again for settings it has scored.
    """
    current = {axis: start[axis] if axis in start and start[axis] in ladder else ladder[(len(ladder) - 1) // 2]
               for axis, ladder in axes.items()}
    best = score(current)
    for _ in range(passes):
        moved = False
        for axis, ladder in axes.items():
            ladder = list(ladder)
            for step in (1, -1):
                j, went = ladder.index(current[axis]) + step, False
                while 0 <= j < len(ladder):
                    candidate = {**current, axis: ladder[j]}
                    value = score(candidate)
                    if not value > best:  # NaN never improves
                        break
                    best, current, went, moved = value, candidate, True, True
                    j += step
                if went:
                    break
        if not moved:
            break
    return current


def edges(axes: Mapping[str, Sequence[Any]], chosen: Mapping[str, Any],
          limits: Mapping[str, tuple[Any, Any]]) -> list[str]:
    """The axes whose chosen value is an end of its ladder that is not a natural limit.

    Such a choice says the ladder is too short: the best value may lie beyond it.
    """
    out = []
    for axis, ladder in axes.items():
        low, high = limits.get(axis, (None, None))
        if len(ladder) > 1 and ((chosen[axis] == ladder[0] and ladder[0] != low)
                                or (chosen[axis] == ladder[-1] and ladder[-1] != high)):
            out.append(f"{axis}={chosen[axis]}")
    return out


# ---------------------------------------------------------------------------- scoring
class Lookup:
    """Rows of an interactions frame by user, as ``score_new`` history."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame[["user_id", "item_id", "weight"]].reset_index(drop=True)
        self.groups = self.frame.groupby("user_id", sort=False).indices

    def rows(self, user_ids: Sequence[Any]) -> pd.DataFrame:
        parts = [self.groups[u] for u in user_ids if u in self.groups]
        return self.frame.iloc[np.concatenate(parts)] if parts else self.frame.iloc[:0]


class Scorer:
    """What ``evaluate`` calls: a fitted model with one blend (weights, cdw, normalization).

    ``lookup`` gives each user's history (training rows, or revealed rows for cold users);
    ``texts`` maps user id -> text for users known only by a text.
    """

    def __init__(self, model: hr.HybridRecommender, weights: Mapping[str, float], *, lookup: Lookup | None = None,
                 texts: Mapping[Any, str] | None = None, cdw: float | None = None, normalization: str = "zscore") -> None:
        self.model, self.weights, self.lookup, self.texts = model, dict(weights), lookup, texts
        self.cdw, self.normalization = cdw, normalization

    @property
    def held_item_ids_(self) -> pd.Index:
        """The model's held items: ``evaluate`` ranks them last, as ``recommend`` never lists them."""
        return self.model.held_item_ids_

    def __call__(self, user_ids: list, item_ids: list) -> np.ndarray:
        return blend(self.parts(user_ids, item_ids, [n for n, w in self.weights.items() if w > 0]), self.weights)

    def parts(self, user_ids: list, item_ids: list, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The named components' normalised scores of these users (their history and text)."""
        history = self.lookup.rows(user_ids) if self.lookup is not None else _EMPTY
        return self.model.component_scores(user_ids, history=history, texts=self.texts, item_ids=item_ids,
                                           cross_domain_weight=self.cdw, normalization=self.normalization,
                                           components=names)


def summary(frame: pd.DataFrame, per_user: pd.DataFrame | None = None) -> dict[str, Any]:
    """The aggregate metrics of an ``evaluate`` frame (domain 'all', group 'all'), plus per-domain NDCG.

    With ``per_user`` (``evaluate(..., return_per_user=True)``), the users' NDCG@10 in
    evaluation order goes under ``PER_USER``: for intervals, not for the JSON results.
    """
    overall = frame[(frame["domain"] == "all") & (frame["group"] == "all")].set_index("metric")
    out: dict[str, Any] = {m: float(overall.loc[m, "value"]) for m in REPORTED}
    out["n_users"] = int(overall.loc["ndcg", "n_users"])
    per = frame[(frame["group"] == "all") & (frame["metric"] == "ndcg") & (frame["domain"] != "all")]
    if len(per) > 1:
        out["ndcg_by_domain"] = {d: float(v) for d, v in zip(per["domain"], per["value"])}
    groups = frame[(frame["domain"] == "all") & (frame["metric"] == "ndcg") & (frame["group"] != "all")]
    if len(groups) > 1:
        out["ndcg_by_group"] = {g: [float(v), int(n)] for g, v, n in zip(groups["group"], groups["value"], groups["n_users"])}
    if per_user is not None:
        out[PER_USER] = per_user["ndcg"].to_numpy(dtype=np.float64)
    return out


#: The key of the per-user NDCG array in a ``summary`` (dropped before results are written).
PER_USER = "_ndcg_per_user"


def interval(values: np.ndarray, reference: np.ndarray | None = None, n: int = 2000, seed: int = 0,
             level: float = 0.95) -> list[float]:
    """A percentile bootstrap interval over users of mean(values), or of mean(values) / mean(reference).

    ``reference`` must hold the same users in the same order (``evaluate`` gives every model
    the same order on one split): each resample draws users, not values, so the ratio's
    interval accounts for the two models being scored on the same users.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(n, len(values)))
    stat = values[draws].mean(axis=1)
    if reference is not None:
        if len(reference) != len(values):
            raise ValueError(f"interval: {len(values)} values against {len(reference)} reference values.")
        base = reference[draws].mean(axis=1)
        stat = np.divide(stat, base, out=np.full_like(stat, np.inf), where=base > 0)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stat, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def view(split: Split, users: str) -> Split:
    """The split with ``train`` cut down to the rows of the users evaluated (``users`` = "test"/"valid").

    ``evaluate`` and ``tune_blend`` read ``train`` only to exclude each evaluated user's
    training items and to tell warm from cold users; the fitted model keeps its own copy of the
    histories. Results are identical; every call is faster (no pass over all training rows).
    """
    key = (id(split), users)
    if key not in _VIEWS:
        held = split.test if users == "test" else split.valid
        keep = split.train["user_id"].isin(held["user_id"].unique())
        _VIEWS.clear()
        _VIEWS[key] = (split, dataclasses.replace(split, train=split.train[keep]))
    return _VIEWS[key][1]


_VIEWS: dict[tuple, tuple[Split, Split]] = {}


def run_eval(scorer: Callable, split: Split, users: str, candidates: Any, per_user: bool = False) -> dict[str, Any]:
    """``summary`` of ``evaluate`` on the split's ``users``; ``per_user`` keeps their NDCG@10 too."""
    found = evaluate(scorer, view(split, users), k=K, users=users, candidates=candidates, return_per_user=per_user)
    return summary(*found) if per_user else summary(found)


def check_equivalence(model: hr.HybridRecommender, split: Split, weights: Mapping[str, float], cdw: float | None,
                      normalization: str, n_users: int = 20) -> float:
    """Max |score_new(weights) - reweight(weights).score_items| over a few training users."""
    users = list(pd.unique(split.train["user_id"])[:n_users])
    items = list(split.items["item_id"].to_numpy())
    ours = Scorer(model, weights, lookup=Lookup(split.train[split.train["user_id"].isin(users)]), cdw=cdw,
                  normalization=normalization)(users, items)
    saved = (dict(model.weights_), model.normalization)
    model.reweight(weights)
    model.set_params(normalization=normalization)
    try:
        theirs = model.score_items(users, items, cross_domain_weight=cdw)
    finally:
        model.reweight(saved[0])
        model.set_params(normalization=saved[1])
    return float(np.max(np.abs(ours - theirs)))


# ---------------------------------------------------------------------------- candidates
class BlendSearch:
    """Where a staged blend search looks: the model, the split's tuning users, candidates, components.

    ``text`` mode passes ``texts``, so the users are scored from their text alone.
    """

    def __init__(self, model: hr.HybridRecommender, split: Split, users: str, candidates: Any, names: Sequence[str],
                 mode: str = "history", texts: Mapping[Any, str] | None = None) -> None:
        self.model, self.split, self.users, self.candidates = model, split, users, candidates
        self.names, self.mode, self.texts = list(names), mode, texts


def staged_blend(search: BlendSearch, cdw_grid: list[float] | None, norms: Sequence[str], levels: Sequence[float],
                 rounds: int) -> dict[str, Any]:
    """The library's staged search (:func:`hybridrec.model_selection.search_blend`), in the report's terms."""
    start = time.perf_counter()
    found = search_blend(search.model, search.split, users=search.users, names=search.names,
                         cross_domain_weights=cdw_grid, normalizations=norms, levels=levels, rounds=rounds, k=K,
                         candidates=search.candidates, texts=search.texts if search.mode == "text" else None,
                         refit=False)
    trace = [{**{k: v for k, v in t.items() if k != "score"}, "ndcg": t["score"]} for t in found["trace"]]
    return {"weights": found["weights"], "cdw": found["cross_domain_weight"], "norm": found["normalization"],
            "valid_ndcg": found["score"], "trace": trace, "evaluated": found["evaluated"], "calls": len(trace),
            "seconds": round(time.perf_counter() - start, 1),
            "single": {n: {"cdw": v["cross_domain_weight"], "ndcg": v["score"]} for n, v in found["single"].items()}}


# ---------------------------------------------------------------------------- protocol steps
def tune_components(task: Task, budget: Budget, seed: int) -> tuple[dict[str, dict], dict[str, Any]]:
    """Search each component's parameters on the tuning users (each component alone, fixed cdw)."""
    chosen: dict[str, dict] = {}
    report: dict[str, Any] = {}
    split, users = task.tune_split, task.tune_users
    fixed_cdw = 0.5 if task.cdw_grid else None
    lookup = None if task.mode == "text" else Lookup(split.train)
    texts = task.texts.get("tune")

    def trial(family: str, params: dict[str, Any], results: list[dict[str, Any]]) -> float:
        for done in results:
            if done["params"] == params:
                return done["score"]
        comps = [(family, make_component(family, params, budget.fixed.get(family)))]
        if (task.mode == "text" or budget.add_unseen) and BASE_FAMILY.get(family, family) not in ("semantic", "textknn", "lightfm"):
            comps.append(("semantic", make_component("semantic", {})))  # loads the text encoder
        model, fit_s, _ = fit_model(comps, split, seed, budget.add_unseen, task.item_vectors, budget.screen_texts)
        scorer = Scorer(model, {family: 1.0}, lookup=lookup, texts=texts, cdw=fixed_cdw)
        values = [run_eval(scorer, split, users, cands)["ndcg"] for _, _, cands in task.sets]
        results.append({"params": dict(params), "ndcg": values, "score": float(np.mean(values)), "fit_seconds": round(fit_s, 1)})
        log.info("  %s %s: tuning NDCG@10 %s (fit %.1fs)", family, params, " / ".join(f"{v:.4f}" for v in values), fit_s)
        del model, scorer
        gc.collect()
        return results[-1]["score"]

    for family in task.families:
        if family in ("lightfm_text", "lightfm_meta"):
            chosen[family] = {"epochs": chosen["lightfm"]["epochs"]} if "lightfm" in chosen else {}
            report[family] = {"search": "one setting: the epochs chosen for LightFM without text", "chosen": chosen[family]}
            continue
        axes = budget.axes_for(family, task.dataset)
        if all(len(v) == 1 for v in axes.values()):
            chosen[family] = {k: v[0] for k, v in axes.items()}
            report[family] = {"search": "nothing to tune", "chosen": chosen[family]}
            continue
        start = time.perf_counter()
        results: list[dict[str, Any]] = []
        chosen[family] = walk(axes, budget.start.get(BASE_FAMILY.get(family, family), {}),
                              lambda params: trial(family, params, results))
        at_edges = edges(axes, chosen[family], budget.limits.get(BASE_FAMILY.get(family, family), {}))
        report[family] = {"search": "walk", "axes": axes, "trials": results, "chosen": chosen[family],
                          "edges": at_edges, "fixed_cdw": fixed_cdw, "seconds": round(time.perf_counter() - start, 1)}
        log.info("%s: chose %s (%d settings, edges: %s, %.0fs)", family, chosen[family], len(results),
                 ", ".join(at_edges) or "none", time.perf_counter() - start)
    return chosen, report


def ratios(rows: list[dict], target: Any) -> tuple[dict, dict | None]:
    hybrid = next(r for r in rows if r["component"] == "hybrid")
    baselines = [r for r in rows if not r["component"].startswith("hybrid")]
    best = max(baselines, key=lambda r: r["metrics"]["ndcg"])
    h = hybrid["metrics"]["ndcg"]

    def ratio(b: dict) -> float:
        return h / b["metrics"]["ndcg"] if b["metrics"]["ndcg"] > 0 else float("inf")

    general = {"value": ratio(best), "best_label": best["method"], "best_component": best["component"],
               "best": best["metrics"]["ndcg"], "hybrid": h}
    if target is None:
        return general, None
    pool = [r for r in baselines if target.baselines is None or r["component"] in target.baselines]
    ref = max(pool, key=lambda r: r["metrics"]["ndcg"])
    value = ratio(ref)
    return general, {"text": target.text, "factor": target.factor, "ratio": value, "best_label": ref["method"],
                     "best_component": ref["component"], "best": ref["metrics"]["ndcg"], "hybrid": h,
                     "met": bool(value >= target.factor - 1e-12)}


def add_intervals(entry: dict[str, Any]) -> None:
    """95% bootstrap intervals over the test users, then the per-user arrays dropped.

    Every row gets its NDCG@10's interval; every hybrid row (the tuned hybrid and the other
    hybrid rows: default, auto, without meta, given history) the interval of its ratio to the
    best single baseline, and the other hybrid rows also of their ratio to the tuned hybrid.
    Ratios resample users jointly (the rows score the same users).
    """
    by = {r["component"]: r["metrics"][PER_USER] for r in entry["rows"]}
    for row in entry["rows"]:
        values = by[row["component"]]
        row["metrics"]["ndcg_interval"] = interval(values)
        if row["component"].startswith("hybrid"):
            row["vs_best_interval"] = interval(values, by[entry["ratio"]["best_component"]])
            if row["component"] != "hybrid":
                row["vs_hybrid_interval"] = interval(values, by["hybrid"])
    entry["ratio"]["interval"] = interval(by["hybrid"], by[entry["ratio"]["best_component"]])
    if entry["target"]:
        entry["target"]["interval"] = interval(by["hybrid"], by[entry["target"]["best_component"]])
    for row in entry["rows"]:
        del row["metrics"][PER_USER]
