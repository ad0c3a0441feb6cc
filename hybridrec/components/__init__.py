"""Scorers blended by :class:`~hybridrec.HybridRecommender`, one per module."""
from .als import ALSComponent
from .base import Component, TrainingData, UserBatch
from .itemknn import ItemKNNComponent
from .lightfm_hybrid import LightFMComponent
from .popularity import PopularityComponent
from .semantic import SemanticComponent

__all__ = [
    "ALSComponent",
    "Component",
    "ItemKNNComponent",
    "LightFMComponent",
    "PopularityComponent",
    "SemanticComponent",
    "TrainingData",
    "UserBatch",
]
