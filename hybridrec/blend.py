"""Score normalisation, blend weights and cross-domain weighting."""
from __future__ import annotations

import numbers
from typing import Mapping

import numpy as np

#: Per-user normalisations applied to every component's scores over a domain's items.
NORMALIZATIONS = ("zscore", "minmax", "none")


def normalize_scores(scores: np.ndarray, method: str, reference: np.ndarray | None = None) -> np.ndarray:
    """Normalise each row (one user's scores over a domain's items).

    ``"zscore"`` subtracts the row mean and divides by the row standard deviation;
    ``"minmax"`` maps the row onto [0, 1]; ``"none"`` returns the scores unchanged. The
    statistics come from the ``reference`` columns (a boolean mask; default all), so items
    added after fitting can be scored without moving the scores of the items that were there.
    A constant row (a component that knows nothing about this user) becomes all zeros, so it
    adds nothing to the blend instead of dividing by zero.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if method == "none":
        return scores
    centre, spread = normalization_stats(scores, method, reference)
    out = scores - centre
    np.divide(out, spread, out=out, where=spread > 0)
    out[np.broadcast_to(spread == 0, out.shape)] = 0.0
    return out


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
    spread = np.where(spread <= 1e-12 * np.maximum(1.0, np.abs(centre)), 0.0, spread).astype(np.float32)
    return centre.astype(np.float32), spread


def cross_domain_item_weights(item_domain: np.ndarray, target: int, cross_domain_weight: float) -> np.ndarray:
    """History weight of every item when recommending in domain ``target``.

    Items of the target domain weigh 1; items of every other domain weigh
    ``cross_domain_weight`` (0 ignores them, 1 treats all domains alike).
    """
    return np.where(item_domain == target, 1.0, cross_domain_weight).astype(np.float32)


def check_weights(weights: Mapping[str, float] | None, names: list[str], defaults: Mapping[str, float]) -> dict[str, float]:
    """Validate blend weights; components that are not named get weight 0.

    Raises ``ValueError`` for unknown names, negative or non-finite weights, and all-zero weights.
    """
    if weights is None:
        weights = {name: defaults.get(name, 1.0) for name in names}
    if not isinstance(weights, Mapping):
        raise ValueError(
            f"The 'weights' parameter of HybridRecommender must be a dict of component name -> weight. "
            f"Got {weights!r} instead."
        )
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(
            f"The 'weights' parameter of HybridRecommender names unknown components {unknown}. "
            f"Known components: {names}."
        )
    out = {}
    for name in names:
        value = weights.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ValueError(
                f"The 'weights' parameter of HybridRecommender must map {name!r} to a finite float >= 0. "
                f"Got {value!r} instead."
            )
        out[name] = float(value)
    if not any(out.values()):
        raise ValueError(
            "The 'weights' parameter of HybridRecommender must give at least one component a weight > 0. "
            f"Got {dict(weights)!r} instead."
        )
    return out
