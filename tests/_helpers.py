"""Small helpers shared by the test modules (no fixtures here; those live in conftest.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Packages whose frames must never be where a user-facing error is raised.
FOREIGN_PACKAGES = ("lightfm", "implicit", "torch", "sentence_transformers", "transformers", "threadpoolctl")


def assert_raised_by_us(excinfo) -> None:
    """The exception was raised by hybridrec (or sklearn's check_is_fitted), not deep in a dependency.

    Looks at every frame of the raised exception's own traceback: none may belong to LightFM,
    implicit, torch or sentence-transformers. (A chained ``raise ... from exc`` is fine: the
    user sees our message first.)
    """
    for entry in excinfo.traceback:
        parts = Path(str(entry.path)).parts
        if "site-packages" in parts:
            package = parts[parts.index("site-packages") + 1]
            assert package not in FOREIGN_PACKAGES, (
                f"{excinfo.typename} was raised from inside {package} ({entry.path}:{entry.lineno}): "
                f"{excinfo.value}"
            )


def holdout_split(interactions: pd.DataFrame, fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide a seeded random ``fraction`` of every user's interactions (at least one per user with 5+).

    Returns ``(train, test)``; every test row's user keeps at least one training interaction.
    """
    rng = np.random.default_rng(seed)
    key = pd.Series(rng.random(len(interactions)), index=interactions.index)
    position = key.groupby(interactions["user_id"]).rank(method="first")
    size = interactions.groupby("user_id")["item_id"].transform("size")
    hidden = (position <= np.floor(fraction * size)).to_numpy()
    return interactions[~hidden], interactions[hidden]


def recall_at_k(recs: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> tuple[float, float]:
    """Mean recall@k and hit rate@k of a ``recommend`` frame against held-out ``truth`` rows."""
    relevant = truth.groupby("user_id")["item_id"].apply(set)
    top = recs[recs["rank"] <= k].groupby("user_id")["item_id"].apply(set).reindex(relevant.index)
    hits = np.array([len(r & (t if isinstance(t, set) else set())) for r, t in zip(relevant, top)])
    sizes = relevant.map(len).to_numpy()
    return float(np.mean(hits / sizes)), float(np.mean(hits > 0))


def user_history(data, user_id) -> np.ndarray:
    """Inner item indices a fitted model saw for ``user_id``."""
    row = data.user_index([user_id])[0]
    return data.matrix[row].indices
