"""explain(user, item) and recommend(..., explain=True) on the bundled sample.

``fitted_sample_model`` (conftest) is shared by the session and never changed here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from _helpers import assert_raised_by_us
from hybridrec.text import clean_text

DOMAINS = ["drama", "family", "thriller"]


@pytest.fixture(scope="module")
def text_users(sample) -> list:
    """Users of the sample with their own text (tags they wrote), e.g. user 2."""
    users = sample.users.loc[sample.users["text"].fillna("").str.strip() != "", "user_id"].tolist()
    assert 2 in users
    return users


@pytest.fixture(scope="module")
def plain_users(sample, text_users) -> list:
    """Users without text: a light, a median and a heavy one."""
    counts = sample.interactions["user_id"].value_counts()
    counts = counts[~counts.index.isin(text_users)].sort_values(kind="stable")
    return [counts.index[0], counts.index[len(counts) // 2], counts.index[-1]]


@pytest.fixture(scope="module")
def user_domains(sample) -> pd.DataFrame:
    joined = sample.interactions.merge(sample.items[["item_id", "domain"]], on="item_id")
    return joined.groupby(["user_id", "domain"]).size().unstack(fill_value=0)


def _title(sample, item_id) -> str:
    return sample.items.set_index("item_id").loc[item_id, "title"]


def _total(explanation) -> float:
    return sum(c["contribution"] for c in explanation["components"].values())


# ------------------------------------------------------------------------------------ the numbers
@pytest.mark.parametrize("domain", DOMAINS)
def test_contributions_add_up_to_the_score_recommend_gives(fitted_sample_model, text_users, plain_users, domain):
    users = [2, text_users[3]] + plain_users
    recs = fitted_sample_model.recommend(users, k=3, domain=domain)
    predicted = fitted_sample_model.predict(recs[["user_id", "item_id"]])
    for (user, item, score), pred in zip(recs[["user_id", "item_id", "score"]].itertuples(index=False), predicted):
        explanation = fitted_sample_model.explain(user, item)
        assert explanation["user_id"] == user and explanation["item_id"] == item
        assert explanation["domain"] == domain
        assert isinstance(explanation["score"], float)
        assert abs(_total(explanation) - explanation["score"]) < 1e-4
        assert abs(explanation["score"] - score) < 1e-4, (user, item)
        assert abs(explanation["score"] - pred) < 1e-4, (user, item)


def test_components_report_weight_normalised_score_and_contribution(fitted_sample_model):
    item = fitted_sample_model.recommend([2], k=1, domain="drama")["item_id"].iloc[0]
    explanation = fitted_sample_model.explain(2, item)
    assert set(explanation["components"]) == set(fitted_sample_model.weights_)
    for name, part in explanation["components"].items():
        assert set(part) == {"weight", "normalized", "contribution"}
        assert part["weight"] == fitted_sample_model.weights_[name]
        assert abs(part["contribution"] - part["weight"] * part["normalized"]) < 1e-6
        assert np.isfinite(part["normalized"])


def test_explain_scores_items_anywhere_in_the_ranking(fitted_sample_model, sample):
    """Not only top items: a low-ranked item's (negative) score is explained as exactly."""
    full = fitted_sample_model.recommend([53], k=len(sample.items), domain="thriller")
    for row in (full.iloc[0], full.iloc[len(full) // 2], full.iloc[-1]):
        explanation = fitted_sample_model.explain(53, row["item_id"])
        assert abs(explanation["score"] - row["score"]) < 1e-4
        assert abs(_total(explanation) - row["score"]) < 1e-4
    assert fitted_sample_model.explain(53, full["item_id"].iloc[-1])["score"] < 0


def test_explain_honours_cross_domain_weight(fitted_sample_model, user_domains):
    two_domain = user_domains[(user_domains["drama"] >= 10) & (user_domains["thriller"] >= 10)].index[0]
    item = fitted_sample_model.recommend([two_domain], k=1, domain="drama")["item_id"].iloc[0]
    pairs = pd.DataFrame({"user_id": [two_domain], "item_id": [item]})
    scores = {}
    for weight in (0.0, 0.5, 1.0):
        explanation = fitted_sample_model.explain(two_domain, item, cross_domain_weight=weight)
        scores[weight] = explanation["score"]
        assert abs(explanation["score"] - fitted_sample_model.predict(pairs, cross_domain_weight=weight)[0]) < 1e-4
        assert abs(_total(explanation) - explanation["score"]) < 1e-4
    assert len({round(s, 4) for s in scores.values()}) == 3, scores
    assert fitted_sample_model.explain(two_domain, item)["score"] == pytest.approx(scores[0.5], abs=1e-9)


# --------------------------------------------------------------------------------- history items
def test_history_items_are_the_users_own_training_items(fitted_sample_model, sample, plain_users):
    domain_of = sample.items.set_index("item_id")["domain"]
    text_of = sample.items.set_index("item_id")["text"]
    for user in plain_users[1:]:
        own = set(sample.interactions.loc[sample.interactions["user_id"] == user, "item_id"])
        for domain in DOMAINS:
            item = fitted_sample_model.recommend([user], k=1, domain=domain)["item_id"].iloc[0]
            explanation = fitted_sample_model.explain(user, item)
            history = explanation["history"]
            assert 1 <= len(history) <= 3
            for entry in history:
                assert set(entry) == {"item_id", "domain", "text", "support"}
                assert entry["item_id"] in own
                assert entry["domain"] == domain_of[entry["item_id"]]
                assert entry["text"] == text_of[entry["item_id"]]
                assert entry["support"] > 0
            supports = [h["support"] for h in history]
            assert supports == sorted(supports, reverse=True)


def test_n_history_sets_how_many_history_items_are_listed(fitted_sample_model, plain_users):
    user = plain_users[-1]  # the heaviest user without text: hundreds of history items
    item = fitted_sample_model.recommend([user], k=1, domain="drama")["item_id"].iloc[0]
    short = fitted_sample_model.explain(user, item, n_history=1)["history"]
    longer = fitted_sample_model.explain(user, item, n_history=10)["history"]
    assert len(short) == 1 and len(longer) == 10
    assert longer[0] == short[0]


def test_history_support_splits_an_item_knn_score_exactly(sample):
    """item-kNN is linear in the history: with no normalisation, the supports add up to the score."""
    model = hr.HybridRecommender(weights={"itemknn": 1.0}, normalization="none", random_state=0)
    model.fit(sample.interactions, items=sample.items)
    user = sample.interactions["user_id"].value_counts().index[100]
    for domain in DOMAINS:
        item = model.recommend([user], k=1, domain=domain, cross_domain_weight=1.0)["item_id"].iloc[0]
        explanation = model.explain(user, item, n_history=10_000, cross_domain_weight=1.0)
        assert explanation["score"] > 0
        assert sum(h["support"] for h in explanation["history"]) == pytest.approx(explanation["score"], rel=1e-5)


def test_history_support_splits_an_als_score_exactly(sample):
    """ALS is linear in the (confidence-weighted) history too: a two-item history splits exactly."""
    model = hr.HybridRecommender(weights={"als": 1.0}, normalization="none", random_state=0)
    model.fit(sample.interactions, items=sample.items)
    animated = sample.items.loc[sample.items["genres"].str.contains("Animation"), "item_id"]
    popular = sample.interactions["item_id"].value_counts()
    pair = popular[popular.index.isin(animated)].index[:2].tolist()
    model.fold_in_users(pd.DataFrame({"user_id": "two", "item_id": pair}))
    item = model.recommend(["two"], k=1, domain="family")["item_id"].iloc[0]
    explanation = model.explain("two", item, n_history=10)
    supports = {h["item_id"]: h["support"] for h in explanation["history"]}
    assert set(supports) == set(pair), explanation["history"]  # both support the top item
    assert sum(supports.values()) == pytest.approx(explanation["score"], rel=1e-4)


def test_zero_cross_domain_weight_lists_no_other_domain_support(fitted_sample_model, user_domains, sample):
    """A user whose history is all in one domain, explained for an item of another domain."""
    has_text = set(sample.users["user_id"])
    single = user_domains[((user_domains > 0).sum(axis=1) == 1) & ~user_domains.index.isin(has_text)]
    assert len(single) >= 1
    for user in single.index:
        own_domain = single.columns[(single.loc[user] > 0).to_numpy()][0]
        target = next(d for d in DOMAINS if d != own_domain)
        item = fitted_sample_model.recommend([user], k=1, domain=target, cross_domain_weight=1.0)["item_id"].iloc[0]
        at_zero = fitted_sample_model.explain(user, item, cross_domain_weight=0.0)
        assert at_zero["history"] == [], at_zero["history"]
        # the history-driven components know nothing about this user at weight 0
        for name in ("als", "semantic", "itemknn"):
            assert at_zero["components"][name]["contribution"] == 0.0, (name, at_zero["components"])
        pair = pd.DataFrame({"user_id": [user], "item_id": [item]})
        assert abs(at_zero["score"] - fitted_sample_model.predict(pair, cross_domain_weight=0.0)[0]) < 1e-4
        # while at weight 1 the other-domain history supports the item
        at_one = fitted_sample_model.explain(user, item, cross_domain_weight=1.0)
        assert at_one["history"] and {h["domain"] for h in at_one["history"]} == {own_domain}


# ------------------------------------------------------------------------------------- user text
def test_user_text_is_reported_for_users_with_text(fitted_sample_model, sample, text_users):
    texts = sample.users.set_index("user_id")["text"]
    for user in [2] + text_users[1:3]:
        item = fitted_sample_model.recommend([user], k=1, domain="drama")["item_id"].iloc[0]
        explanation = fitted_sample_model.explain(user, item)
        user_text = explanation["user_text"]
        assert user_text is not None, user
        assert user_text["text"] in (str(texts[user]).strip(), clean_text(texts[user]))
        assert -1.0 - 1e-6 <= user_text["similarity"] <= 1.0 + 1e-6
        # the similarity is the cosine of the user's text and the item's text
        vectors = fitted_sample_model.encoder_.encode([texts[user], sample.items.set_index("item_id").loc[item, "text"]])
        assert user_text["similarity"] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-4)
        assert np.isfinite(user_text["contribution"])


def test_user_text_is_absent_for_users_without_text(fitted_sample_model, plain_users):
    user = plain_users[1]
    item = fitted_sample_model.recommend([user], k=1)["item_id"].iloc[0]
    assert fitted_sample_model.explain(user, item)["user_text"] is None


def test_sentence_names_the_item_its_score_and_the_user(fitted_sample_model, sample, text_users, plain_users):
    for user in [2, plain_users[1]]:
        recs = fitted_sample_model.recommend([user], k=3, domain="thriller")
        for item in recs["item_id"]:
            explanation = fitted_sample_model.explain(user, item)
            sentence = explanation["sentence"]
            assert isinstance(sentence, str) and sentence.strip()
            assert _title(sample, item)[:50] in sentence, sentence
            assert f"{explanation['score']:.2f}" in sentence
            assert str(user) in sentence
            for entry in explanation["history"]:  # the supporting items are named too
                assert _title(sample, entry["item_id"])[:30] in sentence, sentence
    without = fitted_sample_model.explain(plain_users[1], fitted_sample_model.recommend([plain_users[1]], k=1)["item_id"].iloc[0])
    assert "own text" not in without["sentence"]


def test_sentence_of_a_long_title_is_shortened_but_recognisable(fitted_sample_model, sample):
    long = sample.items.loc[sample.items["title"].str.len() > 70].iloc[0]
    user = sample.interactions["user_id"].iloc[0]
    sentence = fitted_sample_model.explain(user, long["item_id"])["sentence"]
    assert long["title"][:40] in sentence
    assert len(sentence) < 1000


# ------------------------------------------------------------------------ recommend(explain=True)
@pytest.mark.parametrize("domain", [None, "family"])
def test_recommend_with_explain_adds_contributions_and_sentences(fitted_sample_model, sample, plain_users, domain):
    users = [2] + plain_users[:2]
    plain = fitted_sample_model.recommend(users, k=5, domain=domain)
    recs = fitted_sample_model.recommend(users, k=5, domain=domain, explain=True)
    assert list(recs.columns) == list(plain.columns) + ["contributions", "explanation"]
    pd.testing.assert_frame_equal(recs[plain.columns], plain)
    for row in recs.itertuples(index=False):
        assert set(row.contributions) == set(fitted_sample_model.weights_)
        assert abs(sum(row.contributions.values()) - row.score) < 1e-4
        assert isinstance(row.explanation, str) and _title(sample, row.item_id)[:50] in row.explanation
    if domain is not None:  # within a domain, the rows are what explain() says
        for row in recs.itertuples(index=False):
            single = fitted_sample_model.explain(row.user_id, row.item_id)
            assert single["sentence"] == row.explanation
            assert single["components"]["als"]["contribution"] == pytest.approx(row.contributions["als"], abs=1e-5)


def test_recommend_with_explain_for_a_user_with_text_mentions_it(fitted_sample_model):
    """User 2 wrote about Scorsese, DiCaprio, boxing, drugs: their text matches their top dramas."""
    recs = fitted_sample_model.recommend([2], k=5, domain="drama", explain=True)
    similarity = [fitted_sample_model.explain(2, item)["user_text"]["similarity"] for item in recs["item_id"]]
    assert sum(s > 0 for s in similarity) >= 3, similarity
    for sentence, sim in zip(recs["explanation"], similarity):
        assert ("own text" in sentence) == (sim > 0), sentence
        if sim > 0:
            assert f"cosine {sim:.2f}" in sentence


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("user, item", [(-5, 1), ("nobody", 1), (1, -5), (1, "no-such-film")])
def test_explain_unknown_user_or_item_raises(fitted_sample_model, user, item):
    with pytest.raises(ValueError) as excinfo:
        fitted_sample_model.explain(user, item)
    bad = user if user in (-5, "nobody") else item
    assert repr(bad) in str(excinfo.value), str(excinfo.value)
    assert_raised_by_us(excinfo)


@pytest.mark.parametrize("weight", [-0.5, 2, "all"])
def test_explain_validates_cross_domain_weight(fitted_sample_model, weight):
    with pytest.raises(ValueError, match="cross_domain_weight") as excinfo:
        fitted_sample_model.explain(1, 1, cross_domain_weight=weight)
    assert_raised_by_us(excinfo)


def test_explain_before_fit_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        hr.HybridRecommender().explain(1, 1)
