"""TowerComponent on the bundled sample: quality, seeds, new items, text users, order, explanations, files."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.components import TowerComponent, UserBatch
from hybridrec.evaluation import evaluate, random_split

from _helpers import assert_raised_by_us

QUICK = {"max_epochs": 3, "dim": 32, "hidden": 64, "negatives": 256}


def fit(sample, interactions=None, **params) -> hr.HybridRecommender:
    tower = TowerComponent(**{**QUICK, **params})
    model = hr.HybridRecommender(components=[("tower", tower)], weights={"tower": 1.0}, random_state=0)
    return model.fit(sample.interactions if interactions is None else interactions, items=sample.items, users=sample.users)


@pytest.fixture(scope="module")
def mean_model(sample) -> hr.HybridRecommender:
    return fit(sample)


@pytest.fixture(scope="module")
def sequence_model(sample) -> hr.HybridRecommender:
    return fit(sample, encoder="sequence")


def test_a_tower_trained_on_the_sample_beats_popularity(sample):
    split = random_split(sample.interactions, seed=0, items=sample.items, users=sample.users)
    ndcg = {}
    for name, comp in (("popularity", hr.components.create("popularity")), ("tower", TowerComponent(max_epochs=8))):
        model = hr.HybridRecommender(components=[(name, comp)], weights={name: 1.0}, random_state=0)
        model.fit(split.train, items=sample.items, users=sample.users)
        frame = evaluate(model, split)
        ndcg[name] = frame[(frame["domain"] == "all") & (frame["group"] == "all") & (frame["metric"] == "ndcg")]["value"].iloc[0]
    assert ndcg["tower"] > 1.1 * ndcg["popularity"], ndcg


def test_training_is_recorded_and_seeded_fits_are_identical(sample, mean_model):
    tower = mean_model.components_["tower"]
    curve = tower.training_curve_
    assert 1 <= len(curve) <= QUICK["max_epochs"] and 1 <= tower.best_epoch_ <= len(curve)
    assert all(np.isfinite(r["loss"]) and 0 <= r["valid_recall@20"] <= 1 for r in curve)
    assert tower.fit_seconds_ >= tower.train_seconds_ > 0
    again = fit(sample)
    np.testing.assert_array_equal(again.components_["tower"].item_vectors_, tower.item_vectors_)
    pd.testing.assert_frame_equal(again.recommend([1, 2], k=5), mean_model.recommend([1, 2], k=5))


def test_new_items_are_scored_from_their_text(sample, mean_model):
    import copy

    model = copy.deepcopy(mean_model)
    before = model.score_items([1])[0]
    model.add_items(pd.DataFrame({"item_id": ["toy-story-5"], "domain": ["family"],
                                  "text": ["Toy Story 5. Genres: Adventure, Animation, Children, Comedy, Fantasy. "
                                           "Tags: pixar, toys, animation"]}))
    after = model.score_items([1])[0]
    np.testing.assert_allclose(after[:-1], before, rtol=1e-5, atol=1e-5)
    tower = model.components_["tower"]
    assert tower.knows(np.array([model.data_.n_items - 1]))[0]
    toy_story = int(model.data_.item_index([1])[0])
    dramas = model.data_.items_in_domain(model.data_.domain_code("drama"))[:50]
    vectors = tower.item_vectors(np.concatenate([[toy_story, model.data_.n_items - 1], dramas]))
    sims = vectors @ vectors[1]
    assert sims[0] > np.quantile(sims[2:], 0.9)  # the sequel sits next to Toy Story, far from most dramas
    model.remove_items(["toy-story-5"])
    np.testing.assert_allclose(model.score_items([1])[0], before, rtol=1e-5, atol=1e-5)


def test_a_text_only_user_is_the_user_tower_fed_a_text(mean_model, sample):
    recs = mean_model.recommend_for_text("animated movies for kids about toys", k=10, domain="family",
                                         weights={"tower": 1.0})
    assert len(recs) == 10 and recs["score"].notna().all()
    animated = sample.items.set_index("item_id")["genres"].str.contains("Animation")
    assert animated[recs["item_id"]].mean() > animated[sample.items.loc[sample.items["domain"] == "family", "item_id"]].mean()


def test_the_sequence_encoder_reads_order_and_the_mean_encoder_does_not(mean_model, sequence_model):
    for model, order_matters in ((mean_model, False), (sequence_model, True)):
        tower = model.components_["tower"]
        lengths = model.data_.sequences.lengths()
        row = int(np.flatnonzero((lengths > 5) & (lengths < 40))[0])  # the tower reads all of it
        seq = model.data_.sequences.take([row])
        history = model.data_.matrix[[row]]
        forward = tower.user_state(UserBatch(history, sequences=seq))
        reversed_ = type(seq)(seq.indptr, seq.items[::-1].copy())
        backward = tower.user_state(UserBatch(history, sequences=reversed_))
        assert (not np.allclose(forward, backward, atol=1e-5)) == order_matters


def test_cross_domain_weight_scales_other_domain_events(mean_model):
    tower = mean_model.components_["tower"]
    data = mean_model.data_
    row = int(np.argmax([len(set(data.item_domain[data.sequences.user(u)])) for u in range(50)]))
    seq, history = data.sequences.take([row]), data.matrix[[row]]
    family = data.domain_code("family")
    at = {w: tower.user_state(UserBatch(history, np.where(data.item_domain == family, 1.0, w).astype(np.float32),
                                        sequences=seq)) for w in (0.0, 0.5, 1.0)}
    assert not np.allclose(at[0.0], at[1.0]) and not np.allclose(at[0.5], at[1.0])
    own = seq.items[data.item_domain[seq.items] == family]
    alone = tower.user_state(UserBatch(history, sequences=type(seq)(np.array([0, len(own)]), own)))
    np.testing.assert_allclose(at[0.0], alone, atol=1e-5)  # at 0 the other domains are not read at all


@pytest.mark.parametrize("encoder", ["mean", "sequence"])
def test_explanation_shares_add_up_to_the_score(encoder, mean_model, sequence_model):
    model = mean_model if encoder == "mean" else sequence_model
    tower = model.components_["tower"]
    user = 1
    row = int(model.data_.user_index([user])[0])
    batch = UserBatch(model.data_.matrix[[row]], blocks={k: v[[row]] for k, v in model.data_.user_blocks.items()},
                      sequences=model.data_.sequences.take([row]))
    item = int(model.data_.item_index(model.recommend(user, k=1)["item_id"])[0])
    shares, text = tower._shares(batch, item)
    raw = tower.score(tower.user_state(batch), np.array([item]))[0, 0]
    assert shares.shape == (batch.history.nnz,)
    np.testing.assert_allclose(shares.sum() + text, raw, rtol=1e-4, atol=1e-5)
    explanation = model.explain(user, model.data_.item_ids[item])
    assert explanation["history"] and explanation["history"][0]["support"] > 0


def test_without_text_only_items_with_interactions_have_vectors(sample, mean_model):
    """``text=False`` (the ablation of ``benchmarks/peers``): ID embeddings only; text adds nothing."""
    ids_only = fit(sample, text=False)
    tower = ids_only.components_["tower"]
    trained = np.diff(ids_only.data_.matrix.tocsc().indptr) > 0
    assert (~trained).any() and trained.any()
    np.testing.assert_array_equal(tower.has_vector_, trained)  # items never interacted with are not placed
    assert (mean_model.components_["tower"].has_vector_ | ~trained).all()
    assert mean_model.components_["tower"].has_vector_[~trained].all()  # with text they are
    import copy

    grown = copy.deepcopy(ids_only)
    grown.add_items(pd.DataFrame({"item_id": ["new"], "domain": ["family"], "text": ["Toy Story 5, Pixar"]}))
    assert not grown.components_["tower"].has_vector_[-1]
    assert np.isfinite(ids_only.score_items([1])[0]).all()


def test_save_and_load_reproduce_the_recommendations(sequence_model, tmp_path):
    path = hr.save(sequence_model, tmp_path / "tower.hybridrec")
    loaded = hr.load(path)
    pd.testing.assert_frame_equal(loaded.recommend([1, 5], k=10), sequence_model.recommend([1, 5], k=10),
                                  check_exact=False, rtol=1e-5)


@pytest.mark.parametrize("params, message", [
    ({"encoder": "lstm"}, "'encoder' parameter of TowerComponent must be one of"),
    ({"dim": 0}, "'dim' parameter of TowerComponent must be a positive int"),
    ({"temperature": 0}, "'temperature' parameter of TowerComponent must be > 0"),
    ({"cross_domain_pairs": 1.5}, "'cross_domain_pairs' parameter of TowerComponent must be a float in"),
    ({"encoder": "sequence", "dim": 30, "heads": 4}, "must be a multiple of 'heads'"),
    ({"max_seconds": -1}, "'max_seconds' parameter of TowerComponent"),
    ({"negatives": -5}, "'negatives' parameter of TowerComponent must be an int >= 0"),
    ({"text": False, "id_embeddings": False}, "text=False needs id_embeddings=True"),
])
def test_bad_parameters_fail_before_any_training(sample, params, message):
    model = hr.HybridRecommender(components=[("tower", TowerComponent(**params))], weights={"tower": 1.0})
    with pytest.raises(ValueError, match=message) as excinfo:
        model.fit(sample.interactions.head(200), items=sample.items)
    assert_raised_by_us(excinfo)
