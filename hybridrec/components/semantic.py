"""Semantic component: a text profile per user, compared with item text embeddings."""
from __future__ import annotations

import numpy as np

from .._validation import check_non_negative
from .base import TEXT, Component, TrainingData, UserBatch
from .catalogue import ItemBlockVectors
from .hubness import HubnessCorrection


class SemanticComponent(HubnessCorrection, ItemBlockVectors, Component):
    """Score items by how close their text (or another block) is to the user's profile.

    The profile is the mean of the block's rows over the user's history (other domains scaled
    by the cross-domain weight, divided by the unweighted history mass) plus
    ``user_text_weight`` times the user's own row of the block (their text embedding, for the
    text block). Text embeddings are unit length, so with the text block the score
    ``profile . item`` is a weighted mean of cosine similarities. With ``hubness_correction``
    above 0, items nobody interacted with (cold and added items) are scored ``profile . item -
    hubness_correction * |profile| * offset``: the CSLS correction of
    :mod:`hybridrec.components.hubness`, which keeps texts written to match everyone (keyword
    lists) out of most lists.

    Parameters
    ----------
    user_text_weight : float, default=1.0
        Weight of the user's own text (their row of the block) next to their history.
    modality : str, default="text"
        The item block compared: ``"text"``, or a block given to ``fit(..., item_vectors=...)``.
    hubness_correction : float, default=0.0
        Strength of the CSLS correction on items without interactions, fixed at fit (1 is the
        measured setting, 0 turns it off); what it costs and gains: :mod:`hybridrec.components.hubness`.
    """

    name = "semantic"
    default_weight = 0.5
    #: Queries are matched by their text first (see ALSComponent.query_weight for the measurement).
    query_weight = 1.0
    can_retrieve = True
    user_attributes = ("hub_probes_",)

    def __init__(self, user_text_weight: float = 1.0, modality: str = TEXT, hubness_correction: float = 0.0) -> None:
        self.user_text_weight = user_text_weight
        self.modality = modality
        self.hubness_correction = hubness_correction

    def check_params(self) -> None:
        check_non_negative(self.user_text_weight, "user_text_weight", "SemanticComponent")
        check_non_negative(self.hubness_correction, "hubness_correction", "SemanticComponent")

    def fit(self, data: TrainingData) -> "SemanticComponent":
        self.check_params()
        self._keep_item_embeddings(data)
        self._fit_hubness(data.matrix, data.random_state)
        return self

    def user_state(self, users: UserBatch) -> np.ndarray:
        profile = users.weighted_mean(self.item_embeddings_)
        own = self._user_block(users)
        if own is not None and self.user_text_weight:
            profile += self.user_text_weight * own
        return profile

    def score(self, state: np.ndarray, items: np.ndarray) -> np.ndarray:
        scores = state @ self.item_embeddings_[items].T
        penalty = self._hub_penalty(items)
        if penalty is not None:
            scores -= np.linalg.norm(state, axis=1, keepdims=True) * penalty[None, :]
        return scores

    def user_vectors(self, state: np.ndarray) -> np.ndarray:
        """The profile; with the hubness correction ``[profile, -|profile|]`` (see :meth:`item_vectors`).

        Parameters and return value as in :meth:`~hybridrec.components.Component.user_vectors`. One
        more column than the profile when the hubness correction is on.
        """
        if not self._hub_on():
            return state
        return np.hstack([state, -np.linalg.norm(state, axis=1, keepdims=True)]).astype(np.float32)

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        """The embeddings; with the hubness correction ``[embedding, hubness_correction * offset]``.

        Parameters and return value as in :meth:`~hybridrec.components.Component.item_vectors`. One
        more column than the embedding when the hubness correction is on.
        """
        penalty = self._hub_penalty(items)
        if penalty is None:
            return self.item_embeddings_[items]
        return np.hstack([self.item_embeddings_[items], penalty[:, None]]).astype(np.float32)

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        hist = users.history.indices
        weights = users.history_weights()
        mass = float(users.history.data.sum()) or 1.0
        return (weights / mass * (self.item_embeddings_[hist] @ self.item_embeddings_[item])).astype(np.float32)

    def text_contribution(self, users: UserBatch, item: int, reference: np.ndarray) -> float:
        own = self._user_block(users)
        if own is None or not self.user_text_weight:
            return 0.0
        sims = self.item_embeddings_[reference] @ own[0]
        centred = float(own[0] @ self.item_embeddings_[item]) - (float(sims.mean()) if len(sims) else 0.0)
        return float(self.user_text_weight) * centred
