"""A seeded synthetic cross-domain dataset of any size, for scaling runs and tests.

Users and items follow power laws (a few users and items carry most interactions), items belong
to two domains, and behaviour and text share one hidden structure: every item has a topic, every
topic owns the words of a group of real movies with similar genres (titles and tags of the
bundled MovieLens sample), and each user favours a few topics. So the behaviour components and
the text components both have a signal to find, and the encoder has real words to embed.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ._validation import check_positive_int
from .datasets import Dataset, load_sample


@lru_cache(maxsize=1)
def _movie_words() -> tuple[tuple[str, ...], ...]:
    """Per bundled movie, ordered by genres: its title and tag words (3+ letters, not the commonest)."""
    items = load_sample().items.sort_values(["genres", "item_id"])
    per_movie = [set(re.findall(r"[a-z]{3,}", f"{t} {g}".lower())) for t, g in zip(items["title"], items["tags"])]
    counts: dict[str, int] = {}
    for words in per_movie:
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    common = {w for w, c in counts.items() if c > 0.02 * len(per_movie)}  # "the", "and", "movie" ...
    return tuple(tuple(sorted(words - common)) for words in per_movie)


def title_words() -> tuple[str, ...]:
    """The vocabulary: distinct words of the bundled sample's movie titles and tags."""
    return tuple(sorted({w for words in _movie_words() for w in words}))


def _topic_words(n_topics: int, size: int = 40) -> list[np.ndarray]:
    """Topic ``t``'s words: the ``size`` commonest in the ``t``-th of ``n_topics`` runs of movies ordered by genres."""
    movies = _movie_words()
    pools = []
    for chunk in np.array_split(np.arange(len(movies)), n_topics):
        counts: dict[str, int] = {}
        for m in chunk:
            for w in movies[m]:
                counts[w] = counts.get(w, 0) + 1
        pools.append(np.asarray(sorted(sorted(counts, key=lambda w: (-counts[w], w))[:size])))
    return pools


def _power_law(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Positive weights whose sorted values fall off as ``rank ** -exponent``, in random order."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return rng.permutation(weights)


def _draw_counts(rng: np.random.Generator, weights: np.ndarray, total: int, cap: int) -> np.ndarray:
    """``total`` draws over ``len(weights)`` bins in proportion to ``weights``; every bin gets 1 to ``cap``.

    The heaviest bins are clipped to ``cap`` and the rest rescaled (a few rounds), so the power
    law keeps its shape below the cap. ``total`` must not exceed ``cap * len(weights)``.
    """
    share = weights / weights.sum()
    limit = (cap - 1) / max(total - len(weights), 1)
    for _ in range(50):
        if share.max() <= limit * 1.0001:
            break
        share = np.minimum(share, limit)
        share /= share.sum()
    counts = rng.multinomial(total - len(weights), share) + 1
    return np.minimum(counts, cap)


def make_synthetic(
    n_interactions: int,
    *,
    n_users: int | None = None,
    n_items: int | None = None,
    n_topics: int = 40,
    domains: tuple[str, str] = ("food", "kitchen"),
    words_per_title: int = 5,
    seed: int = 0,
) -> Dataset:
    """A two-domain dataset with power-law users and items and titles drawn from real words.

    Parameters
    ----------
    n_interactions : int
        Interactions drawn, about (a user's count is capped at ``min(1000, n_items // 5)``, so a
        few may be lost there). Repeated user-item pairs are kept as rows, as repeat events;
        ``fit`` sums them.
    n_users, n_items : int, optional
        Default ``n_interactions // 10`` users and ``n_interactions // 100`` items (at least 50
        of each).
    n_topics : int, default=40
        Hidden topics. Each item has one; each user favours two, and draws 80% of their
        interactions from them (the rest at random), in one domain (40% of users), the other
        (30%) or both (30%).
    domains : pair of str, default=("food", "kitchen")
    words_per_title : int, default=5
        Words per item title: all but one from the item's topic, one from the whole vocabulary.
    seed : int, default=0

    Returns
    -------
    Dataset
        ``interactions`` (``user_id, item_id, weight, timestamp``), ``items`` (``item_id, text,
        domain, topic``). Same seed and sizes, same data.
    """
    where = "make_synthetic"
    check_positive_int(n_interactions, "n_interactions", where)
    n_users = max(n_interactions // 10, 50) if n_users is None else n_users
    n_items = max(n_interactions // 100, 50) if n_items is None else n_items
    for name, value in (("n_users", n_users), ("n_items", n_items), ("n_topics", n_topics),
                        ("words_per_title", words_per_title)):
        check_positive_int(value, name, where)
    if n_interactions < n_users:
        raise ValueError(f"The 'n_interactions' parameter of {where} must be at least n_users ({n_users}): every "
                         f"user has one interaction or more. Got {n_interactions}.")
    if len(domains) != 2 or len(set(domains)) != 2:
        raise ValueError(f"The 'domains' parameter of {where} must be two distinct names. Got {domains!r}.")
    rng = np.random.default_rng(seed)

    # Items: a domain, a topic and a popularity; titles from the topic's words.
    vocab = np.asarray(title_words())
    topic_words = _topic_words(n_topics)
    item_domain = rng.integers(2, size=n_items)
    item_topic = rng.integers(n_topics, size=n_items)
    popularity = _power_law(rng, n_items, 0.9)
    picks = rng.random((n_items, words_per_title - 1))
    free = rng.integers(len(vocab), size=n_items)
    titles = [
        " ".join([*(topic_words[t][(row * len(topic_words[t])).astype(int)] if len(topic_words[t]) else ()), vocab[f]])
        for t, row, f in zip(item_topic, picks, free)
    ]

    # Users: power-law activity, two favourite topics, one domain or both.
    cap = max(n_interactions // n_users, min(1000, n_items // 5))
    activity = _draw_counts(rng, _power_law(rng, n_users, 0.8), n_interactions, cap)
    favourite = rng.integers(n_topics, size=(n_users, 2))
    user_domains = rng.choice(3, size=n_users, p=[0.4, 0.3, 0.3])  # 0, 1: one domain; 2: both

    # Interactions: per event a topic (favourite or random) and a domain, then an item of that
    # (topic, domain) group drawn by popularity through one cumulative table.
    user = np.repeat(np.arange(n_users), activity)
    n = len(user)
    topic = np.where(rng.random(n) < 0.8, favourite[user, rng.integers(2, size=n)], rng.integers(n_topics, size=n))
    domain = np.where(user_domains[user] == 2, rng.integers(2, size=n), user_domains[user])
    group = item_topic * 2 + item_domain
    order = np.argsort(group, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(popularity[order])])
    bounds = np.searchsorted(group[order], np.arange(2 * n_topics + 1))
    wanted = topic * 2 + domain
    low, high = cumulative[bounds[wanted]], cumulative[bounds[wanted + 1]]
    empty = high <= low  # a (topic, domain) with no item: fall back to the whole catalogue
    low[empty], high[empty] = 0.0, cumulative[-1]
    position = np.searchsorted(cumulative, low + rng.random(n) * (high - low), side="right") - 1
    item = order[np.clip(position, 0, n_items - 1)]

    interactions = pd.DataFrame({
        "user_id": user.astype(np.int64),
        "item_id": item.astype(np.int64),
        "weight": np.ones(n, dtype=np.float32),
        "timestamp": rng.permutation(n).astype(np.int64),
    })
    items = pd.DataFrame({
        "item_id": np.arange(n_items, dtype=np.int64),
        "text": titles,
        "domain": np.asarray(domains, dtype=object)[item_domain],
        "topic": item_topic,
    })
    description = (f"make_synthetic({n_interactions}, n_users={n_users}, n_items={n_items}, n_topics={n_topics}, "
                   f"seed={seed}): power-law users and items, two domains, titles from the bundled sample's words.")
    return Dataset(interactions, items, None, f"synthetic-{n_interactions}", description)
