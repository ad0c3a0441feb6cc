"""Ordered histories: kept through fit, fold-in, item removal and the evaluation splits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.evaluation import cold_user_split, leave_last_split, random_split
from hybridrec.sequences import Sequences


def raw_sequence(data: hr.InteractionData, user) -> list:
    """A user's events as raw item ids, oldest first."""
    return data.item_ids[data.sequences.user(int(data.user_index([user])[0]))].tolist()


def test_sequences_group_order_slice_and_renumber():
    seq = Sequences.from_events(np.array([1, 0, 1, 1, 0]), np.array([5, 6, 7, 8, 9]), n_users=3,
                                key=np.array([3, 0, 1, 1, 0]))
    assert seq.user(0).tolist() == [6, 9]  # same time: row order
    assert seq.user(1).tolist() == [7, 8, 5]
    assert seq.user(2).tolist() == []
    assert seq.take([1, 2, 0]).user(0).tolist() == [7, 8, 5] and seq.take(slice(0, 1)).user(0).tolist() == [6, 9]
    np.testing.assert_array_equal(seq.last(2), [[6, 9], [8, 5], [-1, -1]])
    keep = np.ones(10, bool)
    keep[[6, 8]] = False
    kept = seq.keep_items(keep)
    assert kept.user(0).tolist() == [8 - 1] and kept.user(1).tolist() == [7 - 1, 5]
    both = seq.append(Sequences.from_events(np.array([0]), np.array([1]), 1))
    assert len(both) == 4 and both.user(3).tolist() == [1]


def test_fit_keeps_each_users_events_in_time_order_or_row_order(sample):
    interactions = sample.interactions.sample(frac=1.0, random_state=0)  # rows out of time order
    by_time = hr.InteractionData.from_frames(interactions, sample.items)
    user = interactions["user_id"].iloc[0]
    rows = interactions[interactions["user_id"] == user]
    assert raw_sequence(by_time, user) == rows.sort_values("timestamp", kind="stable")["item_id"].tolist()
    by_row = hr.InteractionData.from_frames(interactions, sample.items, timestamp_col=None)
    assert raw_sequence(by_row, user) == rows["item_id"].tolist()
    assert by_time.sequences.indptr[-1] == len(interactions)  # every event, repeats included
    partly = interactions.copy()
    partly.loc[rows.index[:2], "timestamp"] = np.nan  # untimed events come after the timed ones
    timed = rows.drop(rows.index[:2]).sort_values("timestamp", kind="stable")["item_id"].tolist()
    with pytest.warns(UserWarning, match=r"\['timestamp'\] is missing at 2 rows; those events are ordered after"):
        untimed_last = hr.InteractionData.from_frames(partly, sample.items)
    assert raw_sequence(untimed_last, user) == timed + rows["item_id"].head(2).tolist()
    with pytest.raises(ValueError, match="every event needs a time"):
        leave_last_split(partly, seed=0)  # where order decides what is held out, a missing time is an error


def test_fold_in_and_item_removal_keep_the_order(sample):
    users = sorted(sample.interactions["user_id"].unique())[:80]
    model = hr.HybridRecommender(weights={"itemknn": 1.0}).fit(
        sample.interactions[sample.interactions["user_id"].isin(users)], items=sample.items)
    items = sample.items["item_id"].head(6).tolist()
    new = pd.DataFrame({"user_id": ["n"] * 5, "item_id": items[:5], "timestamp": [50, 10, 40, 20, 30]})
    model.fold_in_users(new)
    assert raw_sequence(model.data_, "n") == [items[1], items[3], items[4], items[2], items[0]]
    model.remove_items([items[3]])
    assert raw_sequence(model.data_, "n") == [items[1], items[4], items[2], items[0]]
    assert len(model.data_.sequences) == model.data_.n_users
    first = model.data_.user_ids[0]
    expected = [i for i in raw_sequence(hr.InteractionData.from_frames(
        sample.interactions[sample.interactions["user_id"] == first], sample.items), first) if i != items[3]]
    assert raw_sequence(model.data_, first) == expected


def test_splits_keep_each_users_order(sample):
    split = random_split(sample.interactions, seed=0)
    assert sample.interactions.index.is_monotonic_increasing
    for frame in (split.train, split.test):
        # the input's rows, in the input's order (the index is kept), so any order survives
        assert frame.index.is_monotonic_increasing and frame.index.isin(sample.interactions.index).all()
    cold = cold_user_split(sample.interactions, seed=0)
    given = cold.fold_in.groupby("user_id")["timestamp"].max()
    held = cold.test.groupby("user_id")["timestamp"].min()
    assert (given <= held.reindex(given.index)).all()  # the revealed events come first
