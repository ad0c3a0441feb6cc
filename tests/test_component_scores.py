"""The public scoring seam (component_scores), the blend policy and components recognised by capability."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.blend import blend, blend_users, effective_weights, query_weights
from hybridrec.components import ALSComponent, ItemKNNComponent, SemanticComponent


def test_blending_component_scores_gives_score_items(fitted_sample_model, sample):
    model = fitted_sample_model
    users = sample.interactions["user_id"].unique()[:25].tolist()
    parts = model.component_scores(users)
    assert set(parts) == set(model.components_)
    assert all(p.shape == (25, model.data_.n_items) and p.dtype == np.float32 for p in parts.values())
    np.testing.assert_allclose(blend(parts, model.weights_), model.score_items(users), rtol=1e-5, atol=1e-5)


def test_component_scores_for_new_users_and_queries(fitted_sample_model, sample):
    model = fitted_sample_model
    history = sample.interactions[sample.interactions["user_id"] == 1].head(20)
    new = history.assign(user_id="newcomer")
    parts = model.component_scores(["newcomer"], history=new)
    np.testing.assert_allclose(blend(parts, model.weights_), model.score_new(new, ["newcomer"]), rtol=1e-5, atol=1e-5)

    query = "animated movies about toys"
    family = sample.items.loc[sample.items["domain"] == "family", "item_id"].tolist()
    parts = model.component_scores(texts=[query], item_ids=family)
    weights = query_weights(None, model.components_)
    scores = blend_users(parts, model.weights_, weights, np.array([True]))[0]
    top = [family[i] for i in np.argsort(-scores, kind="stable")[:5]]
    assert top == model.recommend_for_text(query, k=5, domain="family")["item_id"].tolist()


def test_component_scores_overrides_leave_the_model_alone(fitted_sample_model, sample):
    model = fitted_sample_model
    users = [1, 2]
    before = model.get_params(deep=False)
    parts = model.component_scores(users, normalization="minmax", cross_domain_weight=0.0, components=["als"])
    assert list(parts) == ["als"]
    assert np.nanmin(parts["als"]) >= 0 and np.nanmax(parts["als"]) <= 1 + 1e-6
    assert model.get_params(deep=False) == before
    with pytest.raises(ValueError, match="not fitted"):
        model.component_scores(users, components=["ease"])
    with pytest.raises(ValueError, match="needs user_ids"):
        model.component_scores()
    with pytest.raises(ValueError, match="queries"):
        model.component_scores(texts={1: "a mapping needs a history"})
    with pytest.raises(ValueError, match="normalization"):
        model.component_scores(users, normalization="rank")


def test_every_fitted_component_records_its_fit_time(fitted_sample_model):
    for comp in fitted_sample_model.components_.values():
        assert isinstance(comp.fit_seconds_, float) and comp.fit_seconds_ >= 0


def test_a_component_that_cannot_score_an_item_defers_to_the_others():
    parts = {"a": np.array([[1.0, 2.0]], np.float32), "b": np.array([[3.0, np.nan]], np.float32)}
    weights = {"a": 1.0, "b": 3.0}
    np.testing.assert_allclose(blend(parts, weights), [[1.0 + 9.0, 2.0 * 4.0]])
    effective = effective_weights(parts, weights)
    np.testing.assert_allclose(effective["a"], [[1.0, 4.0]])
    np.testing.assert_allclose(effective["b"], [[3.0, 0.0]])
    both = {"a": np.array([[np.nan]], np.float32), "b": np.array([[np.nan]], np.float32)}
    assert blend(both, weights)[0, 0] == 0.0  # nobody can score it: neutral
    with pytest.raises(ValueError, match="no component with a weight"):
        blend(parts, {"c": 1.0})


def test_text_only_rows_use_the_query_weights():
    parts = {"a": np.array([[1.0], [1.0]], np.float32), "b": np.array([[2.0], [2.0]], np.float32)}
    out = blend_users(parts, {"a": 1.0}, {"b": 1.0}, np.array([False, True]))
    np.testing.assert_allclose(out, [[1.0], [2.0]])


def test_components_are_known_by_what_they_declare_not_by_their_name(sample):
    """A semantic component called 'sem' keeps its default weights, its query weight and its explanations."""
    users = sorted(sample.interactions["user_id"].unique())[:150]
    interactions = sample.interactions[sample.interactions["user_id"].isin(users)]
    model = hr.HybridRecommender(
        components=[("mf", ALSComponent(factors=16, iterations=3)), ("sem", SemanticComponent()),
                    ("knn", ItemKNNComponent())],
        random_state=0,
    ).fit(interactions, items=sample.items, users=sample.users)
    assert model.weights_ == {"mf": 1.0, "sem": 0.5, "knn": 1.0}
    assert query_weights(model.text_weights, model.components_) == {"mf": 0.5, "sem": 1.0, "knn": 0.0}
    with_text = sample.users.loc[sample.users["user_id"].isin(users), "user_id"].iloc[0]
    item = model.recommend(with_text, k=1, domain="drama")["item_id"].iloc[0]
    explanation = model.explain(with_text, item)
    assert explanation["user_text"] is not None and explanation["user_text"]["contribution"] != 0
    recs = model.recommend_for_text("a heist with a clever twist", k=3)
    assert len(recs) == 3


def test_text_weights_are_checked_in_fit(sample):
    interactions = sample.interactions.head(500)
    with pytest.raises(ValueError, match="text_weights.*unknown components"):
        hr.HybridRecommender(weights={"als": 1}, text_weights={"nope": 1}).fit(interactions, items=sample.items)
    with pytest.raises(ValueError, match="text_weights.*finite number >= 0"):
        hr.HybridRecommender(weights={"als": 1}, text_weights={"als": -1}).fit(interactions, items=sample.items)


def test_explain_and_recommend_agree_on_the_scale(fitted_sample_model, sample):
    model = fitted_sample_model
    everywhere = model.recommend(1, k=3, domain=None)
    within = model.recommend(1, k=3, domain="family")
    for frame, scope in ((everywhere, "catalogue"), (within, "domain")):
        for item, score in zip(frame["item_id"], frame["score"]):
            result = model.explain(1, item, scope=scope)
            assert result["scope"] == scope
            assert result["score"] == pytest.approx(score, rel=1e-4, abs=1e-4)
    assert "the whole catalogue" in model.explain(1, everywhere["item_id"].iloc[0], scope="catalogue")["sentence"]
    with pytest.raises(ValueError, match="'scope' parameter of explain"):
        model.explain(1, everywhere["item_id"].iloc[0], scope="galaxy")


def test_outputs_use_the_column_names_fit_was_given(sample):
    users = sorted(sample.interactions["user_id"].unique())[:100]
    interactions = sample.interactions[sample.interactions["user_id"].isin(users)].rename(
        columns={"user_id": "customer", "item_id": "product"})
    items = sample.items.rename(columns={"item_id": "product", "domain": "shelf"})
    model = hr.HybridRecommender(weights={"als": 1.0, "semantic": 0.5}, random_state=0).fit(
        interactions, items=items, user_col="customer", item_col="product", domain_col="shelf")
    recs = model.recommend(users[:2], k=3, explain=True)
    assert list(recs.columns[:5]) == ["customer", "product", "score", "rank", "shelf"]
    assert recs["explanation"].notna().all()
    assert list(model.recommend_for_text("toys", k=2).columns[:5]) == ["query", "product", "score", "rank", "shelf"]
    new = pd.DataFrame({"customer": ["x", "x"], "product": items["product"].head(2)})
    assert list(model.recommend_new(new, k=2).columns[:2]) == ["customer", "product"]
