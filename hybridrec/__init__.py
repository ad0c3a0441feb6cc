"""hybridrec: hybrid, cross-domain recommendation.

Collaborative (implicit ALS), hybrid (LightFM with side features) and semantic
(sentence-transformers) scorers blended by one scikit-learn style estimator.
"""
from . import components, datasets
from ._version import __version__
from .data import InteractionData
from .modalities import ColumnEncoder
from .persistence import load, save
from .recommender import HybridRecommender
from .text import TextEncoder

__all__ = [
    "ColumnEncoder", "HybridRecommender", "InteractionData", "TextEncoder", "components", "datasets", "load", "save",
    "__version__",
]
