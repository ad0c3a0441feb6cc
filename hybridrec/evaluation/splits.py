"""Seeded train/test splits for the evaluation protocols of DESIGN.md.

Every splitter takes an interactions DataFrame (one row per event), returns a :class:`Split`
whose frames keep the input's columns and index (so rows can be traced back), and never puts
a held-out row in ``train``. Randomness comes from ``numpy.random.default_rng(seed)`` only:
the same input (same row order) and seed give the same split.
"""
from __future__ import annotations

import logging
import numbers
from typing import Hashable, Iterable

import numpy as np
import pandas as pd

from .._validation import check_fraction, preview
from ..sequences import order_codes
from ._splitting import (
    PROTOCOLS,
    Split,
    check_domain,
    check_interactions,
    check_sizes,
    id_set,
    item_domains,
    make_rng,
    positions,
    round_half_up,
    split_from_parts,
)

logger = logging.getLogger(__name__)

__all__ = ["PROTOCOLS", "Split", "cold_item_split", "cold_user_split", "cross_domain_split", "leave_last_split",
           "random_split"]



# ---------------------------------------------------------------------------- splitters
def random_split(
    interactions: pd.DataFrame,
    test_size: float = 0.2,
    valid_size: float = 0.0,
    seed: int | None = 0,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> Split:
    """Per-user random holdout of a fraction of each user's items.

    For a user with ``n`` distinct items, ``round(test_size * n)`` go to test and
    ``round(valid_size * n)`` to valid (rounding half up), capped so that at least one stays in
    train. Users with fewer than 2 distinct items stay entirely in train. Repeated rows of one
    (user, item) pair always land on the same side, so no pair is both trained on and held out.

    Parameters
    ----------
    interactions : DataFrame
        ``user_col``, ``item_col`` and any other columns (kept).
    test_size, valid_size : float
        Fractions of each user's items; ``test_size > 0`` and ``test_size + valid_size < 1``.
    seed : int or None, default=0
    items, users : DataFrame, optional
        Passed through to the Split.
    user_col, item_col : str

    Returns
    -------
    Split
    """
    method = "random_split"
    frame = check_interactions(interactions, method, user_col=user_col, item_col=item_col)
    test_size, valid_size = check_sizes(test_size, valid_size, method)
    rng = make_rng(seed, method)
    pair = frame.groupby([user_col, item_col], sort=False).ngroup().to_numpy()
    first = np.unique(pair, return_index=True)[1]
    pair_user = pd.factorize(frame[user_col].to_numpy()[first])[0]
    position, n = positions(pair_user, rng.random(len(first)))
    n_test = np.minimum(round_half_up(test_size * n), n - 1)
    n_valid = np.clip(np.minimum(round_half_up(valid_size * n), n - 1 - n_test), 0, None)
    pair_part = np.where(position < n_test, 1, np.where(position < n_test + n_valid, 2, 0))
    return split_from_parts(frame, pair_part[pair], items=items, users=users, protocol="random", seed=seed,
                  user_col=user_col, item_col=item_col)


def leave_last_split(
    interactions: pd.DataFrame,
    timestamp_col: str | None = "timestamp",
    test_users: Iterable[Hashable] | None = None,
    valid_users: Iterable[Hashable] | None = None,
    valid: bool = True,
    seed: int | None = 0,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> Split:
    """Hold out each evaluated user's last interaction (warm next-item protocol).

    Order: by ``timestamp_col`` (any sortable column; missing values raise), ties by row order;
    when the column is absent (or None), row order. Nothing is random; ``seed`` is only recorded.

    - test: the last interaction of every user in ``test_users`` (all users when None);
    - valid (``valid=True``): for each user in ``valid_users`` (default: the test users), the
      second-last interaction if the user is also a test user, else the last one;
    - train: everything else. Users with fewer than 2 interactions (3 for a test user's valid
      row) are not evaluated, so every evaluated user keeps at least one train interaction.

    For Amazon Food-Kitchen pass ``test_users`` = the users of split ``"test"`` and
    ``valid_users`` = those of split ``"valid"``. An earlier interaction with the held-out item
    (repeat consumption) stays in train, so that target is excluded at evaluation.

    Parameters
    ----------
    interactions : DataFrame
        ``user_col``, ``item_col`` and any other columns (kept).
    timestamp_col : str or None, default="timestamp"
        The column that orders each user's interactions.
    test_users, valid_users : iterable of user ids, optional
        The users evaluated on test (default all) and on valid (default the test users); ids
        without interactions are ignored with a warning.
    valid : bool, default=True
        Whether to hold out valid rows.
    seed : int or None, default=0
        Recorded only.
    items, users : DataFrame, optional
        Passed through to the Split.
    user_col, item_col : str

    Returns
    -------
    Split
    """
    method = "leave_last_split"
    frame = check_interactions(interactions, method, user_col=user_col, item_col=item_col)
    make_rng(seed, method)
    if timestamp_col is not None and timestamp_col not in frame.columns:
        logger.warning("%s: no column %r in interactions; using row order.", method, timestamp_col)
    key = order_codes(frame, timestamp_col, "interactions")
    codes, known = pd.factorize(frame[user_col])
    position, n = positions(codes, np.zeros(len(frame), np.int64) if key is None else key)
    from_end = n - 1 - position
    user_values = frame[user_col]
    test_set = id_set(test_users, "test_users", pd.Index(known), method)
    is_test_user = np.ones(len(frame), bool) if test_set is None else user_values.isin(test_set).to_numpy()
    part = np.where(is_test_user & (from_end == 0) & (n >= 2), 1, 0)
    if valid:
        valid_set = id_set(valid_users, "valid_users", pd.Index(known), method)
        is_valid_user = is_test_user if valid_set is None else user_values.isin(valid_set).to_numpy()
        both = is_valid_user & is_test_user & (from_end == 1) & (n >= 3)
        only = is_valid_user & ~is_test_user & (from_end == 0) & (n >= 2)
        part[both | only] = 2
    return split_from_parts(frame, part, items=items, users=users, protocol="leave_last", seed=seed,
                  user_col=user_col, item_col=item_col)


def cold_user_split(
    interactions: pd.DataFrame,
    test_size: float = 0.1,
    valid_size: float = 0.0,
    n_given: int = 3,
    seed: int | None = 0,
    *,
    timestamp_col: str | None = "timestamp",
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> Split:
    """Remove a seeded fraction of users from training; reveal ``n_given`` of their interactions.

    Among the users with more than ``n_given`` interactions, ``round(test_size * n)`` are drawn
    as test users and ``round(valid_size * n)`` others as valid users. Each has no row in train:
    their first ``n_given`` interactions (earliest by ``timestamp_col``, ties by row order; a
    seeded random order when the column is absent) go to ``fold_in`` (``fold_in_valid``) and
    the rest to ``test`` (``valid``). Score them with the model's ``score_new``.

    Parameters
    ----------
    interactions : DataFrame
        ``user_col``, ``item_col`` and any other columns (kept).
    test_size, valid_size : float
        Fractions of the eligible users (default 0.1 and 0.0); ``test_size > 0`` and
        ``test_size + valid_size < 1``.
    n_given : int, default=3
        Interactions revealed per test (valid) user.
    seed : int or None, default=0
    timestamp_col : str or None, default="timestamp"
        The column that orders each user's interactions.
    items, users : DataFrame, optional
        Passed through to the Split.
    user_col, item_col : str

    Returns
    -------
    Split
    """
    method = "cold_user_split"
    frame = check_interactions(interactions, method, user_col=user_col, item_col=item_col)
    test_size, valid_size = check_sizes(test_size, valid_size, method)
    if isinstance(n_given, (bool, np.bool_)) or not isinstance(n_given, numbers.Integral) or n_given < 0:
        raise ValueError(f"The 'n_given' parameter of {method} must be an int >= 0. Got {n_given!r} instead.")
    rng = make_rng(seed, method)
    codes, known = pd.factorize(frame[user_col])
    counts = np.bincount(codes)
    eligible = np.flatnonzero(counts > n_given)
    n_test = max(1, int(round_half_up(test_size * len(eligible))))
    n_valid = min(int(round_half_up(valid_size * len(eligible))), len(eligible) - n_test)
    if len(eligible) < 2 or n_test >= len(eligible):
        raise ValueError(
            f"{method}: only {len(eligible)} users have more than n_given={n_given} interactions; "
            f"test_size={test_size} leaves none of them for training. Lower n_given or test_size."
        )
    drawn = eligible[rng.permutation(len(eligible))]
    role = np.zeros(len(known), np.int64)
    role[drawn[:n_test]] = 1
    role[drawn[n_test:n_test + n_valid]] = 2
    key = order_codes(frame, timestamp_col, "interactions")
    position, _ = positions(codes, rng.random(len(frame)) if key is None else key)
    row_role = role[codes]
    given = position < n_given
    part = np.select([row_role == 0, given & (row_role == 1), given & (row_role == 2)], [0, 4, 5], row_role)
    return split_from_parts(frame, part, items=items, users=users, protocol="cold_user", seed=seed,
                  user_col=user_col, item_col=item_col)


def cold_item_split(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    domain: str | None = None,
    frac: float = 0.1,
    seed: int | None = 0,
    *,
    users: pd.DataFrame | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    domain_col: str = "domain",
) -> Split:
    """Remove a seeded fraction of one domain's catalogue items from training entirely.

    ``round(frac * n)`` (at least 1) of the ``n`` items of ``domain`` in ``items`` (all items
    when ``domain`` is None) are drawn as cold items. Every interaction with them leaves train;
    those of users who still have train interactions form ``test``, the others (users known only
    through cold items) are dropped and counted in the log. ``Split.cold_items`` holds the cold
    item ids; ``candidates`` stays None (rank all items of the domain) and ``evaluate`` can be
    told ``candidates=split.cold_items`` to rank the cold items only.

    Parameters
    ----------
    interactions : DataFrame
        ``user_col``, ``item_col`` and any other columns (kept).
    items : DataFrame
        The catalogue (one row per item, with ``domain_col`` when ``domain`` is given); every
        interacted item must be in it.
    domain : str, optional
        The domain whose items are drawn; default all items.
    frac : float, default=0.1
        Fraction of the pool drawn as cold items, in (0, 1].
    seed : int or None, default=0
    users : DataFrame, optional
        Passed through to the Split.
    user_col, item_col, domain_col : str

    Returns
    -------
    Split
    """
    method = "cold_item_split"
    frame = check_interactions(interactions, method, user_col=user_col, item_col=item_col)
    frac = check_fraction(frac, "frac", method)
    if frac == 0:
        raise ValueError(f"The 'frac' parameter of {method} must be a float in (0, 1]. Got {frac!r} instead.")
    rng = make_rng(seed, method)
    items, _ = item_domains(frame, items, item_col, None if domain is None else domain_col, method)
    pool = items[item_col].to_numpy()
    if domain is not None:
        check_domain(domain, "domain", items[domain_col].to_numpy(), method)
        pool = pool[items[domain_col].to_numpy() == domain]
    n_cold = max(1, int(round_half_up(frac * len(pool))))
    cold = pool[np.sort(rng.permutation(len(pool))[:n_cold])]
    is_cold = frame[item_col].isin(cold).to_numpy()
    warm_users = pd.unique(frame[user_col].to_numpy()[~is_cold])
    has_train = frame[user_col].isin(warm_users).to_numpy()
    part = np.where(is_cold, np.where(has_train, 1, 3), 0)
    if (part == 3).any():
        logger.info("%s: dropped %d interactions of %d users who interacted only with cold items.",
                    method, int((part == 3).sum()), frame[user_col][part == 3].nunique())
    return split_from_parts(frame, part, items=items, users=users, protocol="cold_item", seed=seed, target_domain=domain,
                  cold_items=cold, user_col=user_col, item_col=item_col, domain_col=domain_col)


def cross_domain_split(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    target_domain: str,
    test_users: Iterable[Hashable] | None = None,
    valid_users: Iterable[Hashable] | None = None,
    test_size: float = 0.1,
    valid_size: float = 0.1,
    seed: int | None = 0,
    *,
    users: pd.DataFrame | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    domain_col: str = "domain",
) -> Split:
    """CD-cold: hide all target-domain interactions of test/valid users; keep their other domains.

    The "overlap" users have interactions in ``target_domain`` and in another domain. When
    ``test_users`` (``valid_users``) is None, ``round(test_size * n)`` (``round(valid_size * n)``)
    of the ``n`` overlap users are drawn (valid users never among the test users). Given ids
    without other-domain interactions are dropped with a warning (a model trained on ``train``
    would not know them). ``test``/``valid`` = those users' target-domain rows; ``train`` =
    everything else, including their other-domain history. ``candidates`` = every item of
    ``target_domain`` in ``items``. For Amazon Food-Kitchen pass the users of split ``"test"``
    and ``"valid"``.

    Parameters
    ----------
    interactions : DataFrame
        ``user_col``, ``item_col`` and any other columns (kept).
    items : DataFrame
        The catalogue, with ``domain_col``; every interacted item must be in it.
    target_domain : str
        The domain held out and evaluated.
    test_users, valid_users : iterable of user ids, optional
        The users evaluated; default drawn from the overlap users.
    test_size, valid_size : float, default=0.1
        Fractions of the overlap users drawn when the users are not given; sum at most 1.
    seed : int or None, default=0
    users : DataFrame, optional
        Passed through to the Split.
    user_col, item_col, domain_col : str

    Returns
    -------
    Split
    """
    method = "cross_domain_split"
    frame = check_interactions(interactions, method, user_col=user_col, item_col=item_col)
    items, row_domain = item_domains(frame, items, item_col, domain_col, method)
    check_domain(target_domain, "target_domain", items[domain_col].to_numpy(), method)
    for name, size in (("test_size", test_size), ("valid_size", valid_size)):
        check_fraction(size, name, method)
    if test_size + valid_size > 1:
        raise ValueError(f"{method}: test_size + valid_size must be <= 1. Got {test_size} + {valid_size}.")
    rng = make_rng(seed, method)
    in_target = row_domain == target_domain
    by_user = pd.DataFrame({"t": in_target, "o": ~in_target}).groupby(frame[user_col].to_numpy(), sort=False).any()
    overlap = by_user.index[by_user["t"] & by_user["o"]]
    chosen: dict[str, pd.Index] = {}
    for name, ids in (("test_users", test_users), ("valid_users", valid_users)):
        if ids is not None:
            wanted = id_set(ids, name, by_user.index, method)
            lacking = wanted.difference(by_user.index[by_user["o"]])
            if len(lacking):
                logger.warning("%s: %d %s have no interactions outside %r and are dropped: %s",
                               method, len(lacking), name, target_domain, preview(lacking))
            chosen[name] = wanted.difference(lacking, sort=False)
    pool = overlap[rng.permutation(len(overlap))]
    for name, size in (("test_users", test_size), ("valid_users", valid_size)):
        if name not in chosen:  # draw from the overlap users nobody took yet
            free = pool[~pool.isin(set().union(*chosen.values()))]
            count = int(round_half_up(size * len(overlap)))
            chosen[name] = free[:max(count, int(name == "test_users" and size > 0))]
    clash = chosen["test_users"].intersection(chosen["valid_users"])
    if len(clash):
        raise ValueError(f"{method}: test_users and valid_users share {len(clash)} users: {preview(clash)}.")
    user_values = frame[user_col]
    part = np.zeros(len(frame), np.int64)
    part[in_target & user_values.isin(chosen["test_users"]).to_numpy()] = 1
    part[in_target & user_values.isin(chosen["valid_users"]).to_numpy()] = 2
    candidates = items[item_col].to_numpy()[items[domain_col].to_numpy() == target_domain]
    return split_from_parts(frame, part, items=items, users=users, protocol="cross_domain", seed=seed,
                  target_domain=target_domain, candidates=candidates, user_col=user_col,
                  item_col=item_col, domain_col=domain_col)
