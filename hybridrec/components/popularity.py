"""Popularity component: how many users interacted with each item (a prior, not personal)."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .base import Component, TrainingData, UserBatch


class PopularityComponent(Component):
    """Score every item by ``log(1 + number of users who interacted with it)``.

    The same for every user; useful as a prior in the blend and as a baseline.
    """

    name = "popularity"
    #: A prior to weigh in by hand or by tuning; off by default (it is the same for everyone).
    default_weight = 0.0

    def fit(self, data: TrainingData) -> "PopularityComponent":
        counts = np.diff(data.matrix.tocsc().indptr)
        self.item_scores_ = np.log1p(counts).astype(np.float32)
        return self

    def user_state(self, users: UserBatch) -> int:
        return len(users)

    def score(self, state: int, items: np.ndarray) -> np.ndarray:
        return np.repeat(self.item_scores_[items][None, :], state, axis=0)

    def add_items(self, blocks: Mapping[str, np.ndarray], domains: np.ndarray) -> None:
        self.item_scores_ = np.concatenate([self.item_scores_, np.zeros(len(domains), dtype=np.float32)])

    def remove_items(self, keep: np.ndarray) -> None:
        self.item_scores_ = self.item_scores_[keep]
