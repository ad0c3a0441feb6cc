"""Screening item texts for keyword stuffing: the rule, the hold in every ranking path, release, persistence.

The bundled sample gives the model; Amazon Food-Kitchen (skipped when absent) checks the rule
on real listings: stuffed keyword lists are flagged, honest cold items almost never.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hybridrec as hr
from hybridrec.components import SemanticComponent
from hybridrec.evaluation import cold_item_split, evaluate
from hybridrec.model_selection import tune_blend
from hybridrec.screening import STUFFED_WORDS, borrowed_words, screen_cold_items

from conftest import shared_dataset

CATALOGUE = [
    "Organic green tea bags, jasmine",
    "Dark roast coffee beans, whole bean",
    "Chocolate chip cookies, family size",
    "Stainless steel chef knife",
    "Cast iron skillet, pre-seasoned",
]


def test_borrowed_words_counts_catalogue_words_beyond_the_closest_listing():
    texts = [
        "Organic green tea bags jasmine",                                   # one listing's words
        "green tea coffee beans chocolate cookies steel knife iron skillet",  # words of five listings
        "Zyxwv qwerty brandnew gadget",                                     # words no listing uses
    ]
    # The second text shares at most 2 words with one listing (green tea, coffee beans, ...): 10 - 2.
    assert borrowed_words(texts, CATALOGUE).tolist() == [0, 8, 0]
    assert borrowed_words([], CATALOGUE).tolist() == []
    assert borrowed_words(texts, ["", "  "]).tolist() == [0, 0, 0]  # a catalogue without words


def test_a_listing_is_not_its_own_neighbour():
    catalogue = CATALOGUE + ["green tea coffee beans chocolate cookies steel knife iron skillet"]
    # Compared with itself it would share every word; left out, it borrows 10 - 2.
    assert borrowed_words([catalogue[-1]], catalogue, self_rows=np.array([5])).tolist() == [8]
    # Words only the listing itself uses do not count.
    assert borrowed_words(["jasmine zyxwv"], ["jasmine zyxwv"], self_rows=np.array([0])).tolist() == [0]


def _stuffed(sample, domain: str, n: int = 8) -> pd.DataFrame:
    """A listing stuffed with the texts of the ``n`` most popular items of ``domain``, and an honest one."""
    counts = sample.interactions["item_id"].value_counts()
    items = sample.items[sample.items["domain"] == domain].copy()
    items["count"] = counts.reindex(items["item_id"]).fillna(0).to_numpy()
    text = " ".join(items.sort_values(["count", "item_id"], ascending=[False, True])["text"].head(n))
    return pd.DataFrame({"item_id": ["stuffed", "honest"], "domain": [domain, domain],
                         "text": [text, "A quiet drama about a lighthouse keeper and his daughter"]})


@pytest.fixture(scope="module")
def model(sample) -> hr.HybridRecommender:
    """Semantic profile + ALS (a dot-product blend: the linear ranking path) with the two listings added."""
    comps = [("semantic", SemanticComponent()), ("als", hr.components.create("als", factors=16, iterations=5))]
    model = hr.HybridRecommender(components=comps, weights={"semantic": 1.0, "als": 1.0}, random_state=0)
    model.fit(sample.interactions, items=sample.items)
    with pytest.warns(UserWarning, match=r"add_items: 1 of 2 items .*keyword stuffing.*held.*\[stuffed\]"):
        model.add_items(_stuffed(sample, "drama"))
    return model


def _lists(model, sample, **kwargs) -> dict[str, pd.DataFrame]:
    """Every ranking entry point, each asked for the whole drama domain."""
    users = sample.interactions["user_id"].unique()[:20].tolist()
    k = model.data_.n_items
    history = sample.interactions[sample.interactions["user_id"] == users[0]].assign(user_id="new")
    return {
        "recommend": model.recommend(users, k=k, domain="drama", **kwargs),
        "recommend exclude_seen=False": model.recommend(users[:3], k=k, domain="drama", exclude_seen=False, **kwargs),
        "recommend_for_text": model.recommend_for_text(["a family drama"], k=k, domain="drama", **kwargs),
        "recommend_new": model.recommend_new(history, k=k, domain="drama", **kwargs),
    }


def test_a_held_item_is_in_no_list_but_still_scored(model, sample):
    assert list(model.held_item_ids_) == ["stuffed"]
    for weights in (None, {"semantic": 1.0}, {"semantic": 1.0, "als": 1.0, "popularity": 0.0}):
        kwargs = {} if weights is None else {"weights": {k: v for k, v in weights.items() if k in model.components_}}
        for entry, top in _lists(model, sample, **kwargs).items():
            assert "honest" in set(top["item_id"]), entry  # the whole domain is listed ...
            assert "stuffed" not in set(top["item_id"]), entry  # ... except the held item
    user = sample.interactions["user_id"].iloc[0]
    score = model.predict(pd.DataFrame({"user_id": [user], "item_id": ["stuffed"]}))
    assert np.isfinite(score).all()


@pytest.mark.parametrize("mode", ["hold", "warn"])
def test_evaluate_ranks_a_held_item_last(sample, mode):
    items = pd.concat([sample.items, _stuffed(sample, "drama")], ignore_index=True)
    model = hr.HybridRecommender(components=[("semantic", SemanticComponent())], weights={"semantic": 1.0},
                                 screen_texts=mode)
    with pytest.warns(UserWarning, match="keyword stuffing"):
        model.fit(sample.interactions, items=items)
    users = sample.interactions["user_id"].unique()[:20]
    test = pd.DataFrame({"user_id": users, "item_id": "stuffed", "weight": 1.0})
    split = hr.evaluation.Split(sample.interactions, test, None, items, None, "random", 0)
    auc = evaluate(model, split).set_index(["domain", "group", "metric"]).loc[("all", "all", "auc"), "value"]
    tuned = tune_blend(model, split, {"weights__semantic": [1.0]}, users="test", refit=False)
    assert tuned["auc"].iloc[0] == auc  # tune_blend ranks as evaluate does
    if mode == "hold":
        assert auc == 0.0  # below every other drama for every user, as recommend never lists it
    else:
        assert auc > 0.5  # written to match everyone, it sits above most dramas


def test_release_items_lets_a_held_item_back(model, sample):
    model.release_items(["stuffed", "honest"])
    try:
        top = model.recommend_for_text(["a family drama"], k=model.data_.n_items, domain="drama")
        assert "stuffed" in set(top["item_id"])
        assert len(model.held_item_ids_) == 0
    finally:
        model.hold_items("stuffed")  # the module's fixture stays as it was
    assert list(model.held_item_ids_) == ["stuffed"]


def test_hold_items_keeps_any_item_out_of_the_lists(model, sample):
    model.hold_items(["honest"])
    try:
        assert set(model.held_item_ids_) == {"stuffed", "honest"}
        for entry, top in _lists(model, sample).items():
            assert not {"honest", "stuffed"} & set(top["item_id"]), entry
    finally:
        model.release_items("honest")
    assert list(model.held_item_ids_) == ["stuffed"]
    with pytest.raises(ValueError, match="Unknown item ids"):
        model.hold_items(["no such item"])


def test_the_hold_survives_save_load_and_follows_removals(model, sample, tmp_path):
    path = tmp_path / "m.hybridrec"
    hr.save(model, path)
    loaded = hr.load(path)
    assert list(loaded.held_item_ids_) == ["stuffed"]
    top = loaded.recommend_for_text(["a family drama"], k=loaded.data_.n_items, domain="drama")
    assert "stuffed" not in set(top["item_id"])
    first = loaded.data_.item_ids[0]
    loaded.remove_items([first])
    assert list(loaded.held_item_ids_) == ["stuffed"]
    assert loaded.catalogue_.held.shape == (loaded.data_.n_items,)


@pytest.mark.parametrize("mode, held", [("warn", False), ("off", False)])
def test_warn_only_warns_and_off_skips_the_screen(sample, mode, held):
    model = hr.HybridRecommender(components=[("semantic", SemanticComponent())], weights={"semantic": 1.0},
                                 screen_texts=mode).fit(sample.interactions, items=sample.items)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.add_items(_stuffed(sample, "drama"))
    stuffing = [w for w in caught if "keyword stuffing" in str(w.message)]
    assert len(stuffing) == (1 if mode == "warn" else 0)
    assert len(model.held_item_ids_) == 0
    top = model.recommend_for_text(["a family drama"], k=model.data_.n_items, domain="drama")
    assert "stuffed" in set(top["item_id"])


def test_bad_screen_texts_is_refused_before_fitting(sample):
    with pytest.raises(ValueError, match="screen_texts.*'hold', 'warn', 'off'"):
        hr.HybridRecommender(screen_texts="block").fit(sample.interactions, items=sample.items)


def test_fit_holds_a_stuffed_cold_item_until_a_refit_sees_interactions(sample):
    new = _stuffed(sample, "drama")
    items = pd.concat([sample.items, new], ignore_index=True)
    model = hr.HybridRecommender(components=[("semantic", SemanticComponent())], weights={"semantic": 1.0})
    with pytest.warns(UserWarning, match=r"fit: 1 of .* items .*\[stuffed\]"):
        model.fit(sample.interactions, items=items)
    assert list(model.held_item_ids_) == ["stuffed"]
    users = sample.interactions["user_id"].unique()[:30]
    bought = pd.DataFrame({"user_id": users, "item_id": "stuffed", "weight": 1.0})
    model.fit(pd.concat([sample.interactions, bought], ignore_index=True), items=items)
    assert len(model.held_item_ids_) == 0


def test_the_rule_on_amazon_listings():
    """Keyword lists of 30 words from 8 popular titles are flagged; honest cold listings rarely."""
    ds = hr.datasets.load_amazon_food_kitchen(shared_dataset("amazon_food_kitchen_llmcdsr"))
    split = cold_item_split(ds.interactions, ds.items, domain="kitchen", frac=0.1, seed=0)
    data = hr.InteractionData.from_frames(split.train, split.items)
    held = screen_cold_items(np.diff(data.matrix.tocsc().indptr), data.item_texts)
    cold = data.item_ids.isin(split.cold_items)
    assert cold.sum() > 2000 and held[~cold].sum() == 0  # only items without interactions are screened
    assert held[cold].mean() <= 0.02, f"{held[cold].sum()} of {cold.sum()} honest cold listings flagged"
    rng = np.random.default_rng(0)
    counts = split.train["item_id"].value_counts()
    texts = []
    for domain in ("food", "kitchen"):
        dom = split.items[split.items["domain"] == domain].assign(n=lambda f: counts.reindex(f["item_id"]).fillna(0).to_numpy())
        top = dom.sort_values("n", ascending=False)["text"].head(100).to_numpy()
        for _ in range(20):
            words = " ".join(top[rng.choice(100, 8, replace=False)]).split()
            texts.append(" ".join(dict.fromkeys(words))[:400])
    flagged = borrowed_words(texts, data.item_texts) >= STUFFED_WORDS
    assert flagged.mean() >= 0.9, f"{flagged.sum()} of {len(texts)} stuffed texts flagged"
