"""``weights="auto"``: a recommender chooses its own blend on held-out events of its training users.

The steps: hold out events of a seeded sample of training users (their last item by default; a
random item, or a whole domain, with ``auto_target``), fit every component at weight 1 on the rest, choose the
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


def _pick(eligible: np.ndarray, n_users: int, rng: np.random.Generator, why: str) -> np.ndarray:
    if not len(eligible):
        raise ValueError(f"weights='auto' needs {why} to hold events out; none has.")
    return np.sort(rng.choice(eligible, size=min(n_users, len(eligible)), replace=False))


def _held_pairs(data: InteractionData, n_users: int, rng: np.random.Generator, target: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """The (user, item) row indices held out for ``target`` (one of :data:`~hybridrec.model_selection.AUTO_TARGETS`)."""
    distinct = np.diff(data.matrix.indptr)
    if target == "next_item":
        users = _pick(np.flatnonzero((distinct >= 2) & (data.sequences.lengths() >= 2)), n_users, rng,
                      "users with at least two distinct items")
        seq = data.sequences
        return users, seq.items[seq.indptr[users + 1] - 1]
    if target == "random":
        users = _pick(np.flatnonzero(distinct >= 2), n_users, rng, "users with at least two distinct items")
        return users, data.matrix.indices[data.matrix.indptr[users] + rng.integers(0, distinct[users])]
    coo = data.matrix.tocoo()
    n_domains = max(len(data.domains), 1)
    domain = np.asarray(data.item_domain)[coo.col]
    pairs = np.unique(coo.row.astype(np.int64) * n_domains + domain)  # (user, domain), sorted by user
    per_user = np.bincount(pairs // n_domains, minlength=data.n_users)
    users = _pick(np.flatnonzero(per_user >= 2), n_users, rng, "users active in at least two domains")
    first = np.searchsorted(pairs // n_domains, users)
    hidden = np.full(data.n_users, -1)
    hidden[users] = pairs[first + rng.integers(0, per_user[users])] % n_domains
    held = hidden[coo.row] == domain
    return coo.row[held], coo.col[held]


def holdout(data: InteractionData, n_users: int, seed: int | None, target: str = "next_item"
            ) -> tuple[InteractionData, Split]:
    """``data`` without the held-out events of up to ``n_users`` seeded users, and the split that scores them.

    ``target`` says what a held-out event stands for: ``"next_item"`` the user's last item (at
    least two distinct items; one stays as history), ``"random"`` one of the user's items drawn at
    random, ``"cross_domain"`` all the user's items of one of its domains drawn at random (users
    active in two domains or more: they become cold there, and keep the others as history). The
    split's frames hold only those users' rows, which is all
    :func:`~hybridrec.evaluation.evaluate` reads.
    """
    rng = np.random.default_rng(seed)
    users, items = _held_pairs(data, n_users, rng, target)
    rest = data.without_pairs(users, items)
    user_ids, item_ids = data.user_ids.to_numpy(), data.item_ids.to_numpy()
    held_users = np.unique(users)
    history = rest.matrix[held_users].tocoo()
    train = pd.DataFrame({"user_id": user_ids[held_users][history.row], "item_id": item_ids[history.col]})
    test = pd.DataFrame({"user_id": user_ids[users], "item_id": item_ids[items]})
    items_table = pd.DataFrame({"item_id": item_ids, "domain": np.asarray(data.domains, dtype=object)[data.item_domain]})
    split = Split(train=train, test=test, valid=None, items=items_table, users=None, protocol="leave_last", seed=seed)
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
    target = model.auto_target
    rest, split = holdout(data, AUTO_USERS, model.random_state, target)
    trial = clone(model).set_params(weights={n: 1.0 for n in names}, cross_domain_weight=0.5 if cdw == AUTO else cdw,
                                    normalization="zscore" if norm == AUTO else norm)
    trial.fit_data(rest, columns=columns, block_encoders=block_encoders, encoder=encoder)
    fitted = time.perf_counter() - start
    several = len(data.domains) > 1
    grid = (AUTO_CDW if several else (0.5,)) if cdw == AUTO else (float(cdw),)
    found = search_blend(trial, split, users="test", cross_domain_weights=grid,
                         normalizations=AUTO_NORMS if norm == AUTO else (norm,), refit=False)
    report = {
        "target": target, "users": int(split.test["user_id"].nunique()), "heldout_events": int(len(split.test)),
        "weights": found["weights"],
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
