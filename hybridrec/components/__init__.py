"""Scorers blended by :class:`~hybridrec.HybridRecommender`, one per module."""
from .als import ALSComponent
from .base import Component, TrainingData, UserBatch
from .ease import EASEComponent
from .itemknn import ItemKNNComponent
from .lightfm_hybrid import LightFMComponent
from .popularity import PopularityComponent
from .semantic import SemanticComponent
from .svd import PureSVDComponent
from .textknn import TextKNNComponent

__all__ = [
    "ALSComponent",
    "Component",
    "EASEComponent",
    "ItemKNNComponent",
    "LightFMComponent",
    "PopularityComponent",
    "PureSVDComponent",
    "SemanticComponent",
    "TextKNNComponent",
    "TrainingData",
    "UserBatch",
]
