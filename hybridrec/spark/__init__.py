"""hybridrec on Apache Spark (``pip install "hybridrec[spark]"``; Java 17+).

- :func:`session`: a SparkSession with Java checked, the driver's Python on the workers and
  BLAS threads capped;
- :func:`encode_texts`: an embedding column, one model load per task, the local cache;
- :class:`SparkALSComponent`: ALS trained by Spark ML inside a ``HybridRecommender``;
- :class:`SparkItemKNNComponent`: item-kNN whose neighbours come from a Spark self-join
  (:func:`cooccurrence_neighbours`);
- :class:`SparkTowerComponent`: the tower trained data-parallel by Spark's ``TorchDistributor``;
- :func:`fit_spark`: fit from Spark DataFrames (aggregation, encoding and ALS on Spark);
- :func:`recommend_spark`: batch top-k on the workers with the same ``recommend``
  (:func:`broadcast_model`: one broadcast per fitted state).

``import hybridrec`` never imports Spark; this module does.
"""
from ._als import SparkALSComponent, spark_als_params
from ._encode import encode_texts
from ._fit import fit_spark
from ._itemknn import SparkItemKNNComponent, cooccurrence_neighbours
from ._recommend import broadcast_model, recommend_spark
from ._session import SparkSetupError, check_java, java_version, session
from ._tower import SparkTowerComponent

__all__ = ["SparkALSComponent", "SparkItemKNNComponent", "SparkSetupError", "SparkTowerComponent", "broadcast_model", "check_java",
           "cooccurrence_neighbours", "encode_texts", "fit_spark", "java_version", "recommend_spark", "session",
           "spark_als_params"]
