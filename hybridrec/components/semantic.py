"""Semantic component: a text profile per user, compared with item text embeddings."""
from __future__ import annotations

import logging

import numpy as np

from .._validation import check_non_negative
from .base import Component, ItemTextEmbeddings, TrainingData, UserBatch

logger = logging.getLogger(__name__)


class SemanticComponent(ItemTextEmbeddings, Component):
    """Score items by how close their text is to the user's text profile.

    The profile is the mean embedding of the user's history (other domains scaled by the
    cross-domain weight, divided by the unweighted history mass) plus ``user_text_weight``
    times the embedding of the user's own text. Embeddings are unit length, so the score
    ``profile . item`` is a weighted mean of cosine similarities.

    Parameters
    ----------
    user_text_weight : float, default=1.0
        Weight of the user's own text next to their history.
    """

    name = "semantic"
    uses_text = True

    def __init__(self, user_text_weight: float = 1.0) -> None:
        self.user_text_weight = user_text_weight

    def check_params(self) -> None:
        check_non_negative(self.user_text_weight, "user_text_weight", "SemanticComponent")

    def fit(self, data: TrainingData) -> "SemanticComponent":
        self.check_params()
        self._keep_item_embeddings(data)
        return self

    def user_state(self, users: UserBatch) -> np.ndarray:
        profile = users.weighted_mean(self.item_embeddings_)
        if users.text_embeddings is not None and self.user_text_weight:
            profile += self.user_text_weight * users.text_embeddings
        return profile

    def score(self, state: np.ndarray, items: np.ndarray) -> np.ndarray:
        return state @ self.item_embeddings_[items].T

    def history_contributions(self, users: UserBatch, item: int) -> np.ndarray:
        hist = users.history.indices
        weights = users.history_weights()
        mass = float(users.history.data.sum()) or 1.0
        return (weights / mass * (self.item_embeddings_[hist] @ self.item_embeddings_[item])).astype(np.float32)
