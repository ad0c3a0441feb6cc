"""scikit-learn conventions: get_params / set_params (nested), clone, fit returns self."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import hybridrec as hr
from hybridrec.components import ALSComponent, ItemKNNComponent, LightFMComponent, SemanticComponent
from hybridrec.recommender import default_components


def _plain(params: dict) -> dict:
    """Parameters with estimator objects replaced by (type, their params) so they compare by value."""
    out = {}
    for key, value in params.items():
        if hasattr(value, "get_params"):
            out[key] = (type(value).__name__, value.get_params())
        elif key == "components" and value is not None:
            out[key] = [(name, type(c).__name__, c.get_params()) for name, c in value]
        else:
            out[key] = value
    return out


def test_init_only_stores_parameters():
    model = hr.HybridRecommender(weights={"als": 2.0}, cross_domain_weight=0.3, normalization="minmax", random_state=7)
    params = model.get_params(deep=False)
    assert params["weights"] == {"als": 2.0}
    assert params["cross_domain_weight"] == 0.3
    assert params["normalization"] == "minmax"
    assert params["random_state"] == 7
    # bad values are only rejected by fit (scikit-learn convention)
    hr.HybridRecommender(cross_domain_weight=5.0, normalization="bogus", weights={"nope": 1})


def test_nested_set_params_and_get_params():
    model = hr.HybridRecommender(random_state=0)
    returned = model.set_params(als__factors=16, lightfm__epochs=3, encoder__batch_size=8, itemknn__k=20)
    assert returned is model
    params = model.get_params(deep=True)
    assert params["als__factors"] == 16
    assert params["lightfm__epochs"] == 3
    assert params["encoder__batch_size"] == 8
    assert params["itemknn__k"] == 20
    assert isinstance(params["als"], ALSComponent) and params["als"].factors == 16
    assert isinstance(params["encoder"], hr.TextEncoder) and params["encoder"].batch_size == 8
    # untouched nested parameters keep their defaults
    assert params["als__iterations"] == ALSComponent().iterations
    assert params["lightfm__loss"] == LightFMComponent().loss
    # shallow params do not list nested ones
    assert not any("__" in key for key in model.get_params(deep=False))


def test_set_params_replaces_a_component():
    model = hr.HybridRecommender()
    replacement = ALSComponent(factors=8, iterations=3)
    model.set_params(als=replacement)
    params = model.get_params()
    assert params["als"] is replacement
    assert params["als__factors"] == 8
    assert params["als__iterations"] == 3
    names = [name for name, _ in model.components]
    assert names == [name for name, _ in default_components()]  # same slot, same order
    assert sum(isinstance(c, ALSComponent) for _, c in model.components) == 1


def test_unknown_parameter_is_rejected_with_its_name():
    with pytest.raises(ValueError, match="colour"):
        hr.HybridRecommender().set_params(colour="red")
    with pytest.raises(ValueError, match="nosuch"):
        hr.HybridRecommender().set_params(nosuch__factors=3)
    with pytest.raises(ValueError, match="bogus"):
        hr.HybridRecommender().set_params(als__bogus=3)


def test_get_params_round_trips_through_set_params():
    source = hr.HybridRecommender(cross_domain_weight=0.2, random_state=3).set_params(
        als__factors=12, semantic__user_text_weight=0.5, encoder__batch_size=16
    )
    target = hr.HybridRecommender().set_params(**source.get_params(deep=True))
    assert _plain(target.get_params(deep=True)) == _plain(source.get_params(deep=True))


def test_clone_gives_an_unfitted_estimator_with_equal_params(sample):
    model = hr.HybridRecommender(weights={"als": 1.0}, cross_domain_weight=0.25, random_state=0).set_params(
        als__factors=8, als__iterations=3, encoder__batch_size=32
    )
    model.fit(sample.interactions, items=sample.items)
    copy = clone(model)
    assert type(copy) is hr.HybridRecommender
    assert _plain(copy.get_params(deep=True)) == _plain(model.get_params(deep=True))
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    with pytest.raises(NotFittedError):
        copy.recommend([1], k=3)
    # a deep copy: changing the clone's nested params leaves the original alone
    copy.set_params(als__factors=99, encoder__batch_size=2)
    assert model.get_params()["als__factors"] == 8
    assert model.get_params()["encoder__batch_size"] == 32
    # and fitting the clone gives the same model
    copy.set_params(als__factors=8)
    copy.fit(sample.interactions, items=sample.items)
    np.testing.assert_array_equal(copy.components_["als"].item_factors_, model.components_["als"].item_factors_)


def test_fit_returns_self_and_does_not_touch_parameter_components(sample):
    als = ALSComponent(factors=8, iterations=2)
    model = hr.HybridRecommender(components=[("als", als), ("knn", ItemKNNComponent(k=10))], random_state=0)
    assert model.fit(sample.interactions, items=sample.items) is model
    check_is_fitted(model)
    assert set(model.components_) == {"als", "knn"}
    assert model.components_["als"] is not als
    assert not hasattr(als, "item_factors_")  # the parameter stays an unfitted template
    assert model.components_["knn"].k == 10


@pytest.fixture(scope="module")
def small(sample):
    """The first 80 movies of the sample with their interactions and users (cheap to encode)."""
    items = sample.items.iloc[:80]
    interactions = sample.interactions[sample.interactions["item_id"].isin(items["item_id"])]
    users = sample.users[sample.users["user_id"].isin(interactions["user_id"])]
    return interactions, items, users


def test_nested_params_reach_the_fitted_components(small):
    interactions, items, _ = small
    model = hr.HybridRecommender(weights={"als": 1.0, "semantic": 1.0}, random_state=0).set_params(
        als__factors=8, als__iterations=2, encoder__batch_size=16
    )
    model.fit(interactions, items=items)
    assert model.components_["als"].item_factors_.shape == (len(items), 8)
    assert model.encoder_.batch_size == 16
    assert set(model.components_) == {"als", "semantic"}  # components with weight 0 are not fitted
    assert model.weights_ == {"als": 1.0, "semantic": 1.0}


def test_replaced_component_is_the_one_fitted(small):
    interactions, items, users = small
    model = hr.HybridRecommender(weights={"semantic": 1.0}, random_state=0)
    model.set_params(semantic=SemanticComponent(user_text_weight=0.0))
    model.fit(interactions, items=items, users=users)
    assert model.components_["semantic"].user_text_weight == 0.0
    # the replacement's parameter drives scoring: ignoring a user's own text changes their scores
    with_text = hr.HybridRecommender(weights={"semantic": 1.0}, random_state=0).fit(
        interactions, items=items, users=users
    )
    user = users["user_id"].iloc[0]
    assert not np.allclose(model.score_items([user]), with_text.score_items([user]))


def test_scoring_time_params_set_after_fit_take_effect_on_the_next_call(small):
    """ALS solves users at scoring time with its regularization: set_params on the fitted model
    changes the next scores (never the cached ones), exactly as a model built with that value."""
    interactions, items, _ = small
    model = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).set_params(als__factors=8, als__iterations=2)
    model.fit(interactions, items=items)
    user = interactions["user_id"].iloc[0]
    before = model.score_items([user])  # fills the cache of known users' states
    fitted = model.components_["als"]
    model.set_params(als__regularization=50.0)
    assert model.components_["als"].regularization == 50.0 and fitted.regularization == 0.1
    after = model.score_items([user])
    assert not np.allclose(after, before)
    twin = hr.HybridRecommender(weights={"als": 1.0}, random_state=0).set_params(als__factors=8, als__iterations=2)
    twin.fit(interactions, items=items).set_params(als__regularization=50.0)
    np.testing.assert_allclose(after, twin.score_items([user]), rtol=1e-5, atol=1e-6)
    model.set_params(als__regularization=0.1)
    np.testing.assert_allclose(model.score_items([user]), before, rtol=1e-6, atol=1e-7)


def test_fit_time_params_set_after_fit_wait_for_the_next_fit(small):
    interactions, items, _ = small
    model = hr.HybridRecommender(weights={"als": 1.0, "semantic": 1.0}, random_state=0).set_params(
        als__factors=8, als__iterations=2)
    model.fit(interactions, items=items)
    fitted = model.components_
    model.set_params(als__factors=4)
    assert model.components_ is fitted and fitted["als"].item_factors_.shape[1] == 8
    assert model.fit(interactions, items=items).components_["als"].item_factors_.shape[1] == 4
    with pytest.raises(ValueError, match="fitted with hubness_correction=0.*refit"):
        model.set_params(semantic__hubness_correction=1.0)
    assert model.components_["semantic"].hubness_correction == 0.0
    assert model.get_params()["semantic__hubness_correction"] == 0.0  # a refused call changes nothing
