"""InteractionData.from_frames: columns, id maps both ways, duplicates, texts, domains, cold rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec import InteractionData


def _entry(data: InteractionData, user, item) -> float:
    return float(data.matrix[data.user_index([user])[0], data.item_index([item])[0]])


def test_configurable_column_names():
    interactions = pd.DataFrame(
        {"uid": ["ann", "ann", "bob"], "iid": ["x", "y", "y"], "clicks": [2.0, 1.0, 5.0], "ts": [1, 2, 3]}
    )
    items = pd.DataFrame(
        {"iid": ["x", "y", "z"], "title": ["Xylophone", "Yak wool", None], "blurb": ["music", None, "zebra"],
         "shop": ["toys", "wool", "toys"]}
    )
    users = pd.DataFrame({"uid": ["ann", "bob"], "bio": ["I knit", None]})
    data = InteractionData.from_frames(
        interactions, items, users,
        user_col="uid", item_col="iid", weight_col="clicks", text_col=["title", "blurb"],
        user_text_col="bio", domain_col="shop",
    )
    assert list(data.user_ids) == ["ann", "bob"]
    assert list(data.item_ids) == ["x", "y", "z"]
    assert _entry(data, "ann", "x") == 2.0
    assert _entry(data, "ann", "y") == 1.0
    assert _entry(data, "bob", "y") == 5.0
    assert _entry(data, "bob", "x") == 0.0
    assert data.matrix.shape == (2, 3) and data.matrix.nnz == 3
    assert data.item_texts == ["Xylophone. music", "Yak wool", "zebra"]
    assert data.user_texts == ["I knit", ""]
    assert sorted(data.domains) == ["toys", "wool"]
    domain_of = dict(zip(data.item_ids, np.asarray(data.domains)[data.item_domain]))
    assert domain_of == {"x": "toys", "y": "wool", "z": "toys"}


def test_recommender_fit_honours_column_names():
    interactions = pd.DataFrame({"uid": [1, 1, 2, 2, 3], "iid": [10, 11, 11, 12, 10], "clicks": [1, 1, 1, 1, 3]})
    items = pd.DataFrame({"iid": [10, 11, 12, 13], "label": ["a", "b", "c", "d"]})
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(
        interactions, items, user_col="uid", item_col="iid", weight_col="clicks", text_col="label"
    )
    assert model.data_.matrix[model.data_.user_index([3])[0], model.data_.item_index([10])[0]] == 3.0
    # predict reads the fitted column names
    scores = model.predict(pd.DataFrame({"uid": [1, 2], "iid": [12, 13]}))
    assert scores.shape == (2,) and np.isfinite(scores).all()


ID_KINDS = {
    "ints": ([101, 102, 103], [7, 8, 9, 10]),
    "numpy ints": (list(np.array([5, 6, 7], dtype=np.int64)), list(np.array([70, 80, 90, 100], dtype=np.int64))),
    "strings": (["u-a", "u-b", "u-c"], ["apple", "pear", "plum", "fig"]),
    "tuples": ([("eu", 1), ("us", 1), ("eu", 2)], [("book", 1), ("book", 2), ("film", 1), ("film", 2)]),
}


@pytest.mark.parametrize("kind", list(ID_KINDS))
def test_ids_of_any_hashable_type_map_both_ways(kind):
    users, items = ID_KINDS[kind]
    pairs = [(users[0], items[0]), (users[0], items[1]), (users[1], items[1]), (users[2], items[3])]
    interactions = pd.DataFrame({"user_id": [u for u, _ in pairs], "item_id": [i for _, i in pairs]})
    catalogue = pd.DataFrame({"item_id": pd.Series(items, dtype=object), "text": ["t1", "t2", "t3", "t4"]})
    data = InteractionData.from_frames(interactions, catalogue)

    assert data.n_users == 3 and data.n_items == 4
    inner_users = data.user_index(users)
    inner_items = data.item_index(items)
    assert sorted(inner_users.tolist()) == [0, 1, 2]
    assert sorted(inner_items.tolist()) == [0, 1, 2, 3]
    # raw -> inner -> raw is the identity, element by element (tuples stay tuples)
    assert list(data.user_ids[inner_users]) == list(users)
    assert list(data.item_ids[inner_items]) == list(items)
    for u, i in pairs:
        assert _entry(data, u, i) == 1.0
    assert _entry(data, users[2], items[0]) == 0.0
    # a single (non-tuple) id is one id; a tuple is an iterable of ids here (see recommend for tuples)
    if kind != "tuples":
        assert data.user_index(users[1]).tolist() == [inner_users[1]]
    # unknown ids raise, or map to -1 on request
    unknown = ("nope", 0) if kind == "tuples" else ("nope" if kind == "strings" else 999_999)
    with pytest.raises(ValueError, match="Unknown user ids"):
        data.user_index([users[0], unknown])
    assert data.user_index([unknown, users[0]], missing="ignore").tolist() == [-1, inner_users[0]]


def test_duplicates_are_summed_by_default():
    interactions = pd.DataFrame(
        {"user_id": ["a", "a", "a", "b"], "item_id": ["x", "x", "y", "x"], "weight": [1.0, 2.5, 1.0, 4.0]}
    )
    data = InteractionData.from_frames(interactions)
    assert _entry(data, "a", "x") == 3.5
    assert _entry(data, "a", "y") == 1.0
    assert _entry(data, "b", "x") == 4.0
    assert data.matrix.nnz == 3


def test_duplicates_max_keeps_the_largest_weight():
    interactions = pd.DataFrame(
        {"user_id": ["a", "a", "a", "b", "b"], "item_id": ["x", "x", "x", "x", "y"], "weight": [1.0, 3.0, 2.0, 4.0, 0.5]}
    )
    data = InteractionData.from_frames(interactions, duplicates="max")
    assert _entry(data, "a", "x") == 3.0
    assert _entry(data, "b", "x") == 4.0
    assert _entry(data, "b", "y") == 0.5
    assert data.matrix.nnz == 3


def test_without_weight_column_every_event_counts_one():
    interactions = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [5, 5, 6, 6]})
    data = InteractionData.from_frames(interactions)
    assert _entry(data, 1, 5) == 2.0
    assert _entry(data, 1, 6) == 1.0
    assert _entry(data, 2, 6) == 1.0


def test_zero_weight_rows_are_not_interactions():
    interactions = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 6], "weight": [0.0, 1.0, 2.0]})
    data = InteractionData.from_frames(interactions)
    assert _entry(data, 1, 5) == 0.0
    assert data.matrix.nnz == 2
    assert data.n_items == 2  # the item itself is still known


def test_missing_text_counts_as_empty():
    interactions = pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "b"]})
    items = pd.DataFrame(
        {"item_id": ["a", "b", "c", "d"], "title": ["Alpha", None, np.nan, "  Delta  "], "tags": [None, "beta", np.nan, "d"]}
    )
    users = pd.DataFrame({"user_id": [1, 2], "text": [np.nan, "likes beta"]})
    data = InteractionData.from_frames(interactions, items, users, text_col=["title", "tags"])
    assert data.item_texts == ["Alpha", "beta", "", "Delta. d"]
    assert data.user_texts == ["", "likes beta"]
    single = InteractionData.from_frames(interactions, items, text_col="title")
    assert single.item_texts == ["Alpha", "", "", "Delta"]


def test_single_domain_data_needs_no_domain_column():
    interactions = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": ["a", "b", "b", "c"]})
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "text": ["apple", "banana", "cherry"]})
    data = InteractionData.from_frames(interactions, items)
    assert len(data.domains) == 1
    assert (data.item_domain == 0).all()
    only = data.domains[0]
    assert data.domain_code(only) == 0
    assert data.items_in_domain(0).tolist() == [0, 1, 2]

    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(interactions, items)
    recs = model.recommend([1, 2, 3], k=2)
    assert set(recs["domain"]) == {only}
    assert recs.equals(model.recommend([1, 2, 3], k=2, domain=only))


def test_items_without_interactions_are_kept():
    interactions = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": ["a", "b", "b", "c"]})
    items = pd.DataFrame({"item_id": ["a", "b", "c", "cold1", "cold2"], "text": ["apple", "banana", "cherry", "date", ""]})
    data = InteractionData.from_frames(interactions, items)
    assert data.n_items == 5
    assert list(data.item_ids) == ["a", "b", "c", "cold1", "cold2"]
    cold = data.item_index(["cold1", "cold2"])
    assert np.asarray(data.matrix[:, cold].sum()) == 0
    assert [data.item_texts[i] for i in cold] == ["date", ""]

    # and they are candidates for recommendation
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(interactions, items)
    recs = model.recommend([1], k=10)
    assert {"cold1", "cold2"} <= set(recs["item_id"])
    assert len(recs) == 3  # user 1 has seen a and b: c, cold1, cold2 remain


def test_users_table_users_without_interactions_are_kept():
    interactions = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": [1, 2, 2]})
    users = pd.DataFrame({"user_id": ["u2", "newbie", "u1"], "text": ["likes two", "just arrived", None]})
    data = InteractionData.from_frames(interactions, None, users)
    assert data.n_users == 3
    assert set(data.user_ids) == {"u1", "u2", "newbie"}
    row = data.user_index(["newbie"])[0]
    assert data.matrix[row].nnz == 0
    texts = dict(zip(data.user_ids, data.user_texts))
    assert texts == {"u1": "", "u2": "likes two", "newbie": "just arrived"}

    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(interactions, users=users)
    recs = model.recommend(["newbie"], k=2)
    assert len(recs) == 2 and set(recs["item_id"]) == {1, 2}


def test_sample_builds_consistent_data(sample):
    data = InteractionData.from_frames(sample.interactions, sample.items, sample.users)
    assert data.n_items == len(sample.items) == 2269
    assert data.n_users == sample.interactions["user_id"].nunique()
    assert data.matrix.nnz == len(sample.interactions.drop_duplicates(["user_id", "item_id"]))
    assert data.matrix.dtype == np.float32
    assert sorted(data.domains) == ["drama", "family", "thriller"]
    # the domain of every item matches the items table
    expected = sample.items.set_index("item_id")["domain"].reindex(list(data.item_ids)).to_numpy()
    assert (np.asarray(data.domains)[data.item_domain] == expected).all()
    # a user's row is exactly their positives
    user = sample.interactions["user_id"].iloc[0]
    seen = set(sample.interactions.loc[sample.interactions["user_id"] == user, "item_id"])
    row = data.user_index([user])[0]
    assert set(data.item_ids[data.matrix[row].indices]) == seen


def test_text_components_without_item_texts_warn_and_others_do_not(sample):
    """No items table: a component that reads text would see nothing (a UserWarning); ALS alone is fine."""
    import warnings

    rows = sample.interactions.head(300)
    with pytest.warns(UserWarning, match="semantic read item texts and will see nothing"):
        hr.HybridRecommender(weights={"als": 1.0, "semantic": 1.0}, random_state=0).fit(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(rows)
