"""The blend policy, in one place: how component scores become one score.

- **Normalisation** (:func:`normalize_scores`): each component's raw scores are normalised per
  user over the items being ranked, so that scales agree.
- **Cross-domain weighting** (:func:`cross_domain_item_weights`): how much each history item
  counts when recommending in a target domain.
- **Weights**: checks (:func:`check_weights`, :func:`call_weights`), defaults declared by the
  components (:func:`default_weights`, :func:`query_weights`).
- **The blend** (:func:`blend`): a weighted sum in which a component that cannot score an item
  defers to the others (:func:`effective_weights`).
- **Text-only routing** (:func:`blend_users`): users known only by a text are blended with the
  query weights.

The recommender, explanations, :func:`~hybridrec.model_selection.tune_blend` and the
benchmarks all call these functions.
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable, Mapping

import numpy as np

#: Per-user normalisations applied to every component's scores over the items being ranked.
NORMALIZATIONS = ("zscore", "minmax", "none")

_WEIGHTS = "The 'weights' parameter of HybridRecommender"


def normalize_scores(scores: np.ndarray, method: str, reference: np.ndarray | None = None) -> np.ndarray:
    """Normalise each row (one user's scores over the items being ranked).

    ``"zscore"`` subtracts the row mean and divides by the row standard deviation;
    ``"minmax"`` maps the row onto [0, 1]; ``"none"`` returns the scores unchanged. The
    statistics come from the ``reference`` columns (a boolean mask; default all), so items
    added after fitting can be scored without moving the scores of the items that were there.
    A constant row (a component that knows nothing about this user) becomes all zeros, so it
    adds nothing to the blend instead of dividing by zero.
    """
    return normalize_with_stats(scores, method, reference)[0]


def normalize_with_stats(scores: np.ndarray, method: str, reference: np.ndarray | None = None,
                         stats: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize_scores` and the per-row ``spread`` it divided by (0 for constant rows).

    ``stats``: the rows' ``(centre, spread)`` when already known (as :func:`normalization_stats`
    would compute them), which saves a pass over the scores.
    """
    scores = np.asarray(scores, dtype=np.float32)
    centre, spread = normalization_stats(scores, method, reference) if stats is None else stats
    if method == "none":
        return scores, spread
    out = scores - centre
    np.divide(out, spread, out=out, where=spread > 0)
    out[spread[:, 0] == 0] = 0.0
    return out, spread


def normalization_stats(scores: np.ndarray, method: str, reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``(centre, spread)`` with ``normalised = (score - centre) / spread``.

    ``spread`` is 0 for rows that are constant over the reference items (normalised to 0).
    """
    if method == "none":
        ones = np.ones((scores.shape[0], 1), dtype=np.float32)
        return 0 * ones, ones
    ref = scores if reference is None or reference.all() or not reference.any() else scores[:, reference]
    ref = np.asarray(ref, dtype=np.float64)  # float32 sums drift with the number of columns
    if method == "zscore":
        centre = ref.mean(axis=1, keepdims=True)
        spread = ref.std(axis=1, keepdims=True)
    elif method == "minmax":
        centre = ref.min(axis=1, keepdims=True)
        spread = ref.max(axis=1, keepdims=True) - centre
    else:
        raise ValueError(f"The 'normalization' parameter must be one of {list(NORMALIZATIONS)}. Got {method!r} instead.")
    return centre.astype(np.float32), flat_to_zero(centre, spread).astype(np.float32)


def flat_to_zero(centre: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """``spread`` with 0 for rows constant up to float noise (``spread <= 1e-12 max(1, |centre|)``): they normalise to 0."""
    return np.where(spread <= 1e-12 * np.maximum(1.0, np.abs(centre)), 0.0, spread)


def cross_domain_item_weights(item_domain: np.ndarray, target: int, cross_domain_weight: float) -> np.ndarray:
    """History weight of every item when recommending in domain ``target``.

    Items of the target domain weigh 1; items of every other domain weigh
    ``cross_domain_weight`` (0 ignores them, 1 treats all domains alike).
    """
    return np.where(item_domain == target, 1.0, cross_domain_weight).astype(np.float32)


# ---------------------------------------------------------------------------- weights
def default_weights(components: Iterable[tuple[str, Any]], ordered: bool = True) -> dict[str, float]:
    """Blend weights when none are given: each component's declared ``default_weight``.

    On unordered interactions (``ordered=False``) a component that reads the order of the
    events (``reads_order()``: the sequence tower) gets 0: it would learn from row order.
    """
    return {name: 0.0 if not ordered and comp.reads_order() else float(comp.default_weight)
            for name, comp in components}


def check_weights(
    weights: Any, names: list[str], defaults: Mapping[str, float] | None = None, where: str = _WEIGHTS
) -> dict[str, float]:
    """Validate blend weights; components that are not named get weight 0.

    ``weights=None`` takes ``defaults``. Raises ``ValueError`` (its message starting with
    ``where``) for a non-mapping, unknown names, negative, non-finite or non-numeric weights,
    and all-zero weights.
    """
    if weights is None:
        weights = {name: (defaults or {}).get(name, 1.0) for name in names}
    if not isinstance(weights, Mapping):
        raise ValueError(f"{where} must be a dict of component name -> weight. Got {weights!r} instead.")
    unknown = sorted(set(weights) - set(names), key=str)
    if unknown:
        raise ValueError(f"{where} names unknown components {unknown}. Known components: {names}.")
    out = {}
    for name in names:
        value = weights.get(name, 0.0)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{where}: the weight of {name!r} must be a finite number >= 0. Got {value!r} instead.")
        out[name] = float(value)
    if not any(out.values()):
        raise ValueError(f"{where} must give at least one component a weight > 0. Got {dict(weights)!r} instead.")
    return out


def call_weights(weights: Any, fitted: list[str], configured: list[str], method: str) -> dict[str, float] | None:
    """Validate per-call weights against the fitted components (``None`` stays ``None``).

    ``configured`` are the recommender's component names: one of them that was not fitted
    (weight 0 at fit time) may be named with weight 0, but a weight > 0 for it is an error.
    """
    if weights is None:
        return None
    if isinstance(weights, Mapping):
        idle = sorted(n for n, w in weights.items() if n not in fitted and n in configured and w)
        if idle:
            raise ValueError(
                f"The 'weights' parameter of {method} gives a weight to {idle}, which were not fitted "
                "(their weight was 0 at fit time). Refit with a weight > 0 for them."
            )
        weights = {n: w for n, w in weights.items() if n in fitted or n not in configured}
    return check_weights(weights, fitted, where=f"The 'weights' parameter of {method}")


def query_weights(text_weights: Mapping[str, float] | None, components: Mapping[str, Any]) -> dict[str, float] | None:
    """Weights for users known only by a text, restricted to ``components`` (the fitted ones).

    ``text_weights=None`` takes each component's declared ``query_weight``. Returns None when no
    fitted component gets a weight > 0 (such users are then blended with the model's weights).
    """
    if text_weights is None:
        wanted = {name: float(comp.query_weight) for name, comp in components.items()}
    else:
        wanted = check_weights(text_weights, sorted(set(text_weights) | set(components), key=str),
                               where="The 'text_weights' parameter of HybridRecommender")
    chosen = {n: w for n, w in wanted.items() if n in components}
    return chosen if any(chosen.values()) else None


def scored_names(weights: Mapping[str, float], extra: Mapping[str, float] | None = None) -> list[str]:
    """Components whose scores a blend needs: those with a weight > 0 in ``weights`` or ``extra``."""
    extra = extra or {}
    return [n for n in dict.fromkeys([*weights, *extra]) if weights.get(n, 0.0) or extra.get(n, 0.0)]


# ---------------------------------------------------------------------------- the blend
def _used(parts: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> dict[str, float]:
    used = {name: float(weights.get(name, 0.0)) for name in parts if weights.get(name, 0.0)}
    if not used:
        raise ValueError("The blend has no component with a weight > 0 among the scores given.")
    return used


def _deferral_scale(parts: Mapping[str, np.ndarray], used: Mapping[str, float]) -> np.ndarray | None:
    """Per entry ``full / known``: the total weight over the weight of the components that score it.

    None when every component scores every entry. 0 where no weighted component can score.
    """
    missing = None
    for name, w in used.items():
        gaps = np.isnan(parts[name])
        if gaps.any():
            missing = np.zeros(gaps.shape, dtype=np.float32) if missing is None else missing
            missing += w * gaps
    if missing is None:
        return None
    known = sum(used.values()) - missing
    return np.divide(sum(used.values()), known, out=np.zeros_like(known), where=known > 0)


def effective_weights(parts: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> dict[str, Any]:
    """Each weighted component's weight per score entry, after deferral.

    A component marks the items it cannot score with NaN. For such an entry its weight goes to
    the components that can score it, in proportion to their weights, so the weights still
    add up to the full total: the missing score is taken as the weighted mean of the others.
    Returns ``name -> weight`` (a float where nothing is missing, else an array shaped like the
    scores, 0 at the component's own gaps). ``blend(parts, weights)`` equals the sum of
    ``weight * score`` over the components, gaps counted as 0.
    """
    used = _used(parts, weights)
    scale = _deferral_scale(parts, used)
    if scale is None:
        return used
    return {name: np.where(np.isnan(parts[name]), 0.0, w * scale).astype(np.float32) for name, w in used.items()}


def blend(parts: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of normalised component scores, with deferral for the items a component cannot score.

    Parameters
    ----------
    parts : dict of str -> ndarray
        Normalised scores per component, all of one shape; NaN where the component has no
        signal for the item. Components without a weight are ignored.
    weights : dict of str -> float

    Returns
    -------
    ndarray
        ``sum_c w_c * s_c`` where every component scores; where some cannot, the others'
        weights are scaled up to the full total (see :func:`effective_weights`). An item no
        weighted component can score gets 0.
    """
    used = _used(parts, weights)
    total = np.zeros_like(np.asarray(parts[next(iter(used))], dtype=np.float32))
    for name, w in used.items():
        scores = parts[name]
        gaps = np.isnan(scores)
        total += w * np.where(gaps, 0.0, scores) if gaps.any() else w * scores
    scale = _deferral_scale(parts, used)
    if scale is not None:
        total *= scale
    return total


def row_weights(names: Iterable[str], weights: Mapping[str, float], query: Mapping[str, float] | None,
                text_only: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's weight per component, as :func:`blend_users` applies them: ``query`` for text-only rows."""
    chosen = weights if query is None else query
    return {n: np.where(text_only, chosen.get(n, 0.0), weights.get(n, 0.0)) for n in names}


def blend_users(
    parts: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    query: Mapping[str, float] | None = None,
    text_only: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`blend` per user row: rows of users known only by a text use the ``query`` weights.

    ``text_only`` is a boolean mask over the rows (see ``UserBatch.text_only``); with
    ``query=None`` every row uses ``weights``.
    """
    scores = blend(parts, weights)
    if query is not None and text_only is not None and text_only.any():
        scores[text_only] = blend({n: p[text_only] for n, p in parts.items()}, query)
    return scores
