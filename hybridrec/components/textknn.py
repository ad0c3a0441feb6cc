"""Text nearest neighbours: score an item by its closest history items' texts (a soft maximum)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import check_non_negative
from .base import TEXT, Component, TrainingData, UserBatch
from .catalogue import ItemBlockVectors
from .hubness import HubnessCorrection

#: Similarity entries (history rows x items) computed at once; bounds memory (~128 MB float32).
_BLOCK = 32_000_000


@dataclass
class _TextKNNState:
    weights: sp.csr_matrix  # cross-domain weighted history, (n_users, n_items)
    text: np.ndarray | None  # user text embeddings, or None


class TextKNNComponent(HubnessCorrection, ItemBlockVectors, Component):
    """Score an item by the text similarity of its nearest items in the user's history.

    ``score(u, i) = T * log(sum_h w_h * exp(cos(h, i) / T))`` over the user's history items
    ``h`` (weights ``w_h``: interaction weight times the cross-domain weight) plus the user's
    own text at weight ``user_text_weight``. It is a soft maximum: at a small temperature ``T``
    an item scores as high as its single most similar history item, so a user with varied
    tastes is not averaged into one blurred profile, as :class:`SemanticComponent` does.
    Every item with a text is scorable, new items included, which makes it a strong cold-item
    scorer. Users with no history and no text score 0 everywhere.

    With ``hubness_correction`` above 0, items nobody interacted with (cold and added items) lose
    ``hubness_correction * offset``: the CSLS correction of :mod:`hybridrec.components.hubness`
    (subtracting it from every cosine of the item is subtracting it from the soft maximum).

    Scoring costs ``history length x items x dim`` per user (no precomputed neighbour lists),
    so it is slower than the profile-based components for long histories.

    Parameters
    ----------
    temperature : float, default=0.1
        Softness of the maximum; larger values move towards a (log) mean over the history.
    user_text_weight : float, default=1.0
        Weight of the user's own text (their row of the block), counted as one more history entry.
    modality : str, default="text"
        The item block compared: ``"text"``, or a block given to ``fit(..., item_vectors=...)``
        (compared by cosine: rows are scaled to unit length).
    hubness_correction : float, default=0.0
        Strength of the CSLS correction on items without interactions, fixed at fit (1 is the
        measured setting, 0 turns it off); what it costs and gains: :mod:`hybridrec.components.hubness`.
    """

    name = "textknn"
    default_weight = 1.0
    user_attributes = ("hub_probes_",)

    def __init__(self, temperature: float = 0.1, user_text_weight: float = 1.0, modality: str = TEXT,
                 hubness_correction: float = 0.0) -> None:
        self.temperature = temperature
        self.user_text_weight = user_text_weight
        self.modality = modality
        self.hubness_correction = hubness_correction

    def check_params(self) -> None:
        check_non_negative(self.user_text_weight, "user_text_weight", "TextKNNComponent")
        check_non_negative(self.hubness_correction, "hubness_correction", "TextKNNComponent")
        check_non_negative(self.temperature, "temperature", "TextKNNComponent")
        if not self.temperature > 0:
            raise ValueError(
                f"The 'temperature' parameter of TextKNNComponent must be a float > 0. Got {self.temperature!r} instead."
            )

    def fit(self, data: TrainingData) -> "TextKNNComponent":
        self.check_params()
        self._keep_item_embeddings(data)
        self._fit_hubness(data.matrix, data.random_state)
        return self

    def user_state(self, users: UserBatch) -> _TextKNNState:
        weighted = users.weighted_history().astype(np.float32)
        text = self._user_block(users)
        if text is not None and self.user_text_weight:
            text = np.asarray(text, dtype=np.float32)
        else:
            text = None
        return _TextKNNState(sp.csr_matrix(weighted), text)

    def score(self, state: _TextKNNState, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items)
        n_users = state.weights.shape[0]
        out = np.zeros((n_users, len(items)), dtype=np.float32)
        if not len(items) or not n_users:
            return out
        targets = self.item_embeddings_[items]
        penalty = self._hub_penalty(items)
        rows_per_user = np.diff(state.weights.indptr) + (state.text is not None)
        budget = max(1, _BLOCK // len(items))
        bounds = np.concatenate([[0], np.cumsum(rows_per_user)])
        start = 0
        while start < n_users:  # blocks of users whose entries x items stay under _BLOCK
            stop = max(start + 1, int(np.searchsorted(bounds, bounds[start] + budget, side="right")) - 1)
            self._score_block(state, targets, penalty, start, min(stop, n_users), out)
            start = min(stop, n_users)
        return out

    def _entries(self, state: _TextKNNState, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embeddings, weights and user offsets of the history (and text) entries of users start:stop."""
        block = state.weights[start:stop]
        vectors, weights, owner = [self.item_embeddings_[block.indices]], [block.data], [np.repeat(np.arange(stop - start), np.diff(block.indptr))]
        if state.text is not None:
            text = state.text[start:stop]
            has = np.abs(text).sum(axis=1) > 0
            vectors.append(text[has])
            weights.append(np.full(int(has.sum()), self.user_text_weight, dtype=np.float32))
            owner.append(np.flatnonzero(has))
        return np.vstack(vectors), np.concatenate(weights).astype(np.float32), np.concatenate(owner)

    def _score_block(self, state: _TextKNNState, targets: np.ndarray, penalty: np.ndarray | None, start: int, stop: int,
                     out: np.ndarray) -> None:
        vectors, weights, owner = self._entries(state, start, stop)
        live = weights > 0
        if not live.any():
            return
        vectors, weights, owner = vectors[live], weights[live], owner[live]
        sims = vectors @ targets.T  # (entries, items), cosine: embeddings are unit length
        t = float(self.temperature)
        np.subtract(sims, 1.0, out=sims)  # shift by the largest possible cosine: exp never overflows
        np.divide(sims, t, out=sims)
        np.exp(sims, out=sims)
        pool = sp.csr_matrix((weights, (owner, np.arange(len(owner)))), shape=(stop - start, len(owner)))
        sums = np.asarray(pool @ sims, dtype=np.float64)
        has = np.asarray(pool.sum(axis=1)).ravel() > 0
        with np.errstate(divide="ignore"):
            scores = t * np.log(np.maximum(sums[has], np.finfo(np.float64).tiny)) + 1.0
        if penalty is not None:
            scores -= penalty
        out[start:stop][has] = scores.astype(np.float32)

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        """The score of ``item`` split over the history items by their share of the soft maximum.

        The user's own text takes its share too, so the history's shares add up to the score
        only for users without text.

        Parameters and return value as in
        :meth:`~hybridrec.components.Component.history_contributions`.
        """
        t = float(self.temperature)
        weights = users.history_weights()
        history_mass = weights * np.exp((self.item_embeddings_[users.history.indices] @ self.item_embeddings_[item] - 1.0) / t)
        total = float(history_mass.sum())
        own = self._user_block(users)
        if own is not None and self.user_text_weight:
            text = np.asarray(own[0], dtype=np.float32)
            if np.abs(text).sum() > 0:
                total += self.user_text_weight * float(np.exp((text @ self.item_embeddings_[item] - 1.0) / t))
        if total <= 0:
            return np.zeros(users.history.nnz, dtype=np.float32)
        score = t * np.log(total) + 1.0
        return (score * history_mass / total).astype(np.float32)
