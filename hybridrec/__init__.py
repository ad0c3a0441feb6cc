"""hybridrec: hybrid, cross-domain recommendation.

Collaborative (implicit ALS, item-kNN, EASE, PureSVD), hybrid (LightFM with side features, the
text-behaviour tower) and semantic (sentence-transformers) components, blended by one
scikit-learn style estimator, :class:`HybridRecommender`.
"""
from . import components, datasets
from ._version import __version__
from .data import InteractionData
from .modalities import ColumnEncoder
from .persistence import load, save
from ._scoring import TopItems
from .recommender import HybridRecommender
from .text import TextEncoder

__all__ = [
    "ColumnEncoder", "HybridRecommender", "InteractionData", "TextEncoder", "TopItems", "components", "datasets", "load", "save",
    "__version__",
]
