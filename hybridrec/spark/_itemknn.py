"""Item-kNN's neighbours computed by Spark: co-occurrence by a self-join on user, pruned per domain there.

:func:`cooccurrence_neighbours` is the textbook Spark item-item job, with the normalisation and
pruning of :class:`~hybridrec.components.ItemKNNComponent`: every (user, item) pair joined to the
user's other items, the pairs counted per (item, item), divided by
``n_h**alpha * n_j**(1 - alpha) + shrink``, and the ``k`` best neighbours of every item kept
in each domain by a window on the executors. Only the kept neighbours reach the driver.
:class:`SparkItemKNNComponent` fits item-kNN that way and serves it exactly as the local one.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..components import ItemKNNComponent
from ..components.base import TrainingData

logger = logging.getLogger(__name__)


def cooccurrence_neighbours(pairs: Any, n_items: int, item_domain: np.ndarray | None, k: int, shrink: float = 0.0,
                            alpha: float = 0.5) -> sp.csr_matrix:
    """Each item's ``k`` nearest co-occurrence neighbours (in each domain), computed on Spark.

    Parameters
    ----------
    pairs : pyspark.sql.DataFrame
        Integer columns ``_row`` (user) and ``_col`` (item, ``0 <= _col < n_items``): who
        interacted with what (repeated pairs count once).
    n_items : int
        The catalogue's size.
    item_domain : ndarray of int, shape (n_items,), or None
        Each item's domain code: ``k`` neighbours are kept in each domain. None: ``k`` in all.
    k : int
        Neighbours kept per item (and domain).
    shrink, alpha : float
        As in :class:`~hybridrec.components.ItemKNNComponent`.

    Returns
    -------
    csr_matrix of float32, shape (n_items, n_items)
        Row ``h``: item ``h``'s kept neighbours and their similarities; no diagonal. Equal to
        :meth:`ItemKNNComponent.neighbours` up to the order of tied neighbours and float
        rounding (Spark computes in double, then rounds to float32).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = pairs.sparkSession
    pairs = pairs.select(F.col("_row"), F.col("_col")).distinct()
    counts = pairs.groupBy("_col").agg(F.count(F.lit(1)).cast("double").alias("n"))
    left, right = pairs.withColumnRenamed("_col", "i"), pairs.withColumnRenamed("_col", "j")
    together = (left.join(right, "_row").filter(F.col("i") != F.col("j"))
                .groupBy("i", "j").agg(F.count(F.lit(1)).cast("double").alias("co")))
    groups = np.zeros(n_items, dtype=np.int64) if item_domain is None else np.asarray(item_domain, dtype=np.int64)
    domains = spark.createDataFrame(pd.DataFrame({"j": np.arange(n_items, dtype=np.int64), "g": groups}))
    scored = (together.join(counts.select(F.col("_col").alias("i"), F.col("n").alias("n_i")), "i")
              .join(counts.select(F.col("_col").alias("j"), F.col("n").alias("n_j")), "j")
              .join(F.broadcast(domains), "j")
              .withColumn("value", F.col("co") / (F.pow("n_i", float(alpha)) * F.pow("n_j", 1.0 - float(alpha))
                                                  + float(shrink))))
    best = Window.partitionBy("i", "g").orderBy(F.desc("value"), F.asc("j"))
    kept = (scored.withColumn("rank", F.row_number().over(best)).filter(F.col("rank") <= int(k))
            .select("i", "j", "value").toPandas())
    logger.info("Spark item-kNN: %d neighbour pairs kept", len(kept))
    return sp.csr_matrix((kept["value"].to_numpy(np.float32), (kept["i"].to_numpy(), kept["j"].to_numpy())),
                         shape=(n_items, n_items), dtype=np.float32)


class SparkItemKNNComponent(ItemKNNComponent):
    """:class:`~hybridrec.components.ItemKNNComponent` whose neighbours are computed on Spark.

    Same parameters and scoring; ``fit`` sends the (user, item) pairs to the active
    SparkSession (or a new ``hybridrec.spark.session()``) and receives only the kept neighbours
    (:func:`cooccurrence_neighbours`), so the item x item co-occurrence, the part of item-kNN
    that grows fastest with the data, is never built on the driver.

    Parameters
    ----------
    k, shrink, alpha, per_domain, hops, hop_weight
        As in :class:`~hybridrec.components.ItemKNNComponent`.
    """

    name = "spark_itemknn"

    def neighbours(self, data: TrainingData) -> sp.csr_matrix:
        """The pruned similarity, computed by :func:`cooccurrence_neighbours` (see the base class).

        Parameters and return value as in :meth:`~hybridrec.components.ItemKNNComponent.neighbours`.
        Equal to the local result up to the order of tied neighbours and float rounding.
        """
        from ._session import session

        coo = data.binary().tocoo()
        pairs = session().createDataFrame(pd.DataFrame({"_row": coo.row.astype(np.int64),
                                                        "_col": coo.col.astype(np.int64)}))
        return cooccurrence_neighbours(pairs, data.matrix.shape[1], data.item_domain if self.per_domain else None,
                                       int(self.k), float(self.shrink), float(self.alpha))
