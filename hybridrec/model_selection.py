"""Tune blend weights and ``cross_domain_weight`` on a validation split, reusing component scores.

Changing the blend weights never changes what a component scores, so :func:`tune_blend` asks
every fitted component for its normalised scores once per distinct ``cross_domain_weight`` (and
``normalization``) and only re-blends them for each weight combination. Nothing is refitted.
:func:`search_blend` is the staged search over those grids (what ``weights="auto"`` runs).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid
from sklearn.utils.validation import check_is_fitted
from tqdm import tqdm

from ._validation import check_choice, check_fraction
from .blend import NORMALIZATIONS, blend, check_weights
from .evaluation import Split, evaluate
from .evaluation.metrics import METRICS
from .evaluation.report import metric_label

logger = logging.getLogger(__name__)
#: What ``HybridRecommender(weights="auto", auto_target=...)`` holds out to choose its blend:
#: each sampled user's last item, one random item, or all its items of one domain.
AUTO_TARGETS = ("next_item", "random", "cross_domain")

_BLEND_KEYS = ("cross_domain_weight", "normalization", "weights")


class _ComponentScoreCache:
    """Per-component normalised scores of (users, items) blocks for one scoring setting."""

    def __init__(self, model: Any, cross_domain_weight: float, normalization: str,
                 texts: Mapping[Any, Any] | None = None) -> None:
        self.model = model
        self.cross_domain_weight = cross_domain_weight
        self.normalization = normalization
        self.texts = texts
        # users known only by a text are new users with an empty history
        columns = model.columns_
        self.no_history = None if texts is None else pd.DataFrame(
            {columns["user"]: pd.Series([], dtype=object), columns["item"]: pd.Series([], dtype=object)})
        self.blocks: dict[tuple, dict[str, np.ndarray]] = {}

    def parts(self, user_ids: list, item_ids: list, history: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        """Known users' blocks, new users' blocks built from ``history`` (cold-user splits), or,
        with ``texts``, blocks of users known only by their text (any history is ignored)."""
        if self.texts is not None:
            history = self.no_history
        key = (history is not None, tuple(user_ids), tuple(item_ids))
        if key not in self.blocks:
            self.blocks[key] = self.model.component_scores(
                user_ids, history=history, texts=self.texts, item_ids=item_ids,
                cross_domain_weight=self.cross_domain_weight, normalization=self.normalization,
            )
        return self.blocks[key]

    def scorer(self, weights: Mapping[str, float]) -> "_BlendScorer":
        return _BlendScorer(self, weights)


class _BlendScorer:
    """What :func:`~hybridrec.evaluation.evaluate` calls: cached parts, blended with one set of weights."""

    def __init__(self, cache: _ComponentScoreCache, weights: Mapping[str, float]) -> None:
        self.cache, self.weights = cache, weights
        self.held_item_ids_ = getattr(cache.model, "held_item_ids_", None)  # evaluate ranks them last, as recommend never lists them

    def score_items(self, user_ids: list, item_ids: list) -> np.ndarray:
        return blend(self.cache.parts(user_ids, item_ids), self.weights)

    def score_new(self, history: pd.DataFrame, user_ids: list, item_ids: list) -> np.ndarray:
        return blend(self.cache.parts(user_ids, item_ids, history), self.weights)


def _expand(param_grid: Mapping[str, Any] | Iterable[Mapping[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Candidates from a scikit-learn style grid (dict, list of dicts, ParameterGrid or sampler)."""
    def is_grid(g: Any) -> bool:
        return isinstance(g, Mapping) and all(isinstance(v, (list, tuple, np.ndarray)) for v in g.values())

    try:
        if isinstance(param_grid, Mapping) or (isinstance(param_grid, list) and param_grid and all(map(is_grid, param_grid))):
            candidates = list(ParameterGrid(param_grid))  # a grid, or a list of grids
        else:
            candidates = [dict(c) for c in param_grid]  # explicit candidates, e.g. a ParameterSampler
    except (TypeError, ValueError) as exc:  # sklearn's own check, or something that is not a grid at all
        raise ValueError(f"The 'param_grid' parameter of tune_blend must be a dict of name -> non-empty list, a list "
                         f"of such dicts, or an iterable of candidate dicts. Got {param_grid!r:.80} ({exc}).") from None
    if not candidates:
        raise ValueError("The 'param_grid' parameter of tune_blend is empty.")
    allowed = set(_BLEND_KEYS) | {f"weights__{n}" for n in names}
    for cand in candidates:
        unknown = sorted(set(cand) - allowed)
        if unknown:
            raise ValueError(
                f"The 'param_grid' parameter of tune_blend has unknown keys {unknown}. Allowed: "
                f"{sorted(allowed)} (component parameters need a refit; tune them with GridSearch-style refits)."
            )
    return candidates


def _candidate_weights(model: Any, cand: Mapping[str, Any]) -> dict[str, Any]:
    """The blend weights a candidate asks for (the model's, overridden by the candidate's)."""
    weights = dict(model.weights_)
    if "weights" in cand:
        weights = {n: 0.0 for n in model.components_}
        weights.update(cand["weights"])
    for key, value in cand.items():
        if key.startswith("weights__"):
            weights[key[len("weights__"):]] = value
    return weights


def _all_zero(model: Any, cand: Mapping[str, Any]) -> bool:
    """True when a candidate leaves no component with a positive weight (it is skipped)."""
    return not any(isinstance(v, (int, float)) and v > 0 for v in _candidate_weights(model, cand).values())


def _resolve(model: Any, cand: Mapping[str, Any]) -> tuple[float, str, dict[str, float]]:
    weights = check_weights(_candidate_weights(model, cand), list(model.components_),
                            where="The 'param_grid' parameter of tune_blend")
    cdw = check_fraction(cand.get("cross_domain_weight", model.cross_domain_weight), "cross_domain_weight", "tune_blend")
    norm = check_choice(cand.get("normalization", model.normalization), "normalization", NORMALIZATIONS, "tune_blend")
    return cdw, norm, weights


def tune_blend(
    model: Any,
    split: Split,
    param_grid: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    k: int = 10,
    metric: str = "ndcg",
    users: str = "valid",
    candidates: Iterable[Any] | None = None,
    refit: bool = True,
    show_progress: bool = False,
    texts: Mapping[Any, Any] | pd.Series | None = None,
) -> pd.DataFrame:
    """Grid-search blend weights, ``cross_domain_weight`` and ``normalization`` on held-out users.

    Parameters
    ----------
    model : HybridRecommender
        Fitted on ``split.train``, with a weight > 0 at fit time for every component the grid
        may use (a component fitted with weight 0 does not exist and cannot be weighted).
    split : Split
        Usually a split whose ``valid`` rows were held out for tuning; never tune on test users.
    param_grid : dict, list of dicts, or iterable of dicts
        scikit-learn style, e.g. ``{"weights__als": [0, 1], "weights__semantic": [0, 0.5, 1],
        "cross_domain_weight": [0, 0.5, 1]}``. Keys: ``cross_domain_weight``, ``normalization``,
        ``weights`` (whole dicts) and ``weights__<component>``; unnamed weights keep the model's.
    k : int, default=10
    metric : str, default="ndcg"
        One of the metrics of :func:`~hybridrec.evaluation.evaluate`; higher is better.
    users : {"valid", "test"}, default="valid"
    candidates : iterable of item ids, optional
        Passed to :func:`~hybridrec.evaluation.evaluate`.
    refit : bool, default=True
        Set the best candidate on the model (``weights``, ``weights_``, ``cross_domain_weight``,
        ``normalization``). Nothing is retrained.
    show_progress : bool, default=False
    texts : mapping or Series of user id -> text, optional
        Tune for users known only by a text (the cold-start case of ``recommend_new`` with
        ``texts`` and no history): every evaluated user is scored from ``texts[user]`` alone,
        and the split's history or fold-in rows are not shown to the model.

    Returns
    -------
    DataFrame
        One row per candidate: its parameters, the metrics of the ``"all"`` domain and group
        (``ndcg@10``, ..., ``mrr``, ``auc``), ``n_users``, sorted best first. ``frame.attrs["best_params"]``
        holds the winner.
    """
    check_is_fitted(model, "components_")
    check_choice(metric, "metric", list(METRICS) + ["coverage"], "tune_blend")
    if texts is not None and not hasattr(texts, "items"):
        raise ValueError("The 'texts' parameter of tune_blend must be a mapping or pandas Series of user id -> text.")
    candidates_list = [c for c in _expand(param_grid, list(model.components_)) if not _all_zero(model, c)]
    if not candidates_list:
        raise ValueError("Every candidate of the 'param_grid' parameter of tune_blend sets all weights to 0.")
    resolved = [_resolve(model, cand) for cand in candidates_list]
    rows = []
    order = sorted(range(len(resolved)), key=lambda i: resolved[i][:2])
    cache: _ComponentScoreCache | None = None
    start = time.perf_counter()
    for i in tqdm(order, desc="tune_blend", disable=not show_progress):
        cdw, norm, weights = resolved[i]
        if cache is None or (cache.cross_domain_weight, cache.normalization) != (cdw, norm):
            cache = _ComponentScoreCache(model, cdw, norm, texts)  # drops the previous setting's blocks
        result = evaluate(cache.scorer(weights), split, k=k, users=users, candidates=candidates)
        overall = result[(result["domain"] == "all") & (result["group"] == "all")].set_index("metric")
        row = {"candidate": i, **candidates_list[i]}
        row.update({metric_label(m, k): overall.loc[m, "value"] for m in overall.index})
        row["n_users"] = int(overall.loc[metric, "n_users"])
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values(metric_label(metric, k), ascending=False, kind="stable").reset_index(drop=True)
    best = frame.iloc[0]
    best_params = dict(candidates_list[int(best["candidate"])])
    frame = frame.drop(columns="candidate")
    frame.attrs["best_params"] = best_params
    logger.info("tune_blend: %d candidates in %.1fs; best %s = %.4f with %s",
                len(rows), time.perf_counter() - start, metric, best[metric_label(metric, k)], best_params)
    if refit:
        cdw, norm, weights = _resolve(model, best_params)
        model.set_params(cross_domain_weight=cdw, normalization=norm)
        model.reweight(weights)
    return frame


def _key(weights: Mapping[str, float], cdw: float | None, norm: str) -> tuple:
    """Candidates with proportional weights rank identically; one key for them."""
    top = max(weights.values())
    return tuple(sorted((n, round(w / top, 6)) for n, w in weights.items() if w > 0)), cdw, norm


class _Scores:
    """Memoised held-out scores of blend candidates; each batch of new ones is one :func:`tune_blend` call."""

    def __init__(self, model: Any, split: Split, users: str, candidates: Iterable[Any] | None, k: int, metric: str,
                 texts: Mapping[Any, Any] | None) -> None:
        held = split.test if users == "test" else split.valid
        # evaluate reads train only for the evaluated users' seen items: the same results, faster
        keep = split.train[split.user_col].isin(held[split.user_col].unique())
        self.split = dataclasses.replace(split, train=split.train[keep])
        self.model, self.users, self.candidates, self.k, self.metric, self.texts = model, users, candidates, k, metric, texts
        self.seen: dict[tuple, float] = {}
        self.evaluated = 0

    def __call__(self, cands: list[dict[str, Any]]) -> list[float]:
        todo = {}
        for cand in cands:
            key = _key(cand["weights"], cand["cdw"], cand["norm"])
            if key not in self.seen and key not in todo:
                todo[key] = cand
        if todo:
            grid = [{"weights": dict(c["weights"]), "normalization": c["norm"],
                     **({} if c["cdw"] is None else {"cross_domain_weight": c["cdw"]})} for c in todo.values()]
            frame = tune_blend(self.model, self.split, grid, k=self.k, metric=self.metric, users=self.users,
                               candidates=self.candidates, refit=False, texts=self.texts)
            label = metric_label(self.metric, self.k)
            for row in frame.to_dict(orient="records"):
                cdw = row.get("cross_domain_weight")
                cdw = None if cdw is None or (isinstance(cdw, float) and np.isnan(cdw)) else float(cdw)
                self.seen[_key(row["weights"], cdw, row["normalization"])] = float(row[label])
            self.evaluated += len(todo)
        return [self.seen[_key(c["weights"], c["cdw"], c["norm"])] for c in cands]


def search_blend(
    model: Any,
    split: Split,
    *,
    users: str = "valid",
    names: Iterable[str] | None = None,
    cross_domain_weights: Iterable[float] | None = (0.0, 0.25, 0.5, 1.0),
    normalizations: Iterable[str] = ("zscore", "minmax"),
    levels: Iterable[float] = (0.0, 0.25, 0.5, 1.0),
    rounds: int = 2,
    k: int = 10,
    metric: str = "ndcg",
    candidates: Iterable[Any] | None = None,
    texts: Mapping[Any, Any] | None = None,
    refit: bool = True,
) -> dict[str, Any]:
    """Choose the blend in stages, scoring far fewer candidates than a full grid.

    1. Every component alone at every ``cross_domain_weight`` (z-score normalised); the best
       single component at weight 1 is the starting blend.
    2. Up to ``rounds`` rounds of best-improvement coordinate ascent: every blend that moves one
       component's weight to another of ``levels`` is scored; the best is kept if it beats the
       current blend (ties keep the current one).
    3. The chosen weights under each other normalization and at each other
       ``cross_domain_weight``; if that moves the setting, up to ``rounds - 1`` (at least one)
       more rounds of ascent.

    The blend chosen is never below its best single component on the users it was chosen on.
    Every score is :func:`tune_blend`'s (the same evaluation, component scores cached).

    Parameters
    ----------
    model : HybridRecommender
        Fitted on ``split.train`` with a weight > 0 for every component in ``names``.
    split : Split
        Its ``users`` rows are the held-out events the blend is chosen on (never test users).
    users : {"valid", "test"}, default="valid"
    names : iterable of str, optional
        The components the blend may use (default: every fitted one).
    cross_domain_weights : iterable of float or None, default=(0, 0.25, 0.5, 1)
        The values tried; ``None`` keeps the model's (single-domain data, or users known by text).
    normalizations, levels, rounds
        The other normalizations tried, the weight levels, and the rounds of ascent.
    k, metric, candidates, texts
        As in :func:`tune_blend`.
    refit : bool, default=True
        Set the chosen blend on the model (:meth:`~hybridrec.HybridRecommender.reweight` and
        ``set_params``); nothing is retrained.

    Returns
    -------
    dict
        ``weights`` (the largest is 1), ``cross_domain_weight``, ``normalization``, ``score``
        (held-out ``metric@k`` of the chosen blend), ``single`` (per component: its best score
        alone and the ``cross_domain_weight`` it had), ``trace`` (one record per stage), and
        ``evaluated`` (distinct candidates scored).
    """
    check_is_fitted(model, "components_")
    names = list(model.components_) if names is None else list(names)
    unknown = sorted(set(names) - set(model.components_))
    if unknown or not names:
        raise ValueError(f"The 'names' parameter of search_blend must name fitted components "
                         f"({sorted(model.components_)}). Got {names!r}.")
    levels = sorted({float(v) for v in levels})
    norms = [check_choice(z, "normalizations", NORMALIZATIONS, "search_blend") for z in normalizations]
    cdws: list[float | None] = [None] if cross_domain_weights is None else \
        [check_fraction(c, "cross_domain_weights", "search_blend") for c in cross_domain_weights]
    score = _Scores(model, split, users, candidates, k, metric, texts)
    trace: list[dict[str, Any]] = []
    singles = [{"weights": {n: 1.0}, "cdw": c, "norm": "zscore"} for n in names for c in cdws]
    single: dict[str, dict[str, Any]] = {}
    for cand, value in zip(singles, score(singles)):
        name = next(iter(cand["weights"]))
        if name not in single or value > single[name]["score"]:
            single[name] = {"cross_domain_weight": cand["cdw"], "score": value}
    start = max(names, key=lambda n: single[n]["score"])
    current = {"weights": {n: float(n == start) for n in names}, "cdw": single[start]["cross_domain_weight"], "norm": "zscore"}
    best = single[start]["score"]
    trace.append({"stage": "single components", "candidates": len(singles), "best": dict(current), "score": best})

    def ascend(current: dict[str, Any], best: float, n_rounds: int, stage: str) -> tuple[dict[str, Any], float]:
        for r in range(n_rounds):
            moves = [current] + [{**current, "weights": dict(current["weights"], **{n: v})}
                                 for n in names for v in levels if v != current["weights"][n]]
            moves = [m for m in moves if max(m["weights"].values()) > 0]
            values = score(moves)
            top = int(np.argmax(values))  # ties keep the current blend (listed first)
            improved = values[top] > best + 1e-9
            trace.append({"stage": f"{stage} round {r + 1}", "candidates": len(moves), "best": dict(moves[top]),
                          "score": values[top], "improved": bool(improved)})
            if not improved:
                break
            current, best = moves[top], values[top]
        return current, best

    current, best = ascend(current, best, rounds, "coordinate ascent")
    settings = [current] + [{**current, "norm": z} for z in norms if z != current["norm"]]
    settings += [{**current, "cdw": c} for c in cdws if c != current["cdw"]]
    values = score(settings)
    top = int(np.argmax(values))
    trace.append({"stage": "normalization, cdw", "candidates": len(settings), "best": dict(settings[top]), "score": values[top]})
    if values[top] > best + 1e-9:
        current, best = ascend(settings[top], values[top], max(1, rounds - 1), "coordinate ascent (new setting)")
    top_w = max(current["weights"].values())
    weights = {n: round(w / top_w, 4) for n, w in current["weights"].items()}
    result = {"weights": weights, "cross_domain_weight": current["cdw"], "normalization": current["norm"],
              "score": best, "single": single, "trace": trace, "evaluated": score.evaluated}
    logger.info("search_blend: %d candidates; best %s %.4f with %s", score.evaluated, metric_label(metric, k), best,
                {n: w for n, w in weights.items() if w})
    if refit:
        if current["cdw"] is not None:
            model.set_params(cross_domain_weight=current["cdw"])
        model.set_params(normalization=current["norm"])
        model.reweight({**{n: 0.0 for n in model.components_}, **weights})
    return result
