"""evaluate(): tidy output, oracle/random/popularity scorers, a fitted ALS model, protocols, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.evaluation import (
    METRICS,
    cold_item_split,
    cold_user_split,
    cross_domain_split,
    evaluate,
    random_split,
)

ALL_METRICS = [*METRICS, "coverage"]


@pytest.fixture(scope="module")
def split(sample):
    return random_split(sample.interactions, test_size=0.2, valid_size=0.1, seed=0, items=sample.items)


@pytest.fixture(scope="module")
def als(split):
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0)
    return model.fit(split.train, items=split.items)


class Popularity:
    """A baseline with the model protocol: train counts, the same for every user."""

    def __init__(self, train: pd.DataFrame) -> None:
        self.counts = train["item_id"].value_counts()
        self.calls: list[tuple[list, list]] = []

    def score_items(self, user_ids: list, item_ids: list) -> np.ndarray:
        self.calls.append((user_ids, item_ids))
        row = self.counts.reindex(item_ids, fill_value=0).to_numpy(dtype=float)
        return np.tile(row, (len(user_ids), 1))


def oracle(held: pd.DataFrame):
    pairs = set(zip(held["user_id"], held["item_id"]))

    def score(user_ids: list, item_ids: list) -> np.ndarray:
        return np.array([[float((u, i) in pairs) for i in item_ids] for u in user_ids])

    return score


def random_scores(user_ids: list, item_ids: list) -> np.ndarray:
    return np.random.default_rng(len(user_ids)).random((len(user_ids), len(item_ids)))


def _value(frame: pd.DataFrame, domain: str, group: str, metric: str) -> float:
    row = frame[(frame["domain"] == domain) & (frame["group"] == group) & (frame["metric"] == metric)]
    assert len(row) == 1
    return float(row["value"].iloc[0])


def _expected_users(split, domain: str) -> tuple[set, set]:
    """(warm, cold) test users of a domain with a held-out item not already in train, from scratch."""
    dom = split.items.set_index("item_id")["domain"]
    test = split.test[split.test["item_id"].map(dom) == domain]
    train_pairs = set(zip(split.train["user_id"], split.train["item_id"]))
    users = {u for u, i in zip(test["user_id"], test["item_id"]) if (u, i) not in train_pairs}
    warm = set(split.train.loc[split.train["item_id"].map(dom) == domain, "user_id"])
    return users & warm, users - warm


def test_tidy_output_on_fitted_als(als, split):
    result = evaluate(als, split, k=10)
    assert list(result.columns) == ["domain", "group", "metric", "value", "n_users", "k"]
    domains = sorted(split.test["item_id"].map(split.items.set_index("item_id")["domain"]).unique())
    assert list(pd.unique(result["domain"])) == domains + ["all"]
    assert set(result["group"]) <= {"all", "cold", "warm"}
    assert set(result["metric"]) == set(ALL_METRICS)
    assert not result.duplicated(["domain", "group", "metric"]).any()
    assert (result["k"] == 10).all()
    assert result["value"].between(0, 1).all()
    for domain in domains:
        warm, cold = _expected_users(split, domain)
        n = result[(result["domain"] == domain) & (result["metric"] == "recall")].set_index("group")["n_users"]
        assert n["all"] == len(warm | cold)
        assert n.get("warm", 0) == len(warm) and n.get("cold", 0) == len(cold)
    total = result[(result["domain"] == "all") & (result["group"] == "all") & (result["metric"] == "ndcg")]
    per_domain = result[(result["domain"] != "all") & (result["group"] == "all") & (result["metric"] == "ndcg")]
    assert total["n_users"].iloc[0] == per_domain["n_users"].sum()
    weighted = (per_domain["value"] * per_domain["n_users"]).sum() / per_domain["n_users"].sum()
    assert total["value"].iloc[0] == pytest.approx(weighted)


def test_als_matches_a_per_user_recomputation(als, split):
    """Recall@10 and hit rate of one domain, recomputed user by user from score_items."""
    domain = "family"
    result = evaluate(als, split, k=10, batch_size=64)
    dom = split.items.set_index("item_id")["domain"]
    items = split.items.loc[split.items["domain"] == domain, "item_id"].tolist()
    test = split.test[split.test["item_id"].map(dom) == domain]
    users = sorted(test["user_id"].unique())
    matrix = als.score_items(users, items)  # one call; the ranking below is done user by user
    seen_by_user = split.train.groupby("user_id")["item_id"].apply(set)
    recalls, hits = [], []
    for row, (user, rows) in enumerate(test.groupby("user_id", sort=True)):
        assert user == users[row]
        scores = pd.Series(matrix[row], index=items)
        seen = seen_by_user.get(user, set())
        relevant = set(rows["item_id"]) - seen
        if not relevant:
            continue
        ranked = scores.drop(list(seen & set(items))).sort_values(ascending=False, kind="stable").index[:10]
        found = len(relevant & set(ranked))
        recalls.append(found / len(relevant))
        hits.append(float(found > 0))
    assert _value(result, domain, "all", "recall") == pytest.approx(np.mean(recalls))
    assert _value(result, domain, "all", "hit_rate") == pytest.approx(np.mean(hits))


def test_per_user_rows_average_to_the_metrics_and_pair_across_models(als, split):
    """return_per_user: one row per (domain, user) with relevant items; their means are the table."""
    result, per_user = evaluate(als, split, k=10, return_per_user=True)
    pd.testing.assert_frame_equal(result, evaluate(als, split, k=10))
    assert list(per_user.columns) == ["domain", "group", "user_id", "n_relevant", *METRICS]
    assert (per_user["n_relevant"] > 0).all()
    assert not per_user.duplicated(["domain", "user_id"]).any()
    dom = split.items.set_index("item_id")["domain"]
    expected = {(dom[i], u) for u, i in zip(split.test["user_id"], split.test["item_id"])}
    assert set(zip(per_user["domain"], per_user["user_id"])) <= expected
    for (domain, group), rows in per_user.groupby(["domain", "group"]):
        for metric in ("ndcg", "recall", "map"):
            assert _value(result, domain, group, metric) == pytest.approx(rows[metric].mean())
    assert _value(result, "all", "all", "ndcg") == pytest.approx(per_user["ndcg"].mean())
    _, other = evaluate(Popularity(split.train), split, k=10, return_per_user=True)
    pd.testing.assert_frame_equal(other[["domain", "user_id"]], per_user[["domain", "user_id"]])
    assert not np.allclose(other["ndcg"], per_user["ndcg"])


def test_oracle_is_perfect_and_random_is_not(split, als):
    k = int(split.test.groupby("user_id").size().max())  # every relevant item fits in the top k
    perfect = evaluate(oracle(split.test), split, k=k)
    for metric in ("recall", "ndcg", "hit_rate", "mrr", "auc", "map"):
        assert perfect.loc[perfect["metric"] == metric, "value"].eq(1).all(), metric
    rand = evaluate(random_scores, split, k=10)
    model = evaluate(als, split, k=10)
    for metric in ("ndcg", "recall", "hit_rate"):
        assert _value(rand, "all", "all", metric) < 0.5 * _value(model, "all", "all", metric)
    assert _value(rand, "all", "all", "auc") == pytest.approx(0.5, abs=0.05)
    assert _value(model, "all", "all", "auc") > 0.7


def test_popularity_scorer(split, als):
    pop = Popularity(split.train)
    result = evaluate(pop, split, k=10, batch_size=100)
    assert all(len(users) <= 100 for users, _ in pop.calls)
    # every user sees the same ranking (minus their own items): coverage is tiny next to ALS
    model = evaluate(als, split, k=10)
    assert _value(result, "all", "all", "coverage") < 0.5 * _value(model, "all", "all", "coverage")
    assert _value(result, "all", "all", "ndcg") > 2 * _value(evaluate(random_scores, split, k=10), "all", "all", "ndcg")


def test_valid_users(split, als):
    result = evaluate(als, split, users="valid")
    n = result[(result["domain"] == "all") & (result["group"] == "all") & (result["metric"] == "precision")]
    pairs = split.valid.assign(d=split.valid["item_id"].map(split.items.set_index("item_id")["domain"]))
    assert n["n_users"].iloc[0] == len(pairs.drop_duplicates(["user_id", "d"]))


def test_cross_domain_groups_are_cold(sample):
    split = cross_domain_split(sample.interactions, sample.items, "family", seed=0)
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(split.train, items=split.items)
    result = evaluate(model, split)
    assert set(result["domain"]) == {"family", "all"} and set(result["group"]) == {"all", "cold"}
    assert _value(result, "family", "all", "ndcg") > _value(evaluate(random_scores, split), "family", "all", "ndcg")


def test_cold_item_candidates(sample):
    split = cold_item_split(sample.interactions, sample.items, domain="thriller", frac=0.1, seed=0)
    pop = Popularity(split.train)
    scorer = lambda users, items: pop.score_items(users, items) + random_scores(users, items)  # noqa: E731
    full = evaluate(scorer, split, k=10)
    cold = evaluate(scorer, split, k=10, candidates=split.cold_items)
    assert sorted(pop.calls[-1][1]) == sorted(split.cold_items)  # shown in a fixed shuffled order
    for metric in ("recall", "hit_rate", "mrr"):  # a subset of candidates can only move items up
        assert _value(cold, "thriller", "all", metric) >= _value(full, "thriller", "all", metric)
    assert _value(cold, "thriller", "all", "coverage") * len(split.cold_items) <= 10 * len(split.test)
    assert (full["n_users"][full["metric"] == "ndcg"].to_numpy() == cold["n_users"][cold["metric"] == "ndcg"].to_numpy()).all()


def test_ties_do_not_follow_the_catalogue_order(sample):
    """A scorer with no signal must not profit from ids that encode popularity."""
    counts = sample.interactions["item_id"].value_counts()
    by_popularity = sample.items.set_index("item_id").loc[counts.index.union(sample.items["item_id"], sort=False)]
    items = by_popularity.reset_index()  # most popular first, as in goodbooks' book_id
    split = random_split(sample.interactions, test_size=0.2, seed=0, items=items)
    constant = lambda users, ids: np.zeros((len(users), len(ids)))  # noqa: E731
    blank = _value(evaluate(constant, split, k=10), "all", "all", "ndcg")
    popular = _value(evaluate(Popularity(split.train), split, k=10), "all", "all", "ndcg")
    assert blank < 0.25 * popular


class FoldIn(Popularity):
    def __init__(self, train: pd.DataFrame) -> None:
        super().__init__(train)
        self.histories: list[tuple[pd.DataFrame, list]] = []

    def score_new(self, history: pd.DataFrame, user_ids: list, item_ids: list) -> np.ndarray:
        self.histories.append((history, user_ids))
        return self.score_items(user_ids, item_ids)


def test_cold_user_uses_score_new(sample):
    split = cold_user_split(sample.interactions, test_size=0.1, n_given=3, seed=0, items=sample.items)
    model = FoldIn(split.train)
    result = evaluate(model, split, batch_size=16)
    assert model.histories
    for history, users in model.histories:
        assert set(history["user_id"]) <= set(users) and len(history) == 3 * history["user_id"].nunique()
    assert result["value"].between(0, 1).all()
    with pytest.raises(ValueError, match="'model'.*score_new"):
        evaluate(Popularity(split.train), split)


def test_bad_inputs_raise_naming_the_parameter(split, als):
    with pytest.raises(ValueError, match="'k'"):
        evaluate(als, split, k=0)
    with pytest.raises(ValueError, match="'split'"):
        evaluate(als, split.test)
    with pytest.raises(ValueError, match="'users'"):
        evaluate(als, split, users="train")
    no_valid = random_split(split.train, seed=0, items=split.items)
    with pytest.raises(ValueError, match="'users'"):
        evaluate(als, no_valid, users="valid")
    with pytest.raises(ValueError, match="'candidates'"):
        evaluate(als, split, candidates=["nope"])
    with pytest.raises(ValueError, match="'model'"):
        evaluate(object(), split)
    with pytest.raises(ValueError, match="shape"):
        evaluate(lambda users, items: np.zeros((len(users), 3)), split)
