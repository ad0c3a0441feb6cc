"""``weights="auto"``: a recommender chooses its own blend on held-out events of its training users.

The steps: hold out the last item of a seeded sample of training users
(:meth:`InteractionData.without_last`), fit every component at weight 1 on the rest, choose the
blend on the held-out items with :func:`~hybridrec.model_selection.search_blend` (the staged
search ``benchmarks/quality.py`` tunes its hybrids with), then fit the chosen components on all
the rows. Nothing but the training rows is ever looked at.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from .data import InteractionData
from .evaluation import Split
from .model_selection import search_blend

logger = logging.getLogger("hybridrec.recommender")

#: Training users whose last item is held out to choose the blend.
AUTO_USERS = 1000
#: The ``cross_domain_weight`` values tried when it is "auto" (and the data has several domains).
AUTO_CDW = (0.0, 0.25, 0.5, 1.0)
#: The normalizations tried when ``normalization`` is "auto".
AUTO_NORMS = ("zscore", "minmax")
AUTO = "auto"


def holdout(data: InteractionData, n_users: int, seed: int | None) -> tuple[InteractionData, Split]:
    """``data`` without the last item of up to ``n_users`` seeded users, and the split that scores them.

    Users qualify with at least two distinct items (one stays as history). The split's frames
    hold only those users' rows, which is all :func:`~hybridrec.evaluation.evaluate` reads.
    """
    distinct = np.diff(data.matrix.indptr)
    eligible = np.flatnonzero((distinct >= 2) & (data.sequences.lengths() >= 2))
    if not len(eligible):
        raise ValueError("weights='auto' needs users with at least two distinct items to hold one out; none has.")
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(eligible, size=min(n_users, len(eligible)), replace=False))
    rest, last = data.without_last(users)
    user_ids, item_ids = data.user_ids.to_numpy(), data.item_ids.to_numpy()
    history = rest.matrix[users].tocoo()
    train = pd.DataFrame({"user_id": user_ids[users][history.row], "item_id": item_ids[history.col]})
    test = pd.DataFrame({"user_id": user_ids[users], "item_id": item_ids[last]})
    items = pd.DataFrame({"item_id": item_ids, "domain": np.asarray(data.domains, dtype=object)[data.item_domain]})
    split = Split(train=train, test=test, valid=None, items=items, users=None, protocol="leave_last", seed=seed)
    return rest, split


def choose_blend(model: Any, data: InteractionData, names: list[str], columns: dict, block_encoders: dict,
                 encoder: Any) -> dict[str, Any]:
    """Fit a copy of ``model`` with the components ``names`` at weight 1 on ``data`` less the held-out
    items; return the chosen blend and the report.

    ``data`` already holds its text block, so the copy encodes nothing.
    """
    from sklearn.base import clone

    cdw, norm = model.cross_domain_weight, model.normalization
    start = time.perf_counter()
    rest, split = holdout(data, AUTO_USERS, model.random_state)
    trial = clone(model).set_params(weights={n: 1.0 for n in names}, cross_domain_weight=0.5 if cdw == AUTO else cdw,
                                    normalization="zscore" if norm == AUTO else norm)
    trial.fit_data(rest, columns=columns, block_encoders=block_encoders, encoder=encoder)
    fitted = time.perf_counter() - start
    several = len(data.domains) > 1
    grid = (AUTO_CDW if several else (0.5,)) if cdw == AUTO else (float(cdw),)
    found = search_blend(trial, split, users="test", cross_domain_weights=grid,
                         normalizations=AUTO_NORMS if norm == AUTO else (norm,), refit=False)
    report = {
        "users": int(len(split.test)), "weights": found["weights"],
        "cross_domain_weight": found["cross_domain_weight"], "normalization": found["normalization"],
        "heldout_ndcg@10": round(found["score"], 6),
        "single": {n: round(v["score"], 6) for n, v in found["single"].items()},
        "evaluated": found["evaluated"], "trial_fit_seconds": round(fitted, 1),
        "search_seconds": round(time.perf_counter() - start - fitted, 1),
    }
    logger.info("weights='auto': %s, cross_domain_weight %s, %s (held-out NDCG@10 %.4f on %d users; best single %.4f)",
                {n: w for n, w in report["weights"].items() if w}, report["cross_domain_weight"],
                report["normalization"], found["score"], report["users"], max(report["single"].values()))
    return report
