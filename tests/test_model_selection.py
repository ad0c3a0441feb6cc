"""tune_blend: grid search of blend weights and cross_domain_weight on validation users."""
from __future__ import annotations

import copy

import pytest
from sklearn.model_selection import ParameterSampler

import hybridrec as hr
from hybridrec.components import ALSComponent, ItemKNNComponent, PopularityComponent
from hybridrec.evaluation import evaluate, random_split
from hybridrec.model_selection import tune_blend


@pytest.fixture(scope="module")
def split(sample):
    return random_split(sample.interactions, test_size=0.2, valid_size=0.1, seed=0, items=sample.items)


def fitted(split):
    comps = [("als", ALSComponent(factors=16)), ("itemknn", ItemKNNComponent()), ("popularity", PopularityComponent())]
    model = hr.HybridRecommender(components=comps, weights={"als": 1, "itemknn": 1, "popularity": 1}, random_state=0)
    return model.fit(split.train, items=split.items)


GRID = {"weights__als": [0, 1], "weights__itemknn": [0, 1], "weights__popularity": [0, 0.5], "cross_domain_weight": [0.0, 1.0]}


def test_grid_is_reported_whole_sorted_and_the_best_is_applied(split):
    model = fitted(split)
    result = tune_blend(model, split, GRID)
    # 2 * 2 * 2 weight combinations, minus the all-zero one, times 2 cross-domain weights
    assert len(result) == 7 * 2
    assert result["ndcg@10"].is_monotonic_decreasing
    assert {"weights__als", "cross_domain_weight", "recall@10", "mrr", "auc", "n_users"} <= set(result.columns)
    best = result.attrs["best_params"]
    assert model.weights_ == {name: float(best[f"weights__{name}"]) for name in model.components_}
    assert model.cross_domain_weight == best["cross_domain_weight"]
    # The model, as tuned, scores exactly what the grid said on the validation users.
    again = evaluate(model, split, users="valid").query("domain == 'all' and group == 'all' and metric == 'ndcg'")
    assert again["value"].iloc[0] == pytest.approx(result["ndcg@10"].iloc[0], abs=1e-9)
    # A blend beats popularity alone on this data.
    pop_only = result[(result.weights__als == 0) & (result.weights__itemknn == 0)]["ndcg@10"].max()
    assert result["ndcg@10"].iloc[0] > pop_only


def test_component_scores_are_reused_not_recomputed(split, monkeypatch):
    model = fitted(split)
    calls = {"n": 0}
    als = model.components_["als"]
    original = als.user_state

    def counting(users):
        calls["n"] += 1
        return original(users)

    monkeypatch.setattr(als, "user_state", counting)
    factors = als.item_factors_
    tune_blend(model, split, {"weights__als": [0.5, 1], "weights__itemknn": [0, 0.5, 1]}, refit=False)
    few = calls["n"]
    calls["n"] = 0
    model = copy.copy(model)  # a copy has no cached user states, so both searches start equal
    tune_blend(model, split, {"weights__als": [0.25, 0.5, 0.75, 1], "weights__itemknn": [0, 0.25, 0.5, 0.75, 1]}, refit=False)
    # 20 candidates cost what 6 did: one scoring pass per cross-domain weight, not per candidate.
    assert calls["n"] == few > 0
    calls["n"] = 0
    tune_blend(model, split, {"weights__als": [0.5, 1]}, refit=False)
    assert calls["n"] == 0  # the same users again: every state comes from the cache
    assert model.components_["als"].item_factors_ is factors  # nothing refitted


def test_sklearn_style_grids_work(split):
    model = fitted(split)
    listed = tune_blend(model, split, [{"weights__als": [1]}, {"weights__itemknn": [1], "weights__als": [0]}], refit=False)
    assert len(listed) == 2
    sampled = list(ParameterSampler({"weights__als": [0, 0.5, 1], "weights__itemknn": [0.5, 1]}, n_iter=4, random_state=0))
    assert len(tune_blend(model, split, sampled, refit=False)) == 4


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"als__factors": [8]}, "unknown keys"),
        ({"weights__nope": [1]}, "unknown keys"),
        ({"weights__als": [0], "weights__itemknn": [0], "weights__popularity": [0]}, "all weights to 0"),
        ({"cross_domain_weight": [1.5]}, "cross_domain_weight"),
        ([], "empty"),
    ],
)
def test_bad_grids_are_rejected(split, grid, message):
    model = fitted(split)
    with pytest.raises(ValueError, match=message):
        tune_blend(model, split, grid)


def test_an_empty_grid_scores_the_current_blend(split):
    model = fitted(split)
    result = tune_blend(model, split, {}, refit=False)
    current = evaluate(model, split, users="valid").query("domain == 'all' and group == 'all' and metric == 'ndcg'")
    assert len(result) == 1 and result["ndcg@10"].iloc[0] == pytest.approx(current["value"].iloc[0])


def test_tuning_requires_a_fitted_model(split):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        tune_blend(hr.HybridRecommender(), split, GRID)


def test_cold_user_validation_users_are_scored_from_their_revealed_history(sample):
    from hybridrec.evaluation import cold_user_split

    split = cold_user_split(sample.interactions, test_size=0.1, valid_size=0.1, n_given=5, seed=0, items=sample.items)
    model = fitted(split)
    result = tune_blend(model, split, {"weights__als": [0, 1], "weights__popularity": [0, 1], "weights__itemknn": [0, 1]})
    assert len(result) == 7 and result["n_users"].iloc[0] > 0
    assert result["ndcg@10"].nunique() > 1  # the weights matter for these unseen users
    # The tuned model, scoring the validation users through score_new, reproduces the best row.
    again = evaluate(model, split, users="valid").query("domain == 'all' and group == 'all' and metric == 'ndcg'")
    assert again["value"].iloc[0] == pytest.approx(result["ndcg@10"].iloc[0], abs=1e-9)


def test_tune_blend_with_texts_scores_users_from_their_text_alone(split, sample):
    """Users known only by a text: every candidate's figure equals evaluating ``score_new`` with
    those texts and no history, and differs from tuning the same users by their history."""
    import pandas as pd

    from hybridrec.components import SemanticComponent

    comps = [("als", ALSComponent(factors=16)), ("semantic", SemanticComponent())]
    model = hr.HybridRecommender(components=comps, weights={"als": 1, "semantic": 1}, random_state=0)
    model.fit(split.train, items=split.items)
    titles = split.items.set_index("item_id")["text"]
    first = split.train.groupby("user_id")["item_id"].apply(lambda s: ". ".join(titles[s.iloc[:3]]))
    texts = first[first.index.isin(split.valid["user_id"])]
    grid = [{"weights": {"als": 1.0, "semantic": 0.0}}, {"weights": {"als": 0.5, "semantic": 1.0}}]
    by_text = tune_blend(model, split, grid, texts=texts, refit=False)
    by_history = tune_blend(model, split, grid, refit=False)
    empty = pd.DataFrame({"user_id": pd.Series([], dtype=object), "item_id": pd.Series([], dtype=object)})
    for row in by_text.to_dict("records"):
        w = row["weights"]
        direct = evaluate(lambda u, i, w=w: model.score_new(empty, u, i, texts=texts, weights=w), split, users="valid")
        value = direct.query("domain == 'all' and group == 'all' and metric == 'ndcg'")["value"].iloc[0]
        assert row["ndcg@10"] == pytest.approx(value, abs=1e-9)
    assert by_text["ndcg@10"].max() < by_history["ndcg@10"].max()  # three titles say less than the whole history
    with pytest.raises(ValueError, match="'texts' parameter of tune_blend"):
        tune_blend(model, split, grid, texts=["not", "a", "mapping"])
