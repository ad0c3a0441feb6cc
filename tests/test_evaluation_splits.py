"""Splits: no leaks, seeds, protocol-specific guarantees, on the sample and on Amazon Food-Kitchen."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_dataset

import hybridrec as hr
from hybridrec.evaluation import (
    Split,
    cold_item_split,
    cold_user_split,
    cross_domain_split,
    leave_last_split,
    random_split,
)


@pytest.fixture(scope="module")
def amazon() -> hr.datasets.Dataset:
    """Amazon Food-Kitchen cut to the valid + test users and 2,000 other users (seeded)."""
    ds = hr.datasets.load_amazon_food_kitchen(shared_dataset("amazon_food_kitchen_llmcdsr"))
    inter = ds.interactions
    evaluated = inter.loc[inter["split"].isin(["valid", "test"]), "user_id"].unique()
    others = inter.loc[~inter["user_id"].isin(evaluated), "user_id"].unique()
    chosen = np.random.default_rng(0).choice(others, size=2000, replace=False)
    keep = inter["user_id"].isin(np.concatenate([evaluated, chosen]))
    return hr.datasets.Dataset(inter[keep], ds.items, None, "amazon_subset")


def _pairs(frame: pd.DataFrame | None) -> set:
    return set() if frame is None else set(zip(frame["user_id"], frame["item_id"]))


def _parts(split: Split) -> list[pd.DataFrame]:
    return [f for f in (split.train, split.test, split.valid, split.fold_in, split.fold_in_valid) if f is not None]


def assert_no_leak(split: Split, original: pd.DataFrame, complete: bool = True) -> None:
    """Held-out rows never reach train: disjoint rows and disjoint (user, item) pairs."""
    parts = _parts(split)
    index = np.concatenate([p.index.to_numpy() for p in parts])
    assert len(index) == len(set(index)), "a row is in two parts of the split"
    if complete:
        assert sorted(index) == sorted(original.index), "rows were lost or invented"
    train = _pairs(split.train)
    for held in (split.test, split.valid):
        assert not train & _pairs(held), "a held-out (user, item) pair is also in train"
    assert not _pairs(split.test) & _pairs(split.valid)
    for part in parts:  # rows are the original rows, unchanged
        pd.testing.assert_frame_equal(part, original.loc[part.index])


def _same(a: Split, b: Split) -> bool:
    return all(
        (x is None and y is None) or (x is not None and y is not None and x.index.equals(y.index))
        for x, y in zip(_parts(a) + [a.test], _parts(b) + [b.test])
    )


# ---------------------------------------------------------------------------- random
def test_random_split_sample(sample):
    inter = sample.interactions
    split = random_split(inter, test_size=0.2, valid_size=0.1, seed=3, items=sample.items)
    assert split.protocol == "random" and split.seed == 3 and split.items is sample.items
    assert_no_leak(split, inter)
    assert len(split.test) / len(inter) == pytest.approx(0.2, abs=0.02)
    assert len(split.valid) / len(inter) == pytest.approx(0.1, abs=0.02)
    train_users = set(split.train["user_id"])
    assert set(split.test["user_id"]) <= train_users and set(split.valid["user_id"]) <= train_users
    single = inter.groupby("user_id").size().loc[lambda s: s < 2].index
    assert len(single) and set(single) <= train_users and not set(single) & set(split.test["user_id"])
    # per user: test count = round-half-up(0.2 n), capped at n - 1
    n = inter.groupby("user_id").size()
    got = split.test.groupby("user_id").size().reindex(n.index, fill_value=0)
    assert (got == np.minimum(np.floor(0.2 * n + 0.5), n - 1)).all()


def test_random_split_keeps_repeated_pairs_together():
    inter = pd.DataFrame({"user_id": [1] * 6 + [2] * 6, "item_id": [1, 1, 2, 3, 4, 5] * 2})
    for seed in range(10):
        split = random_split(inter, test_size=0.4, seed=seed)
        assert_no_leak(split, inter)


def test_seeds_reproduce_and_differ(sample):
    inter = sample.interactions
    for make in (
        lambda s: random_split(inter, seed=s),
        lambda s: cold_user_split(inter, seed=s, valid_size=0.1),
        lambda s: cold_item_split(inter, sample.items, domain="family", seed=s),
        lambda s: cross_domain_split(inter, sample.items, "family", seed=s),
    ):
        assert _same(make(1), make(1))
        assert not _same(make(1), make(2))


# ---------------------------------------------------------------------------- leave last
def test_leave_last_picks_max_timestamp(sample):
    inter = sample.interactions
    split = leave_last_split(inter)
    assert_no_leak(split, inter)
    last = inter.groupby("user_id")["timestamp"].max()
    assert (split.test.set_index("user_id")["timestamp"] == last.reindex(split.test["user_id"])).all()
    assert split.test["user_id"].is_unique and split.valid["user_id"].is_unique
    # the valid row is the latest of the rest (second-last overall)
    rest = pd.concat([split.train, split.valid])
    second = rest.groupby("user_id")["timestamp"].max()
    assert (split.valid.set_index("user_id")["timestamp"] == second.reindex(split.valid["user_id"])).all()


def test_leave_last_ties_and_missing_timestamp_use_row_order():
    inter = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "item_id": [10, 11, 12, 10, 13, 14], "timestamp": [5, 9, 9, 1, 0, 3]})
    split = leave_last_split(inter, valid=True)
    assert split.test["item_id"].tolist() == [12, 10]  # tie at 9 -> the later row; user 3 has 1 row
    assert split.valid["item_id"].tolist() == [11]  # user 2 has only 2 rows: no valid row
    no_time = leave_last_split(inter.drop(columns="timestamp"), valid=False)
    assert no_time.test["item_id"].tolist() == [12, 13] and no_time.valid is None


def test_leave_last_amazon_matches_is_last(amazon):
    inter = amazon.interactions
    test_users = inter.loc[inter["split"] == "test", "user_id"].unique()
    valid_users = inter.loc[inter["split"] == "valid", "user_id"].unique()
    split = leave_last_split(inter, test_users=test_users, valid_users=valid_users)
    assert_no_leak(split, inter)
    assert split.test["is_last"].all() and set(split.test["user_id"]) == set(test_users)
    assert split.valid["is_last"].all() and set(split.valid["user_id"]) == set(valid_users)
    assert split.train["is_last"].sum() == inter["user_id"].nunique() - len(test_users) - len(valid_users)


# ---------------------------------------------------------------------------- cold user
def test_cold_user_split(sample):
    inter = sample.interactions
    split = cold_user_split(inter, test_size=0.1, valid_size=0.05, n_given=3, seed=0)
    assert_no_leak(split, inter)
    held_users = set(split.test["user_id"]) | set(split.valid["user_id"])
    assert not held_users & set(split.train["user_id"]), "cold users must have no train rows"
    assert not set(split.test["user_id"]) & set(split.valid["user_id"])
    assert set(split.fold_in["user_id"]) == set(split.test["user_id"])
    assert (split.fold_in.groupby("user_id").size() == 3).all()
    eligible = (inter.groupby("user_id").size() > 3).sum()
    assert split.test["user_id"].nunique() == int(np.floor(0.1 * eligible + 0.5))
    # the revealed rows are the earliest ones
    latest_given = split.fold_in.groupby("user_id")["timestamp"].max()
    earliest_test = split.test.groupby("user_id")["timestamp"].min()
    assert (latest_given <= earliest_test.reindex(latest_given.index)).all()


# ---------------------------------------------------------------------------- cold item
def test_cold_item_split(sample):
    inter, items = sample.interactions, sample.items
    split = cold_item_split(inter, items, domain="thriller", frac=0.1, seed=0)
    assert_no_leak(split, inter, complete=False)
    family = items.loc[items["domain"] == "thriller", "item_id"]
    assert len(split.cold_items) == int(np.floor(0.1 * len(family) + 0.5))
    assert set(split.cold_items) <= set(family)
    assert not set(split.train["item_id"]) & set(split.cold_items), "cold items must leave train entirely"
    assert set(split.test["item_id"]) <= set(split.cold_items)
    assert set(split.test["user_id"]) <= set(split.train["user_id"])
    dropped = inter.index.difference(split.train.index).difference(split.test.index)
    assert not set(inter.loc[dropped, "user_id"]) & set(split.train["user_id"])
    assert split.candidates is None and split.target_domain == "thriller"
    every = cold_item_split(inter, items, frac=0.05, seed=0)
    assert set(every.cold_items) <= set(items["item_id"])
    assert len(every.cold_items) == int(np.floor(0.05 * len(items) + 0.5))


def test_cold_item_drops_users_known_only_by_cold_items():
    items = pd.DataFrame({"item_id": [1, 2, 3], "domain": ["x", "x", "y"]})
    inter = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 3, 2, 3]})
    split = cold_item_split(inter, items, domain="x", frac=1.0)
    assert sorted(split.cold_items) == [1, 2]
    assert split.train.index.tolist() == [1, 3] and split.test.index.tolist() == [0]  # row 2 (user 2) dropped


# ---------------------------------------------------------------------------- cross domain
def _check_cross_domain(split: Split, inter: pd.DataFrame, items: pd.DataFrame, target: str) -> None:
    domain = items.set_index("item_id")["domain"]
    assert_no_leak(split, inter)
    for held in (split.test, split.valid):
        users = set(held["user_id"])
        assert (held["item_id"].map(domain) == target).all()
        train_of_held = split.train[split.train["user_id"].isin(users)]
        assert not (train_of_held["item_id"].map(domain) == target).any(), "target rows of a held-out user in train"
        # their other-domain history is all kept in train
        other = inter[inter["user_id"].isin(users) & (inter["item_id"].map(domain) != target)]
        assert set(other.index) <= set(train_of_held.index) and set(train_of_held["user_id"]) == users
    assert set(split.candidates) == set(items.loc[items["domain"] == target, "item_id"])


def test_cross_domain_split_sample(sample):
    inter, items = sample.interactions, sample.items
    split = cross_domain_split(inter, items, "family", test_size=0.1, valid_size=0.1, seed=0)
    _check_cross_domain(split, inter, items, "family")
    by_user = inter.assign(t=inter["item_id"].map(items.set_index("item_id")["domain"]) == "family").groupby("user_id")["t"]
    overlap = (by_user.any() & ~by_user.all()).sum()
    assert split.test["user_id"].nunique() == int(np.floor(0.1 * overlap + 0.5))
    assert not set(split.test["user_id"]) & set(split.valid["user_id"])


def test_cross_domain_split_amazon(amazon):
    inter, items = amazon.interactions, amazon.items
    test_users = inter.loc[inter["split"] == "test", "user_id"].unique()
    valid_users = inter.loc[inter["split"] == "valid", "user_id"].unique()
    for target in ("kitchen", "food"):
        split = cross_domain_split(inter, items, target, test_users=test_users, valid_users=valid_users)
        _check_cross_domain(split, inter, items, target)
        assert set(split.test["user_id"]) == set(test_users) and set(split.valid["user_id"]) == set(valid_users)


# ---------------------------------------------------------------------------- validation
def test_bad_inputs_raise_naming_the_parameter(sample):
    inter, items = sample.interactions, sample.items
    with pytest.raises(ValueError, match="user_col"):
        random_split(inter, user_col="uid")
    with pytest.raises(ValueError, match="test_size"):
        random_split(inter, test_size=1.5)
    with pytest.raises(ValueError, match="test_size"):
        random_split(inter, test_size=0.6, valid_size=0.5)
    with pytest.raises(ValueError, match="seed"):
        random_split(inter, seed="0")
    with pytest.raises(ValueError, match="interactions"):
        random_split(inter.iloc[:0])
    with pytest.raises(ValueError, match="interactions"):
        random_split(inter.to_dict())
    with pytest.raises(ValueError, match="n_given"):
        cold_user_split(inter, n_given=-1)
    with pytest.raises(ValueError, match="'domain'.*family"):
        cold_item_split(inter, items, domain="books")
    with pytest.raises(ValueError, match="frac"):
        cold_item_split(inter, items, frac=0)
    with pytest.raises(ValueError, match="domain_col"):
        cold_item_split(inter, items.drop(columns="domain"), domain="family")
    with pytest.raises(ValueError, match="'target_domain'"):
        cross_domain_split(inter, items, "books")
    with pytest.raises(ValueError, match="missing from items"):
        cross_domain_split(inter, items.iloc[10:], "family")
    with pytest.raises(ValueError, match="share"):
        cross_domain_split(inter, items, "family", test_users=[1, 2], valid_users=[2, 3])
    with pytest.raises(ValueError, match="test_users"):
        leave_last_split(inter, test_users=["nobody"])
    with pytest.raises(ValueError, match="protocol"):
        Split(inter, inter, None, None, None, "bogus", 0)


def test_protocol_defaults_live_in_the_splitters(sample):
    from hybridrec.evaluation import make_split, protocol_defaults

    assert protocol_defaults("random") == {"test_size": 0.2, "valid_size": 0.0}
    assert protocol_defaults("cold_user")["n_given"] == 3
    assert protocol_defaults("cross_domain")["test_size"] == 0.1
    split, used = make_split("cross_domain", sample.interactions, items=sample.items, seed=1, target_domain="family")
    assert split.protocol == "cross_domain" and split.target_domain == "family"
    assert used["target_domain"] == "family" and used["valid_size"] == 0.1
    direct = cross_domain_split(sample.interactions, sample.items, "family", seed=1)
    assert split.test.index.equals(direct.test.index)
    with pytest.raises(ValueError, match="no parameters \\['colour'\\]"):
        make_split("random", sample.interactions, colour="red")


def test_official_users_come_from_the_split_column(sample):
    from hybridrec.datasets import Dataset, official_users

    frame = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 1, 3], "split": ["train", "test", "valid", "test"]})
    assert official_users(Dataset(frame, sample.items, name="toy")) == ([1, 3], [2])
    with pytest.raises(ValueError, match="no 'split' column"):
        official_users(sample)
