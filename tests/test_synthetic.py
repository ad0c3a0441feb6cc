"""make_synthetic: seeded, sized as asked, power-law, two domains, real words, and learnable."""
from __future__ import annotations

import numpy as np
import pytest

import hybridrec as hr
from hybridrec.synthetic import make_synthetic, title_words


def test_same_seed_same_data_and_sizes_as_asked():
    a, b = make_synthetic(20_000, seed=3), make_synthetic(20_000, seed=3)
    assert a.interactions.equals(b.interactions) and a.items.equals(b.items)
    assert not a.interactions.equals(make_synthetic(20_000, seed=4).interactions)
    assert 0.98 * 20_000 <= len(a.interactions) <= 20_000  # a few lost to the per-user cap
    assert a.interactions["user_id"].nunique() == 2_000
    assert len(a.items) == 200 and set(a.items["domain"]) == {"food", "kitchen"}
    assert list(a.interactions.columns) == ["user_id", "item_id", "weight", "timestamp"]


def test_titles_are_real_words_and_activity_is_skewed():
    ds = make_synthetic(50_000, seed=0)
    vocab = set(title_words())
    assert len(vocab) > 1000
    words = [w for t in ds.items["text"] for w in t.split()]
    assert set(words) <= vocab and all(len(t.split()) == 5 for t in ds.items["text"])
    per_user = ds.interactions["user_id"].value_counts()
    per_item = ds.interactions["item_id"].value_counts()
    assert per_user.max() >= 10 * per_user.median()  # power law: a heavy head
    assert per_item.head(len(per_item) // 10).sum() > 0.3 * len(ds.interactions)
    assert per_user.max() <= max(50_000 // 5_000, min(1000, 500 // 5))  # the cap


def test_behaviour_and_text_carry_the_same_topics():
    ds = make_synthetic(30_000, n_items=600, seed=0)
    topic = ds.items.set_index("item_id")["topic"]
    inter = ds.interactions.assign(topic=ds.interactions["item_id"].map(topic).to_numpy())
    # Users mostly stay within their two favourite topics.
    top2 = inter.groupby("user_id")["topic"].agg(lambda s: s.value_counts().head(2).sum() / len(s))
    assert top2[inter.groupby("user_id").size() >= 10].mean() > 0.7
    model = hr.HybridRecommender(components=[("als", hr.components.ALSComponent(factors=16, iterations=5))],
                                 weights={"als": 1.0}, random_state=0, show_progress=False)
    model.fit(ds.interactions)
    recs = model.recommend(ds.interactions["user_id"].unique()[:200], k=10)
    rec_topics = recs.assign(topic=recs["item_id"].map(topic).to_numpy())
    own = inter.groupby("user_id")["topic"].agg(lambda s: set(s.value_counts().head(2).index))
    hit = np.mean([t in own[u] for u, t in zip(rec_topics["user_id"], rec_topics["topic"])])
    assert hit > 0.25  # ALS finds the users' topics: 5x chance (2 of 40 topics)


def test_titles_of_one_topic_embed_closer_than_titles_of_two():
    items = make_synthetic(20_000, seed=0).items
    vectors = hr.TextEncoder().encode(items["text"].tolist())
    sims = vectors @ vectors.T
    same = items["topic"].to_numpy()[:, None] == items["topic"].to_numpy()[None, :]
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)
    assert sims[same].mean() > sims[other].mean() + 0.04  # seed 0: 0.23 against 0.17


@pytest.mark.parametrize("kwargs, match", [
    ({"n_interactions": 0}, "n_interactions"),
    ({"n_interactions": 100, "n_users": 500}, "n_interactions"),
    ({"n_interactions": 1000, "domains": ("a", "a")}, "domains"),
    ({"n_interactions": 1000, "n_topics": -1}, "n_topics"),
])
def test_bad_sizes_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic(**kwargs)
