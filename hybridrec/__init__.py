"""hybridrec: hybrid, cross-domain recommendation.

Collaborative (implicit ALS), hybrid (LightFM with text features) and semantic
(sentence-transformers) scorers blended by one scikit-learn style estimator.
"""
from . import datasets
from ._version import __version__
from .data import InteractionData
from .persistence import load, save
from .recommender import HybridRecommender
from .text import TextEncoder

__all__ = ["HybridRecommender", "InteractionData", "TextEncoder", "datasets", "load", "save", "__version__"]
