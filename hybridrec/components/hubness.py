"""Hubness correction for items scored from their text alone (CSLS).

An item nobody interacted with yet (a cold item, or one added with ``add_items``) is scored by
its text alone, and a text can be written to sit close to many users at once: a keyword list
built from popular titles, say. Such an item is a *hub*: it enters many top-10 lists on no
merit of its own. Cross-domain similarity local scaling (CSLS; Conneau et al., "Word
translation without parallel data", 2018) measures an item's reach ``r_i``, the mean cosine
of its ``k`` nearest *probes*, and ranks by ``2 cos(u, i) - r_i``. The probes here are what
users look like to the text components: the unit text profiles of a seeded sample of training
users (see :func:`~hybridrec.components.textmaps.text_profiles`).

The components subtract ``hubness_correction * offset_i`` from the cosines of cold items only,
with ``offset_i = max(0, r_i - median)``: a hub loses its reach in excess of a typical item's,
and nothing ever gains (standard CSLS also lifts items of narrow reach, and on the bundled
sample that lifted every text written unlike the catalogue's into a fifth of the query lists).
Items with interactions keep their scores. The typical reach is the median over items with
interactions that no probe user interacted with: an item in the probes' histories is close to
them by construction, and a median inflated that way would let hubs pass as typical.

The components' ``hubness_correction`` parameter sets the strength; 1 is the measured setting,
0 (the default) turns it off and fit then computes nothing. ``benchmarks/adversarial.py``
(``results/adversarial.md``, Amazon Food-Kitchen) measured at 1: stuffed items' top-10 slots cut
5.7-10x for users known by history or by titles, 1.8x for short queries; NDCG@10 among cold
items up, but against all items down 25-63% for a text component alone on the cold-item
protocols (``results/hubness/quality.md``), as honest new items with central texts drop below
warm ones. Hence the default.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from .textmaps import text_profiles

#: Training users whose text profiles are the probes (a seeded sample when there are more).
N_PROBES = 2000
#: Nearest probes averaged into an item's reach.
K_PROBES = 10
#: Items whose reach sets the median (a seeded sample when there are more).
N_REFERENCE = 5000
#: Fewest items outside the probes' histories for the median (below it, every item with interactions counts).
MIN_UNSEEN = 100
#: Probe x item cosines computed at once (bounds memory, ~64 MB of float32).
_BLOCK = 16_000_000
#: Cosine at or above which a new item's text counts as a copy of an existing item's.
COPY_COSINE = 0.98
#: Largest new x existing comparison :func:`copies` makes (entries); bigger additions are not checked.
COPY_BUDGET = 200_000_000


def probe_users(matrix: sp.csr_matrix, rng: np.random.Generator, n: int = N_PROBES) -> np.ndarray:
    """Up to ``n`` users with a history (a seeded sample), in order."""
    users = np.flatnonzero(np.diff(matrix.indptr) > 0)
    return np.sort(rng.choice(users, n, replace=False)) if len(users) > n else users


def reference_items(matrix: sp.csr_matrix, probes: np.ndarray, has_text: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Items whose reach is typical: with interactions and text, none from a probe user (if enough)."""
    counts = np.diff(matrix.tocsc().indptr)
    warm = (counts > 0) & has_text
    unseen = warm.copy()
    unseen[matrix[probes].indices] = False
    items = np.flatnonzero(unseen if unseen.sum() >= MIN_UNSEEN else warm)
    return rng.choice(items, N_REFERENCE, replace=False) if len(items) > N_REFERENCE else items


def reach(probes: np.ndarray, embeddings: np.ndarray, k: int = K_PROBES) -> np.ndarray:
    """Mean cosine of every row of ``embeddings`` with its ``k`` nearest probes (0 without probes)."""
    out = np.zeros(len(embeddings), dtype=np.float32)
    if len(probes) == 0 or len(embeddings) == 0:
        return out
    k = min(k, len(probes))
    step = max(1, _BLOCK // len(probes))
    for start in range(0, len(embeddings), step):
        sims = embeddings[start:start + step] @ probes.T
        out[start:start + step] = np.partition(sims, len(probes) - k, axis=1)[:, -k:].mean(axis=1)
    return out


def copies(new: np.ndarray, existing: np.ndarray, threshold: float = COPY_COSINE) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``new`` whose closest row of ``existing`` has a cosine >= ``threshold``, and that row.

    Both are unit-length embeddings (zero rows never match). Returns ``(new_rows, existing_rows)``.
    """
    found, of = [], []
    if len(new) == 0 or len(existing) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    step = max(1, _BLOCK // len(existing))
    for start in range(0, len(new), step):
        sims = new[start:start + step] @ existing.T
        best = sims.argmax(axis=1)
        hit = np.flatnonzero(sims[np.arange(len(best)), best] >= threshold)
        found.append(start + hit)
        of.append(best[hit])
    return np.concatenate(found), np.concatenate(of)


class HubnessCorrection:
    """Mixin for :class:`~hybridrec.components.catalogue.ItemBlockVectors` components.

    With ``hubness_correction > 0`` at fit, keeps ``hub_probes_`` (the probes; per-user rows,
    so listed in ``user_attributes``), ``hub_median_`` and ``hub_offsets_`` (one per catalogue
    item, 0 for items with interactions); at 0, ``hub_offsets_`` is None and nothing is
    computed. The component subtracts :meth:`_hub_penalty` from its cosines. Subclasses list it before ``ItemBlockVectors`` (its ``add_items`` and
    ``remove_items`` extend that mixin's) and call :meth:`_fit_hubness` in ``fit``.
    """

    hubness_correction: float
    item_embeddings_: np.ndarray
    hub_probes_: np.ndarray
    hub_median_: float
    hub_offsets_: np.ndarray
    scoring_params = ("hubness_correction",)

    def with_params(self, **params: Any) -> Any:
        """As ``Component.with_params``; turning the correction on needs the offsets fit computes at a value > 0.

        Parameters and return value as in :meth:`~hybridrec.components.Component.with_params`. Raises
        ``ValueError`` for ``hubness_correction > 0`` on a component fitted with
        ``hubness_correction=0``.
        """
        if params.get("hubness_correction") and self.__dict__.get("hub_offsets_") is None:
            raise ValueError(f"{type(self).__name__} was fitted with hubness_correction=0, so it has no hub offsets: "
                             "refit with a value > 0 to use the correction.")
        return super().with_params(**params)  # type: ignore[misc]

    def _fit_hubness(self, matrix: sp.csr_matrix, seed: int | None) -> None:
        if not self.hubness_correction:
            self.hub_probes_ = np.zeros((0, self.item_embeddings_.shape[1]), dtype=np.float32)
            self.hub_median_, self.hub_offsets_ = 0.0, None
            return
        rng = np.random.default_rng(seed)
        emb = self.item_embeddings_
        users = probe_users(matrix, rng)
        profiles = text_profiles(matrix[users], emb)
        self.hub_probes_ = profiles[np.linalg.norm(profiles, axis=1) > 0]
        has_text = np.abs(emb).sum(axis=1) > 0
        reference = reference_items(matrix, users, has_text, rng)
        self.hub_median_ = float(np.median(reach(self.hub_probes_, emb[reference]))) if len(reference) else 0.0
        self.hub_offsets_ = np.zeros(len(emb), dtype=np.float32)
        cold = np.flatnonzero((np.diff(matrix.tocsc().indptr) == 0) & has_text)
        self.hub_offsets_[cold] = self._offsets(emb[cold])

    def _offsets(self, embeddings: np.ndarray) -> np.ndarray:
        """``max(0, reach - median)`` for items scored from text alone (0 without text, or without probes)."""
        if len(self.hub_probes_) == 0:
            return np.zeros(len(embeddings), dtype=np.float32)
        out = np.maximum(reach(self.hub_probes_, embeddings) - np.float32(self.hub_median_), 0.0)
        out[np.abs(embeddings).sum(axis=1) == 0] = 0.0
        return out.astype(np.float32)

    def _hub_on(self) -> bool:
        """Whether scores are corrected: offsets fitted (not off at fit, nor a model saved before
        the correction existed) and a strength above 0."""
        return self.__dict__.get("hub_offsets_") is not None and bool(self.hubness_correction)

    def _hub_penalty(self, items: np.ndarray) -> np.ndarray | None:
        """``hubness_correction * offset`` of ``items`` (subtracted from their cosines); None when off."""
        return np.float32(self.hubness_correction) * self.hub_offsets_[items] if self._hub_on() else None

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        """As ``ItemBlockVectors.add_items``, plus the new items' hub offsets when the correction was fitted.

        Parameters and return value as in :meth:`~hybridrec.components.Component.add_items`.
        """
        super().add_items(blocks, domains)  # type: ignore[misc]
        if self.__dict__.get("hub_offsets_") is not None:
            new = self.item_embeddings_[len(self.item_embeddings_) - len(domains):]
            self.hub_offsets_ = np.concatenate([self.hub_offsets_, self._offsets(new)])

    def remove_items(self, keep: np.ndarray) -> None:
        """As ``ItemBlockVectors.remove_items``, and drops the removed items' hub offsets.

        Parameters and return value as in :meth:`~hybridrec.components.Component.remove_items`.
        """
        super().remove_items(keep)  # type: ignore[misc]
        if self.__dict__.get("hub_offsets_") is not None:
            self.hub_offsets_ = self.hub_offsets_[keep]
