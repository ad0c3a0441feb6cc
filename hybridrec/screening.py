"""Screening item texts for keyword stuffing, and holding what it flags out of the lists.

An item nobody interacted with yet (a cold item in ``fit``, or one added with ``add_items``) is
ranked by its text alone, and a text can be written to match many users at once: a keyword
list assembled from popular listings. ``benchmarks/adversarial.py`` measured that on Amazon
Food-Kitchen: in the text profile's lists of 1,107 cold users, 50 such items took 106 top-10
slots against 5 for 23 honest new items, and in LightFM's 1,394.

Such a text borrows words from many listings at once, while an honest title shares most of its
catalogue words with its closest listing (same brand, same product, same pack). The screen
counts a text's *borrowed words*: its distinct words that some other catalogue text uses, less
those it shares with the one catalogue text it shares most with. A text with
``STUFFED_WORDS`` or more borrowed words is flagged. Words no other listing uses (a new brand,
a new product name) never count, so a genuinely new product is not flagged for being new.

``STUFFED_WORDS`` (18) was chosen on validation data only (``benchmarks/screen_threshold.py``:
the largest threshold that flags 90% of stuffed texts built from a nested training split). On
Amazon Food-Kitchen (``benchmarks/results/adversarial.md``) it flags 46 of 50 stuffed texts
(keyword lists of up to 30 words from 8 popular titles) and 11 of the 2,764 honest cold items of
the cold-item protocol (real listings written as keyword lists). It is a lexical rule: a stuffed
text that paraphrases its sources, or borrows fewer than ``STUFFED_WORDS`` words, passes.

``HybridRecommender(screen_texts=...)`` decides what happens to a flagged item: ``"hold"``
(the default) keeps it in the catalogue, where ``predict`` and ``explain`` still score it, but
never puts it in a recommendation list until :meth:`~hybridrec.HybridRecommender.release_items`
releases it or a refit sees interactions with it; ``"warn"`` only warns; ``"off"`` skips the
screen.
"""
from __future__ import annotations

import warnings
from typing import Any, Hashable, Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils.validation import check_is_fitted

from ._validation import external_stacklevel, preview
from .catalogue import Catalogue

#: Borrowed words at or above which a text counts as stuffed.
STUFFED_WORDS = 18
#: What ``screen_texts`` accepts.
SCREEN_MODES = ("hold", "warn", "off")
#: Rows of the text x catalogue overlap computed at once (bounds memory).
_ROWS = 2048


def _vectorizer() -> CountVectorizer:
    """Distinct lower-cased words of two or more letters, English stop words left out."""
    return CountVectorizer(binary=True, lowercase=True, stop_words="english",
                           token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b", dtype=np.int32)


def borrowed_words(texts: Sequence[str], catalogue: Sequence[str], self_rows: np.ndarray | None = None) -> np.ndarray:
    """Per text: the distinct words some catalogue text uses, less those of the one it shares most with.

    Parameters
    ----------
    texts : sequence of str
        The texts to screen.
    catalogue : sequence of str
        The listings they are compared with.
    self_rows : ndarray of int, optional
        For texts that are themselves in ``catalogue``: each text's row there, left out of its
        own comparison (its words count as used elsewhere only when another listing uses them).

    Returns
    -------
    ndarray of int, one per text
    """
    out = np.zeros(len(texts), dtype=np.int64)
    if len(texts) == 0 or len(catalogue) == 0:
        return out
    vectorizer = _vectorizer()
    try:
        known = vectorizer.fit_transform(catalogue).tocsr()
    except ValueError:  # no catalogue text has a word
        return out
    query = vectorizer.transform(texts).tocsr()
    uses = np.asarray(known.sum(axis=0)).ravel()  # listings using each word
    # A word counts when another listing uses it: any listing, or one besides the text's own.
    elsewhere = (uses > (0 if self_rows is None else 1)).astype(np.int64)
    for start in range(0, len(texts), _ROWS):
        rows = slice(start, min(start + _ROWS, len(texts)))
        block = query[rows]
        overlap = (block @ known.T).tocsr().astype(np.int64)
        if self_rows is not None:  # the text's own listing shares all its words: not a neighbour
            own = np.asarray(self_rows[rows])
            overlap = (overlap - sp.csr_matrix((np.asarray(block.sum(axis=1)).ravel(), (np.arange(len(own)), own)),
                                               shape=overlap.shape)).tocsr()
        shared = overlap.max(axis=1).toarray().ravel()
        out[rows] = np.maximum(block @ elsewhere - shared, 0)
    return out


def stuffed(texts: Sequence[str], catalogue: Sequence[str], self_rows: np.ndarray | None = None,
            threshold: int = STUFFED_WORDS) -> np.ndarray:
    """Boolean mask of the ``texts`` with ``threshold`` or more :func:`borrowed_words`."""
    return borrowed_words(texts, catalogue, self_rows) >= threshold


def screen_cold_items(counts: np.ndarray, item_texts: Sequence[str]) -> np.ndarray:
    """Boolean mask over the catalogue: items without interactions (``counts``, per item) whose text is stuffed.

    An empty text has no words, so it is never flagged.
    """
    cold = np.flatnonzero(np.asarray(counts) == 0)
    held = np.zeros(len(item_texts), dtype=bool)
    if len(cold):
        held[cold] = stuffed([item_texts[i] for i in cold], item_texts, self_rows=cold)
    return held


def _flag(flagged: np.ndarray, ids: Any, where: str, of: int, screen_texts: str) -> np.ndarray:
    """Warn about the ``flagged`` items; return the mask to hold (all False unless ``"hold"``)."""
    if not flagged.any():
        return flagged
    held = screen_texts == "hold"
    warnings.warn(
        f"{where}: {int(flagged.sum())} of {of} items scored from text alone have a text that borrows "
        f"{STUFFED_WORDS} or more words from listings other than its closest one (keyword stuffing?)"
        + ("; they are held out of recommendation lists until release_items(...) or a refit with "
           "interactions" if held else "") + f": {preview(ids[flagged], render=str)}. "
        "See hybridrec.screening; screen_texts='warn' or 'off' changes this.",
        UserWarning, stacklevel=external_stacklevel())
    return flagged if held else np.zeros_like(flagged)


def held_at_fit(data: Any, screen_texts: str) -> np.ndarray:
    """The held mask of a fit on ``data`` under ``screen_texts``: its items without interactions, screened."""
    if screen_texts == "off":
        return np.zeros(data.n_items, dtype=bool)
    counts = np.diff(data.matrix.tocsc().indptr)
    flagged = screen_cold_items(counts, data.item_texts)
    return _flag(flagged, data.item_ids, "fit", int((counts == 0).sum()), screen_texts)


def held_when_added(data: Any, ids: pd.Index, texts: list[str], screen_texts: str) -> np.ndarray:
    """The held mask of new items ``ids`` with ``texts``, about to be added to ``data`` (screened against its items)."""
    if screen_texts == "off":
        return np.zeros(len(ids), dtype=bool)
    flagged = stuffed(texts, data.item_texts)
    return _flag(flagged, ids, "add_items", len(ids), screen_texts)


class ScreeningMixin:
    """``screen_texts`` for :class:`~hybridrec.HybridRecommender`: screen, hold and release items.

    The held items are the ``held`` mask of the model's ``catalogue_``
    (:class:`~hybridrec.catalogue.Catalogue`); added and removed items follow it.
    """

    screen_texts: str
    catalogue_: Catalogue  # the data's

    def release_items(self, item_ids: Iterable[Hashable]) -> "ScreeningMixin":
        """Let held items (see ``screen_texts``) into recommendation lists again.

        Parameters
        ----------
        item_ids : item id or iterable of item ids
            Items of the catalogue (a tuple is one id); ids that are not held are accepted and
            left as they are.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        codes = self.data_.item_index(item_ids)  # type: ignore[attr-defined]
        self.data_ = self.data_.with_catalogue(self.catalogue_.holding(codes, False))  # type: ignore[attr-defined]
        return self

    def hold_items(self, item_ids: Iterable[Hashable] | Hashable) -> "ScreeningMixin":
        """Keep catalogue items out of recommendation lists, as the text screen does with ``"hold"``.

        ``predict`` and ``explain`` still score them, ``evaluate`` ranks them last, and
        :meth:`release_items` lets them in again.

        Parameters
        ----------
        item_ids : item id or iterable of item ids
            Items of the catalogue (a tuple is one id); ids already held stay held.

        Returns
        -------
        self
        """
        check_is_fitted(self, "components_")
        codes = self.data_.item_index(item_ids)  # type: ignore[attr-defined]
        self.data_ = self.data_.with_catalogue(self.catalogue_.holding(codes, True))  # type: ignore[attr-defined]
        return self

    @property
    def held_item_ids_(self) -> pd.Index:
        """Ids of the items held out of recommendation lists (empty when none)."""
        check_is_fitted(self, "components_")
        return self.data_.item_ids[self.catalogue_.held]  # type: ignore[attr-defined]
