"""cross_domain_weight: how much history in other domains counts when recommending in a target domain."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from _helpers import user_history

PERSONAL = ["als", "lightfm", "semantic", "itemknn"]


@pytest.fixture(scope="module")
def user_domains(sample) -> pd.DataFrame:
    """Interactions per (user, domain) in the sample, zeros included."""
    joined = sample.interactions.merge(sample.items[["item_id", "domain"]], on="item_id")
    return joined.groupby(["user_id", "domain"]).size().unstack(fill_value=0)


@pytest.fixture(scope="module")
def single_domain_users(user_domains, sample) -> dict[str, list]:
    """Users (without user text) whose whole history is in one domain: domain -> users."""
    has_text = set(sample.users["user_id"])
    only = user_domains[(user_domains > 0).sum(axis=1) == 1]
    only = only[~only.index.isin(has_text)]
    assert len(only) >= 2, "the sample should hold users whose history is all in one domain"
    return {domain: only.index[only[domain] > 0].tolist() for domain in user_domains.columns}


def _ranking(model, user, domain, weight, k=10):
    recs = model.recommend([user], k=k, domain=domain, cross_domain_weight=weight)
    return recs["item_id"].tolist(), recs["score"].to_numpy()


def _other_domain_users(single_domain_users, target):
    return [u for domain, users in single_domain_users.items() if domain != target for u in users]


@pytest.mark.parametrize("target", ["family", "drama"])
def test_zero_weight_ignores_other_domain_history(fitted_sample_model, single_domain_users, target):
    """At weight 0, users with no history in the target domain all get the same (non-personal) ranking."""
    users = _other_domain_users(single_domain_users, target)
    assert len(users) >= 2
    recs = fitted_sample_model.recommend(users, k=10, domain=target, cross_domain_weight=0.0)
    rankings = {tuple(g["item_id"]) for _, g in recs.groupby("user_id")}
    assert len(rankings) == 1
    scores = np.stack([g["score"].to_numpy() for _, g in recs.groupby("user_id")])
    np.testing.assert_allclose(scores, np.broadcast_to(scores[0], scores.shape), atol=1e-6)


def test_zero_weight_personal_component_contributes_nothing(sample, single_domain_users):
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(sample.interactions, items=sample.items)
    user = _other_domain_users(single_domain_users, "family")[0]
    family = sample.items.loc[sample.items["domain"] == "family", "item_id"]
    pairs = pd.DataFrame({"user_id": user, "item_id": family})
    assert (model.predict(pairs, cross_domain_weight=0.0) == 0).all()  # a user ALS knows nothing about
    assert np.ptp(model.predict(pairs, cross_domain_weight=1.0)) > 0


def test_full_weight_personalises_from_other_domains(fitted_sample_model, single_domain_users, sample):
    """At weight 1 the other-domain history counts: rankings change and move towards that history."""
    embeddings = fitted_sample_model.item_embeddings_
    data = fitted_sample_model.data_
    gains = []
    for target in ("family", "drama"):
        for user in _other_domain_users(single_domain_users, target):
            history = user_history(data, user)
            if len(history) < 5:
                continue
            profile = embeddings[history].mean(axis=0)
            profile /= np.linalg.norm(profile)
            zero, _ = _ranking(fitted_sample_model, user, target, 0.0)
            full, _ = _ranking(fitted_sample_model, user, target, 1.0)
            assert zero != full, (user, target)
            similarity = [float((embeddings[data.item_index(r)] @ profile).mean()) for r in (zero, full)]
            gains.append(similarity[1] - similarity[0])
    assert len(gains) >= 4
    assert np.mean(gains) > 0, gains


def test_two_domain_user_ranking_depends_on_the_weight(fitted_sample_model, user_domains):
    both = user_domains[(user_domains["family"] >= 5) & (user_domains["thriller"] >= 5)].index[:5]
    assert len(both) == 5
    for user in both:
        zero, _ = _ranking(fitted_sample_model, user, "family", 0.0)
        half, _ = _ranking(fitted_sample_model, user, "family", 0.5)
        full, _ = _ranking(fitted_sample_model, user, "family", 1.0)
        assert zero != full and zero != half and half != full, user


@pytest.fixture(scope="module")
def twins(sample):
    """The sample plus two new users with the same family history and different non-family history.

    ``twin-thriller`` adds 4 thriller films, ``twin-drama`` 25 drama films.
    """
    popularity = sample.interactions["item_id"].value_counts()

    def top(domain, n):
        ids = sample.items.loc[sample.items["domain"] == domain, "item_id"]
        return popularity[popularity.index.isin(ids)].index[:n].tolist()

    family = top("family", 6)
    rows = [("twin-thriller", i) for i in family + top("thriller", 4)]
    rows += [("twin-drama", i) for i in family + top("drama", 25)]
    extra = pd.DataFrame(rows, columns=["user_id", "item_id"]).assign(weight=1.0)
    return pd.concat([sample.interactions, extra], ignore_index=True)


@pytest.mark.parametrize("name", PERSONAL)
def test_zero_weight_uses_same_domain_history_only(sample, twins, name):
    """Weight 0 means "same-domain history only": other-domain history, however much, changes nothing."""
    model = hr.HybridRecommender(weights={name: 1.0}, random_state=0).set_params(lightfm__epochs=3)
    model.fit(twins, items=sample.items)
    users = ["twin-thriller", "twin-drama"]
    zero = model.score_items(users, sample.items.loc[sample.items["domain"] == "family", "item_id"],
                             cross_domain_weight=0.0)
    np.testing.assert_allclose(zero[0], zero[1], rtol=1e-4, atol=1e-4)
    recs = model.recommend(users, k=10, domain="family", cross_domain_weight=0.0)
    assert recs.loc[recs["user_id"] == users[0], "item_id"].tolist() == recs.loc[recs["user_id"] == users[1], "item_id"].tolist()
    # ... while at weight 1 the other-domain histories make them differ
    full = model.recommend(users, k=10, domain="family", cross_domain_weight=1.0)
    assert full.loc[full["user_id"] == users[0], "item_id"].tolist() != full.loc[full["user_id"] == users[1], "item_id"].tolist()


def test_per_call_override_equals_the_fitted_parameter(sample):
    users = sample.interactions["user_id"].drop_duplicates().iloc[::60].tolist()
    family = sample.items.loc[sample.items["domain"] == "family", "item_id"].iloc[:20].tolist()
    pairs = pd.DataFrame([(u, i) for u in users for i in family], columns=["user_id", "item_id"])
    fitted = {}
    for weight in (0.0, 0.3, 1.0):
        model = hr.HybridRecommender(weights={"als": 1.0, "itemknn": 1.0}, cross_domain_weight=weight, random_state=0)
        fitted[weight] = model.fit(sample.interactions, items=sample.items)
    base = fitted[1.0]
    for weight, model in fitted.items():
        pd.testing.assert_frame_equal(
            base.recommend(users, k=10, domain="family", cross_domain_weight=weight),
            model.recommend(users, k=10, domain="family"),
        )
        np.testing.assert_allclose(base.predict(pairs, cross_domain_weight=weight), model.predict(pairs), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(base.score_items(users, family, cross_domain_weight=weight),
                                   model.score_items(users, family), rtol=1e-5, atol=1e-6)
    # and the override really changes something for these users
    assert not fitted[0.0].recommend(users, k=10, domain="family").equals(base.recommend(users, k=10, domain="family"))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", True])
@pytest.mark.parametrize("method", ["recommend", "predict", "score_items"])
def test_per_call_override_is_validated(fitted_sample_model, sample, method, bad):
    user = sample.interactions["user_id"].iloc[0]
    item = sample.items["item_id"].iloc[0]
    call = {
        "recommend": lambda: fitted_sample_model.recommend([user], k=3, cross_domain_weight=bad),
        "predict": lambda: fitted_sample_model.predict(pd.DataFrame({"user_id": [user], "item_id": [item]}),
                                                       cross_domain_weight=bad),
        "score_items": lambda: fitted_sample_model.score_items([user], [item], cross_domain_weight=bad),
    }[method]
    with pytest.raises(ValueError, match="cross_domain_weight") as excinfo:
        call()
    assert repr(bad) in str(excinfo.value)


@pytest.mark.parametrize("bad", [-0.5, 2.0])
def test_constructor_weight_is_validated_in_fit(sample, bad):
    model = hr.HybridRecommender(weights={"als": 1.0}, cross_domain_weight=bad)
    with pytest.raises(ValueError, match="cross_domain_weight") as excinfo:
        model.fit(sample.interactions, items=sample.items)
    assert repr(bad) in str(excinfo.value)


@pytest.mark.slow
def test_other_domain_history_helps_cold_start_on_amazon():
    """CD-cold in miniature: kitchen history hidden, food history only, ALS with weight 1 vs 0."""
    from conftest import shared_dataset
    from _helpers import recall_at_k

    ds = hr.datasets.load_amazon_food_kitchen(shared_dataset("amazon_food_kitchen_llmcdsr"))
    domain = ds.items.set_index("item_id")["domain"]
    inter = ds.interactions[ds.interactions["split"].isin(["train_overlap", "test"])]
    inter = inter.assign(domain=domain.reindex(inter["item_id"]).to_numpy())
    rng = np.random.default_rng(0)
    cold = rng.choice(inter.loc[inter["split"] == "test", "user_id"].unique(), 300, replace=False)
    hidden = inter["user_id"].isin(cold) & (inter["domain"] == "kitchen")
    train, truth = inter[~hidden], inter[hidden]
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).fit(
        train[["user_id", "item_id", "weight"]], items=ds.items
    )
    users = truth["user_id"].unique()
    zero = recall_at_k(model.recommend(users, k=10, domain="kitchen", cross_domain_weight=0.0), truth)
    full = recall_at_k(model.recommend(users, k=10, domain="kitchen", cross_domain_weight=1.0), truth)
    assert full[0] > 1.5 * zero[0], (zero, full)
