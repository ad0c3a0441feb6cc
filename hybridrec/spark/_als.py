"""ALS trained by Spark ML, served like every other ALS component.

Spark's implicit ALS (``pyspark.ml.recommendation.ALS(implicitPrefs=True)``) differs from
implicit's in two ways, and :class:`SparkALSComponent` maps hybridrec's parameters across them:

- **confidence**: Spark uses ``1 + alpha_spark * r``, implicit ``alpha * r``. With
  ``alpha_spark = alpha - 1`` the two agree for the usual weight ``r = 1``.
- **regularisation**: Spark scales ``regParam`` by each user's and each item's number of
  interactions (ALS-WR, Zhou et al. 2008); implicit's ``regularization`` is one constant. The map
  is ``regParam = regularization / (mean interactions per user)``, so an average user gets the
  same penalty; heavy users and popular items get more than with implicit, rare ones less.

After training, the item factors are collected to the driver and users are solved from their
histories exactly as :class:`~hybridrec.components.ALSComponent` solves them (implicit's
formulation, constant ``regularization``), so recommend, cross-domain weighting, fold-in,
explanations and persistence work unchanged.
"""
from __future__ import annotations

import logging
import tempfile

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..components import ALSComponent
from ..components.als_backends import ALSParams, register_backend

logger = logging.getLogger(__name__)


def spark_als_params(params: ALSParams, matrix: sp.csr_matrix) -> dict:
    """pyspark ``ALS`` keyword arguments equivalent to hybridrec's (see the module docstring).

    Parameters
    ----------
    params : ALSParams
        hybridrec's ALS parameters.
    matrix : csr_matrix of shape (n_users, n_items)
        The training interactions; ``regParam`` is scaled by their mean count per active user.

    Returns
    -------
    dict
        ``rank``, ``maxIter``, ``alpha``, ``regParam``, ``implicitPrefs``, ``nonnegative`` and
        ``seed`` (0 when ``params.random_state`` is None).
    """
    per_user = matrix.nnz / max(int((np.diff(matrix.indptr) > 0).sum()), 1)
    return {"rank": params.factors, "maxIter": params.iterations, "alpha": max(params.alpha - 1.0, 0.0),
            "regParam": params.regularization / per_user, "implicitPrefs": True, "nonnegative": False,
            "seed": 0 if params.random_state is None else int(params.random_state)}


def _factors(frame: pd.DataFrame, n: int, rank: int) -> np.ndarray:
    """Spark's ``(id, features)`` rows as an ``(n, rank)`` array (rows without an id stay zero)."""
    out = np.zeros((n, rank), dtype=np.float32)
    if len(frame):
        out[frame["id"].to_numpy()] = np.stack(frame["features"].to_numpy()).astype(np.float32)
    return out


class SparkSolver:
    """Trains ALS factors with Spark ML on the active (or a new local) SparkSession."""

    def fit(self, matrix: sp.csr_matrix, params: ALSParams, show_progress: bool) -> tuple[np.ndarray, np.ndarray]:
        from pyspark.ml.recommendation import ALS

        from ._session import session

        spark = session()
        context = spark.sparkContext
        if context.getCheckpointDir() is None:  # ALS's lineage grows every iteration; without
            # checkpoints its deep plans can overflow the JVM stack (StackOverflowError)
            context.setCheckpointDir(tempfile.mkdtemp(prefix="hybridrec-spark-checkpoints-"))
        coo = matrix.tocoo()
        frame = pd.DataFrame({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                              "rating": coo.data.astype(np.float32)})
        ratings = spark.createDataFrame(frame)
        kwargs = spark_als_params(params, matrix)
        logger.info("Spark ALS on %d interactions: %s", matrix.nnz, kwargs)
        model = ALS(userCol="user", itemCol="item", ratingCol="rating", checkpointInterval=5, **kwargs).fit(ratings)
        users = _factors(model.userFactors.toPandas(), matrix.shape[0], params.factors)
        items = _factors(model.itemFactors.toPandas(), matrix.shape[1], params.factors)
        return users, items


register_backend("spark", SparkSolver)


class SparkALSComponent(ALSComponent):
    """:class:`~hybridrec.components.ALSComponent` trained by Spark ML's distributed ALS.

    Same parameters, in hybridrec's (implicit's) meaning; they are mapped to Spark's as the
    module docstring describes. Training runs on the active SparkSession (or a new
    ``hybridrec.spark.session()``); the item factors are then collected to the driver, and
    users are served by the same numpy algebra as ``ALSComponent``.

    Parameters
    ----------
    factors : int, default=64
        Latent dimensions (Spark's ``rank``).
    regularization : float, default=0.1
        L2 penalty in implicit's meaning (Spark's ``regParam`` is this over the mean
        interactions per user).
    alpha : float, default=10.0
        Confidence scale in implicit's meaning (Spark's ``alpha`` is ``alpha - 1``).
    iterations : int, default=15
        ALS sweeps (Spark's ``maxIter``).
    text_ridge : float, default=10.0
        Ridge penalty of the text maps, as in ``ALSComponent``.
    random_state : int or None, default=None
        Seed (Spark's ``seed``); ``None`` takes the recommender's ``random_state``, 0 when that is None.
    num_threads : int, default=0
        Kept for ``ALSComponent``'s interface; Spark's own settings size the training.
    """

    name = "spark_als"
    backend = "spark"

    def __init__(self, factors: int = 64, regularization: float = 0.1, alpha: float = 10.0, iterations: int = 15,
                 text_ridge: float = 10.0, random_state: int | None = None, num_threads: int = 0) -> None:
        super().__init__(factors=factors, regularization=regularization, alpha=alpha, iterations=iterations,
                         text_ridge=text_ridge, random_state=random_state, num_threads=num_threads, backend="spark")
