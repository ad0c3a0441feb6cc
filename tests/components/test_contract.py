"""One battery over every registered component: the contract the recommender relies on.

Every component the registry knows (``hybridrec.components.available()``) is fitted on a small
slice of the bundled sample, weighted by its ratings (1 to 2.5) with repeated events, with a
text block, a second block (genres, encoded by ColumnEncoder), user texts and items nobody
interacted with, then checked: fit leaves the matrix as it was, a user's stored history and the
same rows posted again score alike, score shapes and dtypes, ``knows``, adding and removing
items (on copies: the fitted component is unchanged), explanations, clone and a save/load
round-trip.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import hybridrec as hr
from hybridrec import components
from hybridrec.blend import cross_domain_item_weights
from hybridrec.components import TEXT, Component, TrainingData, UserBatch
from hybridrec.modalities import ColumnEncoder

#: Cheaper settings where a component's defaults are slow; others use their defaults.
FAST = {
    "als": {"factors": 16, "iterations": 3},
    "lightfm": {"epochs": 2, "no_components": 16},
    "ease": {"min_count": 2},
    "svd": {"factors": 16},
    "tower": {"max_epochs": 2, "dim": 16, "hidden": 32, "negatives": 64},
    # the battery covers the hubness correction's path too (off by default): its offsets on the
    # 30 cold items, its retrieval vectors, its per-user probes in user_attributes
    "semantic": {"hubness_correction": 1.0},
    "textknn": {"hubness_correction": 1.0},
}
N_NEW = 3


@pytest.fixture(scope="module")
def data(sample) -> dict:
    """TrainingData on 80 users of the sample, 30 cold items, text + genre blocks, user texts."""
    users = sorted(sample.interactions["user_id"].unique())[:80]
    interactions = sample.interactions[sample.interactions["user_id"].isin(users)]
    interactions = interactions.assign(weight=interactions["rating"] - 2.5)  # ratings 3.5-5 as weights 1-2.5
    repeats = interactions.sample(frac=0.1, random_state=0).assign(timestamp=lambda f: f["timestamp"] + 1)
    interactions = pd.concat([repeats, interactions], ignore_index=True)  # repeat events, rows out of order
    used = sample.items["item_id"].isin(interactions["item_id"].unique())
    items = pd.concat([sample.items[used], sample.items[~used].head(30 + N_NEW)])
    new_items, items = items.tail(N_NEW), items.iloc[:-N_NEW]
    genres = ColumnEncoder(multilabel=["genres"]).fit(items)
    built = hr.InteractionData.from_frames(interactions, items, sample.users[sample.users["user_id"].isin(users)],
                                           item_vectors={"genres": genres.encode(items)})
    encoder = hr.TextEncoder()
    # Encode the whole catalogue first, exactly as a fit on the sample does: an embedding depends
    # (at float32 rounding) on the batch it was encoded in, and the session's cache serves every
    # later test, notebooks included.
    encoder.encode(sample.items["text"].tolist())
    training = TrainingData(
        matrix=built.matrix, item_domain=built.item_domain,
        item_blocks={TEXT: encoder.encode(built.item_texts), **built.item_blocks},
        user_blocks={TEXT: encoder.encode(built.user_texts)},
        item_ids=built.item_ids, user_ids=built.user_ids, random_state=0,
    )
    new_blocks = {TEXT: encoder.encode(new_items["text"].tolist()), "genres": genres.encode(new_items)}
    new_domains = np.array([built.domains.index(d) for d in new_items["domain"]], dtype=np.int32)
    return {"training": training, "new_blocks": new_blocks, "new_domains": new_domains, "built": built,
            "interactions": interactions}


def users_of(training: TrainingData) -> UserBatch:
    """Ten fitted users, a user known only by a text and a user with nothing, for domain 0 at weight 0.5."""
    history = training.matrix[:12].copy()
    history.data[history.indptr[10]:] = 0  # rows 10 and 11 lose their history
    history.eliminate_zeros()
    text = training.user_blocks[TEXT][:12].copy()
    text[11] = 0
    weights = cross_domain_item_weights(training.item_domain, 0, 0.5)
    return UserBatch(history, item_weights=weights, blocks={TEXT: text})


@pytest.fixture(scope="module", params=components.available())
def fitted(request, data) -> Component:
    comp = components.create(request.param, **FAST.get(request.param, {}))
    return comp.fit(data["training"])


def test_registry_names_every_class_by_its_name():
    for name in components.available():
        cls = components.get(name)
        assert cls.name == name and issubclass(cls, Component)
        assert isinstance(components.create(name), cls)
        for weight in (cls.default_weight, cls.query_weight):
            assert isinstance(weight, float) and np.isfinite(weight) and weight >= 0
    with pytest.raises(ValueError, match="Unknown component 'nope'.*Known components"):
        components.create("nope")
    with pytest.raises(ValueError, match="Invalid parameters for component 'als'"):
        components.create("als", colour="red")


def test_a_new_component_registers_by_its_name_and_clashes_are_refused():
    from hybridrec.components import _registry

    class Constant(Component):
        name = "contract_constant"

    try:
        assert "contract_constant" in components.available()
        assert isinstance(components.create("contract_constant"), Constant)
        with pytest.raises(ValueError, match="taken by"):
            type("Impostor", (Component,), {"name": "als", "__module__": "elsewhere"})
    finally:
        _registry._REGISTRY.pop("contract_constant", None)


def test_the_fixture_is_weighted_with_repeats(data):
    assert len(np.unique(data["training"].matrix.data)) > 4
    assert data["interactions"].duplicated(["user_id", "item_id"]).any()


@pytest.mark.parametrize("name", components.available())
def test_fit_leaves_the_training_matrix_as_it_was(name, data):
    training = data["training"]
    before = training.matrix.copy()
    components.create(name, **FAST.get(name, {})).fit(training)
    assert training.matrix.dtype == before.dtype and (training.matrix != before).nnz == 0
    np.testing.assert_array_equal(training.matrix.data, before.data)


def test_a_stored_history_and_the_same_rows_posted_score_alike(fitted, data):
    """What ``score_items`` reads for a fitted user (the stored row) and what ``score_new`` builds
    from that user's own raw rows (repeats and weights included) give the same scores."""
    from hybridrec.users import history_users

    built, training = data["built"], data["training"]
    rows = [0, 7, 40]
    labels = list(built.user_ids[rows])
    frame = data["interactions"][data["interactions"]["user_id"].isin(labels)]
    columns = {"user": "user_id", "item": "item_id", "weight": "weight", "timestamp": "timestamp", "duplicates": "sum"}
    posted = history_users(built, columns, None, frame, labels)
    weights = cross_domain_item_weights(training.item_domain, 0, 0.5)
    text = {TEXT: training.user_blocks[TEXT][rows]}
    stored = UserBatch(training.matrix[rows], weights, text, built.sequences.take(rows))
    new = UserBatch(posted.history, weights, text, posted.sequences)
    items = np.arange(training.matrix.shape[1])
    np.testing.assert_allclose(fitted.score(fitted.user_state(new), items), fitted.score(fitted.user_state(stored), items),
                               rtol=1e-5, atol=1e-5)


def test_scores_have_one_finite_float32_row_per_user(fitted, data):
    training = data["training"]
    items = np.arange(training.matrix.shape[1])
    batch = users_of(training)
    scores = fitted.score(fitted.user_state(batch), items)
    assert scores.shape == (len(batch), len(items)) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    subset = items[::7]
    np.testing.assert_allclose(fitted.score(fitted.user_state(batch), subset), scores[:, subset], rtol=1e-5, atol=1e-6)


def test_knows_is_one_bool_per_item(fitted, data):
    items = np.arange(data["training"].matrix.shape[1])
    known = fitted.knows(items)
    assert known.shape == items.shape and known.dtype == bool
    assert known[np.diff(data["training"].matrix.tocsc().indptr) >= 5].all()  # well-observed items are known


def test_modalities_are_blocks_the_data_has(fitted, data):
    assert isinstance(fitted.modalities(), tuple)
    assert set(fitted.modalities()) <= set(data["training"].item_blocks)


def test_adding_then_removing_items_leaves_existing_scores_unchanged(fitted, data):
    if not fitted.edits_items():
        pytest.skip(f"{type(fitted).__name__} cannot add items")
    n = data["training"].matrix.shape[1]
    items = np.arange(n)
    batch = users_of(data["training"])
    before = fitted.score(fitted.user_state(batch), items)
    comp = fitted.with_items(data["new_blocks"], data["new_domains"])
    # the fitted component itself is unchanged: item edits are planned on copies
    np.testing.assert_array_equal(fitted.score(fitted.user_state(batch), items), before)
    assert fitted.knows(items).shape == (n,)
    wider = sp.csr_matrix((batch.history.data, batch.history.indices, batch.history.indptr), shape=(len(batch), n + N_NEW))
    grown = UserBatch(wider, np.concatenate([batch.item_weights, np.ones(N_NEW, np.float32)]), batch.blocks)
    after = comp.score(comp.user_state(grown), np.arange(n + N_NEW))
    assert after.shape == (len(batch), n + N_NEW) and np.isfinite(after).all()
    np.testing.assert_allclose(after[:, :n], before, rtol=1e-5, atol=1e-5)
    assert comp.knows(np.arange(n + N_NEW)).shape == (n + N_NEW,)
    keep = np.r_[np.ones(n, bool), np.zeros(N_NEW, bool)]
    keep[n - 1] = False  # one of the original items goes too
    comp = comp.without_items(keep)
    shrunk = UserBatch(batch.history[:, :n - 1], item_weights=batch.item_weights[:n - 1], blocks=batch.blocks)
    np.testing.assert_allclose(comp.score(comp.user_state(shrunk), np.arange(n - 1)), before[:, :n - 1], rtol=1e-5, atol=1e-5)


def test_history_contributions_are_aligned_with_the_history(fitted, data):
    batch = users_of(data["training"])
    for row in (0, 3):
        one = UserBatch(batch.history[[row]], batch.item_weights, {TEXT: batch.blocks[TEXT][[row]]})
        for item in (0, 5, data["training"].matrix.shape[1] - 1):
            shares = fitted.history_contributions(one, item)
            assert shares.shape == (one.history.nnz,) and np.isfinite(shares).all()
            share = fitted.text_contribution(one, item, np.arange(data["training"].matrix.shape[1]))
            assert isinstance(share, float) and np.isfinite(share)


def test_retrieval_vectors_reproduce_the_scores(fitted, data):
    if not fitted.can_retrieve:
        with pytest.raises(NotImplementedError):
            fitted.item_vectors(np.arange(3))
        return
    items = np.arange(data["training"].matrix.shape[1])
    state = fitted.user_state(users_of(data["training"]))
    np.testing.assert_allclose(fitted.user_vectors(state) @ fitted.item_vectors(items).T, fitted.score(state, items),
                               rtol=1e-4, atol=1e-4)


def test_clone_keeps_the_parameters_and_drops_the_fit(fitted):
    twin = clone(fitted)
    assert type(twin) is type(fitted) and twin.get_params() == fitted.get_params()
    assert not [a for a in vars(twin) if a.endswith("_") and not a.startswith("_")]


def test_save_and_load_give_the_same_scores(fitted, data, tmp_path):
    path = hr.save(fitted, tmp_path / "component.hybridrec")
    loaded = hr.load(path)
    assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
    batch = users_of(data["training"])
    items = np.arange(data["training"].matrix.shape[1])
    # float32 precision: BLAS may round the last bit differently for arrays at other addresses
    np.testing.assert_allclose(loaded.score(loaded.user_state(batch), items), fitted.score(fitted.user_state(batch), items),
                               rtol=1e-5, atol=1e-5)


def test_puresvd_finds_the_exact_top_singular_subspace(sample):
    """The factors span the same subspace as a dense SVD of the (binarised) matrix."""
    built = hr.InteractionData.from_frames(sample.interactions, sample.items)
    comp = components.create("svd", factors=24).fit(TrainingData(built.matrix, built.item_domain, random_state=0))
    X = built.matrix.toarray()
    X[X > 0] = 1
    _, values, vt = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(comp.singular_values_, values[:24], rtol=1e-4)
    V = comp.item_factors_
    np.testing.assert_allclose(V @ V.T, vt[:24].T @ vt[:24], atol=1e-4)


def test_per_user_rows_are_declared_in_user_attributes(fitted, data):
    """``save(include_user_data=False)`` drops exactly the attributes a component declares: any
    other array with one row per training user would leak users into a private model."""
    n_users, n_items = data["training"].matrix.shape
    assert n_users != n_items
    undeclared = [name for name, value in vars(fitted).items()
                  if getattr(value, "ndim", 0) and value.shape[0] == n_users and name not in fitted.user_attributes]
    assert not undeclared, f"{type(fitted).__name__} keeps per-user rows in {undeclared}; list them in user_attributes"
    for name in fitted.user_attributes:
        assert getattr(fitted, name).shape[0] == n_users
