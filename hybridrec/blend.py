"""Score normalisation, blend weights and cross-domain weighting."""
from __future__ import annotations

import numbers
from typing import Mapping

import numpy as np

#: Per-user normalisations applied to every component's scores over a domain's items.
NORMALIZATIONS = ("zscore", "minmax", "none")


def normalize_scores(scores: np.ndarray, method: str) -> np.ndarray:
    """Normalise each row (one user's scores over a domain's items).

    ``"zscore"`` subtracts the row mean and divides by the row standard deviation;
    ``"minmax"`` maps the row onto [0, 1]; ``"none"`` returns the scores unchanged. A constant
    row (a component that knows nothing about this user) becomes all zeros, so it adds nothing
    to the blend instead of dividing by zero.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if method == "none":
        return scores
    if method == "zscore":
        centre = scores.mean(axis=1, keepdims=True)
        spread = scores.std(axis=1, keepdims=True)
    elif method == "minmax":
        centre = scores.min(axis=1, keepdims=True)
        spread = scores.max(axis=1, keepdims=True) - centre
    else:
        raise ValueError(f"The 'normalization' parameter must be one of {list(NORMALIZATIONS)}. Got {method!r} instead.")
    out = scores - centre
    flat = spread <= 1e-12 * np.maximum(1.0, np.abs(centre))
    np.divide(out, spread, out=out, where=~flat)
    out[np.broadcast_to(flat, out.shape)] = 0.0
    return out


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
