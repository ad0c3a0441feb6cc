"""Bad input raises ValueError (or NotFittedError) that names the parameter or column and the value.

Every error must come from hybridrec itself, never from deep inside LightFM, implicit or torch.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import pytest
from sklearn.exceptions import NotFittedError

import hybridrec as hr
from _helpers import assert_raised_by_us
from hybridrec.components import ALSComponent

INTERACTIONS = pd.DataFrame(
    {"user_id": ["u1", "u1", "u2", "u3", "u3"], "item_id": ["a", "b", "b", "c", "a"], "weight": [1.0, 2.0, 1.0, 1.0, 3.0]}
)
ITEMS = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "text": ["apple", "bread", "cheese", "dates"],
                      "domain": ["food", "food", "food", "kitchen"]})


def _fit(interactions=INTERACTIONS, items=ITEMS, users=None, weights=None, **kwargs):
    params = {k: kwargs.pop(k) for k in list(kwargs) if k in hr.HybridRecommender().get_params(deep=False)}
    model = hr.HybridRecommender(weights=weights or {"als": 1.0}, random_state=0, **params)
    return model.fit(interactions, items, users, **kwargs)


def _check(excinfo, *fragments):
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in message: {message}"
    assert_raised_by_us(excinfo)


@pytest.fixture(scope="module")
def fitted() -> hr.HybridRecommender:
    return _fit()


# ------------------------------------------------------------------------------------- fit: tables
def test_missing_interaction_column():
    with pytest.raises(ValueError) as excinfo:
        _fit(INTERACTIONS.drop(columns="item_id"))
    _check(excinfo, "'item_id'", "item_col", "interactions")


def test_custom_column_name_that_is_absent():
    with pytest.raises(ValueError) as excinfo:
        _fit(user_col="customer")
    _check(excinfo, "'customer'", "user_col")


def test_missing_item_column_in_items():
    with pytest.raises(ValueError) as excinfo:
        _fit(items=ITEMS.rename(columns={"item_id": "sku"}))
    _check(excinfo, "items", "'item_id'")


def test_missing_text_column_in_items():
    with pytest.raises(ValueError) as excinfo:
        _fit(text_col="description")
    _check(excinfo, "description", "text_col")


def test_missing_user_text_column():
    users = pd.DataFrame({"user_id": ["u1"], "bio": ["hi"]})
    with pytest.raises(ValueError) as excinfo:
        _fit(users=users)
    _check(excinfo, "'text'", "user_text_col")


@pytest.mark.parametrize("column", ["user_id", "item_id"])
@pytest.mark.parametrize("missing", [np.nan, None])
def test_missing_ids_in_interactions(column, missing):
    bad = INTERACTIONS.astype({column: object}).copy()
    bad.loc[3, column] = missing
    with pytest.raises(ValueError) as excinfo:
        _fit(bad)
    _check(excinfo, f"interactions['{column}']", "missing", "[3]")


def test_missing_ids_in_items():
    bad = ITEMS.astype({"item_id": object}).copy()
    bad.loc[2, "item_id"] = None
    with pytest.raises(ValueError) as excinfo:
        _fit(items=bad)
    _check(excinfo, "items['item_id']", "missing", "[2]")


def test_empty_interactions():
    with pytest.raises(ValueError) as excinfo:
        _fit(INTERACTIONS.iloc[:0])
    _check(excinfo, "interactions", "empty")


def test_interactions_must_be_a_frame():
    with pytest.raises(ValueError) as excinfo:
        _fit([("u1", "a")])
    _check(excinfo, "interactions", "DataFrame", "list")


@pytest.mark.parametrize("bad, shown", [(-2.0, "-2.0"), (np.inf, "inf"), (np.nan, "nan")])
def test_bad_interaction_weights(bad, shown):
    frame = INTERACTIONS.copy()
    frame.loc[1, "weight"] = bad
    with pytest.raises(ValueError) as excinfo:
        _fit(frame)
    _check(excinfo, "'weight'", shown, "[1]")


def test_non_numeric_interaction_weights():
    frame = INTERACTIONS.astype({"weight": object})
    frame.loc[0, "weight"] = "lots"
    with pytest.raises(ValueError) as excinfo:
        _fit(frame)
    _check(excinfo, "'weight'", "numeric")


def test_interaction_with_an_item_missing_from_items():
    frame = pd.concat([INTERACTIONS, pd.DataFrame({"user_id": ["u9"], "item_id": ["zzz"], "weight": [1.0]})])
    with pytest.raises(ValueError) as excinfo:
        _fit(frame)
    _check(excinfo, "'zzz'", "items")


def test_duplicate_item_ids_in_items():
    with pytest.raises(ValueError) as excinfo:
        _fit(items=pd.concat([ITEMS, ITEMS.iloc[[1]]]))
    _check(excinfo, "duplicate", "'b'")


def test_bad_duplicates_option():
    with pytest.raises(ValueError) as excinfo:
        _fit(duplicates="mean")
    _check(excinfo, "'duplicates'", "'mean'", "'sum'", "'max'")


def test_missing_domain_of_an_item():
    bad = ITEMS.copy()
    bad.loc[0, "domain"] = None
    with pytest.raises(ValueError) as excinfo:
        _fit(items=bad)
    _check(excinfo, "'domain'", "[0]")


# ------------------------------------------------------------------------------ fit: parameters
@pytest.mark.parametrize(
    "weights, fragments",
    [
        ({"als": 0.0, "itemknn": 0}, ["'weights'", "at least one", "'als': 0.0"]),
        ({}, ["'weights'", "at least one"]),
        ({"als": -1.0}, ["'weights'", "'als'", "-1.0"]),
        ({"als": float("nan")}, ["'weights'", "'als'", "nan"]),
        ({"als": "high"}, ["'weights'", "'als'", "'high'"]),
        ({"als": 1.0, "deep_net": 1.0}, ["'weights'", "deep_net", "als"]),
        ([("als", 1.0)], ["'weights'", "dict"]),
    ],
)
def test_bad_weights(weights, fragments):
    model = hr.HybridRecommender(weights=weights)
    with pytest.raises(ValueError) as excinfo:
        model.fit(INTERACTIONS, ITEMS)
    _check(excinfo, *fragments)


@pytest.mark.parametrize("bad", ["l2", "", None])
def test_bad_normalization(bad):
    with pytest.raises(ValueError) as excinfo:
        _fit(normalization=bad)
    _check(excinfo, "'normalization'", repr(bad), "zscore")


@pytest.mark.parametrize("bad", [-0.5, 1.01, "half"])
def test_bad_cross_domain_weight_in_fit(bad):
    with pytest.raises(ValueError) as excinfo:
        _fit(cross_domain_weight=bad)
    _check(excinfo, "'cross_domain_weight'", repr(bad), "[0, 1]")


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError) as excinfo:
        _fit(batch_size=bad)
    _check(excinfo, "'batch_size'", repr(bad))


@pytest.mark.parametrize(
    "param, value, fragment",
    [
        ("als__factors", 0, "'factors'"),
        ("als__factors", 2.5, "'factors'"),
        ("als__iterations", -1, "'iterations'"),
        ("als__regularization", -0.1, "'regularization'"),
        ("als__alpha", 0, "'alpha'"),
        ("lightfm__loss", "hinge", "'loss'"),
        ("lightfm__epochs", 0, "'epochs'"),
        ("lightfm__no_components", -4, "'no_components'"),
        ("lightfm__learning_rate", -0.05, "'learning_rate'"),
        ("itemknn__k", 0, "'k'"),
        ("semantic__user_text_weight", -1.0, "'user_text_weight'"),
    ],
)
def test_bad_component_parameters(param, value, fragment):
    name = param.split("__")[0]
    model = hr.HybridRecommender(weights={name: 1.0}, random_state=0).set_params(**{param: value})
    with pytest.raises(ValueError) as excinfo:
        model.fit(INTERACTIONS, ITEMS)
    _check(excinfo, fragment, repr(value))


def test_duplicate_component_names():
    model = hr.HybridRecommender(components=[("als", ALSComponent()), ("als", ALSComponent(factors=8))])
    with pytest.raises(ValueError) as excinfo:
        model.fit(INTERACTIONS, ITEMS)
    _check(excinfo, "'components'", "duplicate", "als")


def test_component_that_is_not_a_component():
    model = hr.HybridRecommender(components=[("als", ALSComponent()), ("mine", object())], weights={"als": 1.0})
    with pytest.raises(ValueError) as excinfo:
        model.fit(INTERACTIONS, ITEMS)
    _check(excinfo, "'components'", "'mine'", "object")


# --------------------------------------------------------------------------------- text encoder
def test_text_encoder_with_a_missing_model_path(tmp_path):
    encoder = hr.TextEncoder(model=str(tmp_path / "no-such-model"), cache_dir=None)
    with pytest.raises(ValueError) as excinfo:
        encoder.encode(["hello"])
    _check(excinfo, "no-such-model", "Could not load")


@pytest.mark.parametrize("bad", [0, -8, 1.5])
def test_text_encoder_bad_batch_size(bad):
    with pytest.raises(ValueError) as excinfo:
        hr.TextEncoder(batch_size=bad, cache_dir=None).encode(["hello"])
    _check(excinfo, "'batch_size'", repr(bad))


# ------------------------------------------------------------------------------------ not fitted
@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.recommend(["u1"], k=3),
        lambda m: m.predict(pd.DataFrame({"user_id": ["u1"], "item_id": ["a"]})),
        lambda m: m.score_items(["u1"]),
    ],
    ids=["recommend", "predict", "score_items"],
)
def test_use_before_fit(call):
    with pytest.raises(NotFittedError):
        call(hr.HybridRecommender())


# --------------------------------------------------------------------------------- call arguments
@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True, None, np.float64(3.0)])
def test_bad_k(fitted, bad):
    with pytest.raises(ValueError) as excinfo:
        fitted.recommend(["u1"], k=bad)
    _check(excinfo, "'k'", "positive int", repr(bad))


def test_numpy_int_k_is_fine(fitted):
    assert len(fitted.recommend(["u2"], k=np.int64(2))) == 2


@pytest.mark.parametrize("bad", ["garden", "Food", ""])
def test_unknown_domain(fitted, bad):
    with pytest.raises(ValueError) as excinfo:
        fitted.recommend(["u1"], k=2, domain=bad)
    _check(excinfo, repr(bad), "food", "kitchen")


def test_domain_of_the_wrong_type(fitted):
    with pytest.raises(ValueError) as excinfo:
        fitted.recommend(["u1"], k=2, domain=1)
    _check(excinfo, "'domain'", "1")


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.recommend(["u1", "stranger"], k=2),
        lambda m: m.recommend("stranger", k=2),
        lambda m: m.predict(pd.DataFrame({"user_id": ["u1", "stranger"], "item_id": ["a", "b"]})),
        lambda m: m.score_items(["stranger"]),
    ],
    ids=["recommend", "recommend-single", "predict", "score_items"],
)
def test_unknown_user_ids(fitted, call):
    with pytest.raises(ValueError) as excinfo:
        call(fitted)
    _check(excinfo, "'stranger'")


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.predict(pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["a", "ghost"]})),
        lambda m: m.score_items(["u1"], ["a", "ghost"]),
    ],
    ids=["predict", "score_items"],
)
def test_unknown_item_ids(fitted, call):
    with pytest.raises(ValueError) as excinfo:
        call(fitted)
    _check(excinfo, "'ghost'")


def test_predict_without_the_id_columns(fitted):
    with pytest.raises(ValueError) as excinfo:
        fitted.predict(pd.DataFrame({"user": ["u1"], "item_id": ["a"]}))
    _check(excinfo, "'user_id'", "pairs")


def test_predict_needs_a_frame(fitted):
    with pytest.raises(ValueError) as excinfo:
        fitted.predict([("u1", "a")])
    _check(excinfo, "pairs", "DataFrame")


def test_errors_on_the_full_default_model_come_from_hybridrec(fitted_sample_model, sample):
    """The same checks hold on a model with every component fitted (LightFM, implicit, torch inside)."""
    user = sample.interactions["user_id"].iloc[0]
    with pytest.raises(ValueError) as excinfo:
        fitted_sample_model.recommend([user], k=0)
    _check(excinfo, "'k'", "0")
    with pytest.raises(ValueError) as excinfo:
        fitted_sample_model.recommend([user], k=3, domain="books")
    _check(excinfo, "'books'", "drama")
    with pytest.raises(ValueError) as excinfo:
        fitted_sample_model.recommend([-12345], k=3)
    _check(excinfo, "-12345")


def test_a_k_beyond_the_catalogue_returns_every_unseen_item_without_a_giant_allocation(fitted):
    """k=10**12 once tried to allocate a (users, k) block of 7 TiB."""
    out = fitted.recommend("u1", k=10**12, exclude_seen=False)
    assert sorted(out["item_id"]) == ["a", "b", "c", "d"] and out["rank"].tolist() == [1, 2, 3, 4]
    assert len(fitted.recommend("u1", k=10**12, domain="food")) == 1  # u1 saw a and b; c is left


@pytest.mark.parametrize("grid", [{"": []}, {"weights": []}, 5, "weights", [1, 2]])
def test_tune_blend_refuses_a_bad_grid_itself(fitted, grid):
    """Found by fuzzing: an empty list in a grid failed inside scikit-learn's ParameterGrid."""
    from hybridrec.evaluation import random_split
    from hybridrec.model_selection import tune_blend

    split = random_split(INTERACTIONS, test_size=0.4, valid_size=0.3, seed=0, items=ITEMS)
    with pytest.raises(ValueError, match="'param_grid' parameter of tune_blend") as excinfo:
        tune_blend(fitted, split, grid, refit=False)
    _check(excinfo)


def test_metrics_and_tune_blend_with_a_huge_k_do_not_allocate_it(fitted):
    """Found by fuzzing: tune_blend(k=10**12) built an array of k discounts and was killed for memory."""
    from hybridrec.evaluation import random_split
    from hybridrec.evaluation.metrics import ranking_metrics
    from hybridrec.model_selection import tune_blend

    scores = np.array([[0.3, 0.9, 0.1], [0.5, 0.2, 0.4]])
    relevant = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1]]))
    huge = ranking_metrics(scores, relevant, k=10**12)
    whole = ranking_metrics(scores, relevant, k=3)
    pd.testing.assert_series_equal(huge["ndcg"], whole["ndcg"])
    split = random_split(INTERACTIONS, test_size=0.4, valid_size=0.3, seed=0, items=ITEMS)
    tune_blend(fitted, split, {"cross_domain_weight": [0.0, 1.0]}, k=10**12, refit=False, users="test")
