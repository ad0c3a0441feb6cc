"""Tune blend weights and ``cross_domain_weight`` on a validation split, reusing component scores.

Changing the blend weights never changes what a component scores, so :func:`tune_blend` asks
every fitted component for its normalised scores once per distinct ``cross_domain_weight`` (and
``normalization``) and only re-blends them for each weight combination. Nothing is refitted.
"""
from __future__ import annotations

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
