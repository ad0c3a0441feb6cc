"""Scorers blended by :class:`~hybridrec.HybridRecommender`, one per module, found by name.

>>> from hybridrec import components
>>> components.available()
['als', 'ease', 'itemknn', 'lightfm', 'popularity', 'semantic', 'svd', 'textknn', 'tower']
>>> components.create("itemknn", k=50)
ItemKNNComponent(k=50)

A new component is one module here with a :class:`Component` subclass that sets ``name``.
"""
from ._registry import available, create, get
from .als import ALSComponent
from .base import TEXT, Component, TrainingData, UserBatch
from .ease import EASEComponent
from .itemknn import ItemKNNComponent
from .lightfm_hybrid import LightFMComponent
from .popularity import PopularityComponent
from .semantic import SemanticComponent
from .svd import PureSVDComponent
from .textknn import TextKNNComponent
from .tower import TowerComponent

__all__ = [
    "ALSComponent",
    "Component",
    "EASEComponent",
    "ItemKNNComponent",
    "LightFMComponent",
    "PopularityComponent",
    "PureSVDComponent",
    "SemanticComponent",
    "TEXT",
    "TextKNNComponent",
    "TowerComponent",
    "TrainingData",
    "UserBatch",
    "available",
    "create",
    "get",
]
