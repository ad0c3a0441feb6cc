"""HybridRecommender on the bundled sample: recommend, predict, score_items, components, seeds, ranking."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from _helpers import holdout_split, recall_at_k

COMPONENTS = ["als", "lightfm", "semantic", "itemknn", "popularity"]
PERSONAL = ["als", "lightfm", "semantic", "itemknn"]


@pytest.fixture(scope="module")
def single_models(sample) -> dict[str, hr.HybridRecommender]:
    """One model per component, each used alone (its weight the only one > 0)."""
    out = {}
    for name in COMPONENTS:
        model = hr.HybridRecommender(weights={name: 1.0}, random_state=0).set_params(lightfm__epochs=3)
        out[name] = model.fit(sample.interactions, items=sample.items, users=sample.users)
    return out


@pytest.fixture(scope="module")
def some_users(sample) -> list:
    """A fixed spread of real users: light and heavy, with and without text."""
    counts = sample.interactions.groupby("user_id").size().sort_values(kind="stable")
    picks = counts.index[np.linspace(0, len(counts) - 1, 12).astype(int)].tolist()
    return list(dict.fromkeys(picks + sample.users["user_id"].iloc[:3].tolist()))


def _seen(sample) -> set:
    return set(zip(sample.interactions["user_id"], sample.interactions["item_id"]))


# ---------------------------------------------------------------------------------------- recommend
def test_recommend_returns_a_tidy_frame(fitted_sample_model, sample, some_users):
    k = 7
    recs = fitted_sample_model.recommend(some_users, k=k)
    assert list(recs.columns) == ["user_id", "item_id", "score", "rank", "domain"]
    assert len(recs) == k * len(some_users)
    assert recs["user_id"].drop_duplicates().tolist() == some_users  # users in the order asked
    assert pd.api.types.is_float_dtype(recs["score"]) and np.isfinite(recs["score"]).all()
    assert pd.api.types.is_integer_dtype(recs["rank"])
    for user, group in recs.groupby("user_id", sort=False):
        assert group["rank"].tolist() == list(range(1, k + 1))
        assert (np.diff(group["score"].to_numpy()) <= 1e-9).all()  # best first
        assert group["item_id"].is_unique
    domain_of = sample.items.set_index("item_id")["domain"]
    assert set(recs["item_id"]) <= set(domain_of.index)
    assert (recs["domain"].to_numpy() == domain_of.reindex(recs["item_id"]).to_numpy()).all()


def test_recommend_accepts_a_single_id(fitted_sample_model, some_users):
    user = some_users[3]
    one = fitted_sample_model.recommend(user, k=5)
    assert one["user_id"].tolist() == [user] * 5
    pd.testing.assert_frame_equal(one, fitted_sample_model.recommend([user], k=5))


def test_exclude_seen_leaves_out_training_items(fitted_sample_model, sample, some_users):
    recs = fitted_sample_model.recommend(some_users, k=20, exclude_seen=True)
    seen = _seen(sample)
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"]))


def test_seen_items_can_come_back_when_not_excluded(fitted_sample_model, sample, some_users):
    recs = fitted_sample_model.recommend(some_users, k=20, exclude_seen=False)
    seen = _seen(sample)
    assert len(recs) == 20 * len(some_users)
    assert sum((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"])) > 0
    # the excluded list is the unexcluded ranking minus the seen items, in the same order
    user = some_users[-4]
    full = fitted_sample_model.recommend([user], k=len(sample.items), exclude_seen=False)
    unseen = full[[(user, i) not in seen for i in full["item_id"]]]
    excluded = fitted_sample_model.recommend([user], k=10, exclude_seen=True)
    assert excluded["item_id"].tolist() == unseen["item_id"].iloc[:10].tolist()


@pytest.mark.parametrize("domain", ["drama", "family", "thriller"])
def test_domain_filter_returns_only_that_domain(fitted_sample_model, some_users, domain):
    recs = fitted_sample_model.recommend(some_users, k=10, domain=domain)
    assert len(recs) == 10 * len(some_users)
    assert set(recs["domain"]) == {domain}


def test_fewer_candidates_than_k_gives_fewer_rows():
    interactions = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "item_id": [1, 2, 2, 3]})
    items = pd.DataFrame({"item_id": [1, 2, 3, 4], "text": ["w", "x", "y", "z"]})
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(interactions, items)
    recs = model.recommend(["a", "b"], k=10)
    assert recs.groupby("user_id").size().to_dict() == {"a": 2, "b": 3}
    assert np.isfinite(recs["score"]).all()
    assert set(recs.loc[recs["user_id"] == "a", "item_id"]) == {3, 4}


@pytest.mark.parametrize("kind", ["ints", "strings", "tuples"])
def test_recommend_and_predict_speak_raw_ids_of_any_type(kind):
    ids = {
        "ints": ([11, 12, 13], [1, 2, 3, 4]),
        "strings": (["ann", "bob", "cy"], ["w", "x", "y", "z"]),
        "tuples": ([("eu", 1), ("us", 1), ("eu", 2)], [("book", 1), ("book", 2), ("film", 1), ("film", 2)]),
    }[kind]
    users, items = ids
    rows = [(users[0], items[0]), (users[0], items[1]), (users[1], items[1]), (users[2], items[2])]
    interactions = pd.DataFrame({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows]})
    catalogue = pd.DataFrame({"item_id": items, "text": ["a", "b", "c", "d"]})
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(interactions, catalogue)

    recs = model.recommend(users, k=2)
    assert recs["user_id"].drop_duplicates().tolist() == users
    assert set(recs["item_id"]) <= set(items)
    assert not set(zip(recs["user_id"], recs["item_id"])) & set(rows)
    single = model.recommend(users[1], k=2)  # one id, a tuple included, is one user
    assert single["user_id"].tolist() == [users[1]] * 2
    pairs = pd.DataFrame({"user_id": recs["user_id"], "item_id": recs["item_id"]})
    np.testing.assert_allclose(model.predict(pairs), recs["score"].to_numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ predict / score_items
@pytest.mark.parametrize("domain", ["drama", "family", "thriller"])
def test_predict_equals_recommend_scores(fitted_sample_model, some_users, domain):
    recs = fitted_sample_model.recommend(some_users, k=10, domain=domain)
    pairs = recs[["user_id", "item_id"]].sample(frac=1.0, random_state=1)  # any row order
    scores = fitted_sample_model.predict(pairs)
    assert isinstance(scores, np.ndarray) and scores.shape == (len(pairs),)
    np.testing.assert_allclose(scores, recs.loc[pairs.index, "score"].to_numpy(), rtol=1e-5, atol=1e-5)


def test_all_domain_ranking_uses_one_catalogue_wide_scale(fitted_sample_model, some_users):
    """domain=None ranks domains together on one scale, so its scores are not predict's per-domain ones.

    Its rows are exactly what explain() reports for them: the contributions add up to the score.
    """
    recs = fitted_sample_model.recommend(some_users[:3], k=10, explain=True)
    sums = recs["contributions"].map(lambda c: sum(c.values())).to_numpy()
    np.testing.assert_allclose(sums, recs["score"].to_numpy(), rtol=1e-5, atol=1e-5)
    per_domain = fitted_sample_model.predict(recs[["user_id", "item_id"]])
    assert not np.allclose(per_domain, recs["score"].to_numpy())
    assert recs.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_predict_gives_one_score_per_row_including_repeats(fitted_sample_model, sample, some_users):
    items = sample.items["item_id"].iloc[[0, 500, 1000, 2000]].tolist()
    pairs = pd.DataFrame({"user_id": [some_users[0], some_users[1], some_users[0], some_users[0]],
                          "item_id": [items[0], items[1], items[0], items[3]], "extra": list("abcd")})
    scores = fitted_sample_model.predict(pairs)
    assert scores.shape == (4,)
    assert scores[0] == scores[2]
    one_by_one = [fitted_sample_model.predict(pairs.iloc[[i]])[0] for i in range(4)]
    np.testing.assert_allclose(scores, one_by_one, rtol=1e-6, atol=1e-6)


def test_score_items_matches_predict(fitted_sample_model, sample, some_users):
    users = some_users[:4]
    items = sample.items.groupby("domain")["item_id"].head(3).tolist()  # three of every domain
    matrix = fitted_sample_model.score_items(users, items)
    assert matrix.shape == (len(users), len(items))
    pairs = pd.DataFrame(list(itertools.product(users, items)), columns=["user_id", "item_id"])
    np.testing.assert_allclose(fitted_sample_model.predict(pairs).reshape(matrix.shape), matrix, rtol=1e-5, atol=1e-5)
    # the default is the whole catalogue in inner order, and a score does not depend on the others asked for
    full = fitted_sample_model.score_items(users)
    assert full.shape == (len(users), len(sample.items))
    cols = fitted_sample_model.data_.item_index(items)
    np.testing.assert_allclose(full[:, cols], matrix, rtol=1e-5, atol=1e-5)


# -------------------------------------------------------------------------------- single components
@pytest.mark.parametrize("name", COMPONENTS)
def test_each_component_works_alone(single_models, sample, some_users, name):
    model = single_models[name]
    assert set(model.components_) == {name}
    recs = model.recommend(some_users, k=10, domain="drama")
    assert len(recs) == 10 * len(some_users)
    assert np.isfinite(recs["score"]).all()
    seen = _seen(sample)
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"]))
    pairs = recs[["user_id", "item_id"]]
    np.testing.assert_allclose(model.predict(pairs), recs["score"].to_numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("first, second", list(itertools.combinations(COMPONENTS, 2)))
def test_components_give_different_rankings(single_models, some_users, first, second):
    users = some_users[4:10]
    a = single_models[first].recommend(users, k=10, domain="thriller")
    b = single_models[second].recommend(users, k=10, domain="thriller")
    assert a["item_id"].tolist() != b["item_id"].tolist()
    # and not just a shuffle of the same shortlists: the top-10 sets differ for most users
    differ = sum(
        set(a.loc[a["user_id"] == u, "item_id"]) != set(b.loc[b["user_id"] == u, "item_id"]) for u in users
    )
    assert differ >= len(users) // 2


@pytest.mark.parametrize("name", PERSONAL)
def test_personal_components_differ_between_users(single_models, some_users, name):
    recs = single_models[name].recommend(some_users[6:12], k=10, domain="drama")
    lists = {tuple(g["item_id"]) for _, g in recs.groupby("user_id")}
    assert len(lists) > 1


def test_popularity_alone_ranks_by_popularity_within_a_domain(single_models, sample):
    model = single_models["popularity"]
    user = sample.interactions["user_id"].iloc[0]
    counts = sample.interactions.groupby("item_id")["user_id"].nunique()
    family = sample.items.loc[sample.items["domain"] == "family", "item_id"]
    counts = counts.reindex(family, fill_value=0)
    recs = model.recommend([user], k=15, domain="family", exclude_seen=False)
    got = counts.reindex(recs["item_id"]).to_numpy()
    assert (np.diff(got) <= 0).all()
    np.testing.assert_array_equal(got, np.sort(counts.to_numpy())[::-1][:15])


def test_popularity_alone_ranks_by_popularity_across_the_catalogue(single_models, sample):
    """With one component alone, the whole-catalogue ranking is that component's ranking."""
    model = single_models["popularity"]
    user = sample.interactions["user_id"].iloc[0]
    counts = sample.interactions.groupby("item_id")["user_id"].nunique().reindex(sample.items["item_id"], fill_value=0)
    recs = model.recommend([user], k=15, exclude_seen=False)
    got = counts.reindex(recs["item_id"]).to_numpy()
    np.testing.assert_array_equal(got, np.sort(counts.to_numpy())[::-1][:15])


# -------------------------------------------------------------------------------------- random_state
def test_same_random_state_gives_identical_recommendations(sample, some_users):
    def fit(seed):
        model = hr.HybridRecommender(weights={"als": 1.0, "itemknn": 0.5}, random_state=seed)
        return model.fit(sample.interactions, items=sample.items)

    first, again, other = fit(0), fit(0), fit(1)
    pd.testing.assert_frame_equal(first.recommend(some_users, k=10), again.recommend(some_users, k=10))
    np.testing.assert_array_equal(first.components_["als"].item_factors_, again.components_["als"].item_factors_)
    assert not np.allclose(first.components_["als"].item_factors_, other.components_["als"].item_factors_)


def test_same_random_state_reproduces_lightfm(sample, some_users):
    def fit(seed):
        model = hr.HybridRecommender(weights={"lightfm": 1.0}, random_state=seed).set_params(
            lightfm__epochs=2, lightfm__text_components=0
        )
        return model.fit(sample.interactions, items=sample.items)

    first, again, other = fit(5), fit(5), fit(6)
    pd.testing.assert_frame_equal(first.recommend(some_users, k=10), again.recommend(some_users, k=10))
    assert not first.recommend(some_users, k=10).equals(other.recommend(some_users, k=10))


# --------------------------------------------------------------------------------- ranking sanity
def test_als_beats_popularity_on_a_held_out_split(sample):
    train, test = holdout_split(sample.interactions, fraction=0.2, seed=42)
    assert len(test) > 0.15 * len(sample.interactions)
    users = test["user_id"].unique()
    results = {}
    for name in ("als", "popularity"):
        model = hr.HybridRecommender(weights={name: 1.0}, random_state=0).fit(train, items=sample.items)
        recs = model.recommend(users, k=10)
        results[name] = recall_at_k(recs, test, k=10)
    (als_recall, als_hits), (pop_recall, pop_hits) = results["als"], results["popularity"]
    assert als_recall > 1.3 * pop_recall, results
    assert als_hits > pop_hits, results


@pytest.fixture(scope="module")
def animation_fan(sample):
    """The sample plus one new user whose whole history is eight popular animated films."""
    animated = sample.items.loc[sample.items["genres"].str.contains("Animation"), "item_id"]
    popularity = sample.interactions["item_id"].value_counts()
    history = popularity[popularity.index.isin(animated)].index[:8].tolist()
    extra = pd.DataFrame({"user_id": "animation-fan", "item_id": history, "weight": 1.0})
    interactions = pd.concat([sample.interactions, extra], ignore_index=True)
    model = hr.HybridRecommender(weights={"semantic": 1.0}, cross_domain_weight=1.0, random_state=0)
    return model.fit(interactions, items=sample.items), set(animated)


def test_semantic_ranks_animation_first_within_family(animation_fan, sample):
    model, animated = animation_fan
    recs = model.recommend(["animation-fan"], k=10, domain="family")
    # about 60% of family films are animated; a text profile of animated films must pick them
    assert set(recs["item_id"]) <= animated


def test_semantic_ranks_animation_high_across_the_catalogue(animation_fan):
    model, animated = animation_fan
    recs = model.recommend(["animation-fan"], k=10)  # every domain together
    in_top = recs["item_id"].isin(animated)
    assert in_top.iloc[0], recs
    assert in_top.sum() >= 5, recs
