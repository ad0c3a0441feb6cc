"""Batch recommendation on Spark: the fitted model broadcast, the same ``recommend`` per partition."""
from __future__ import annotations

import hashlib
import logging
import pickle
import weakref
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .._validation import check_positive_int
from ._checks import check_columns, check_spark_frame

logger = logging.getLogger(__name__)

#: model -> (SparkContext, digest of its pickled state, Broadcast): one live broadcast per model.
_SHARED: "weakref.WeakKeyDictionary[Any, tuple[Any, str, Any]]" = weakref.WeakKeyDictionary()


def broadcast_model(model: Any, spark: Any) -> Any:
    """The model as a Spark broadcast, made once per fitted state and reused by later calls.

    A broadcast is held whole in the driver's memory while it is blockified, so broadcasting a
    large model on every ``recommend_spark`` call exhausts a default driver heap. The model's
    pickled bytes are hashed: while they are unchanged the same broadcast serves every call; a
    changed model (refit, ``fold_in_users``, ``add_items``, ``set_params``) is broadcast afresh and
    the old copy is left to Spark's cleaner once no DataFrame refers to it.

    Parameters
    ----------
    model : HybridRecommender
        Fitted.
    spark : pyspark.sql.SparkSession

    Returns
    -------
    pyspark.Broadcast
    """
    context = spark.sparkContext
    digest = hashlib.blake2b(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), digest_size=16).hexdigest()
    cached = _SHARED.get(model)
    if cached is not None and cached[0] is context and cached[1] == digest:
        return cached[2]
    shared = context.broadcast(model)
    _SHARED[model] = (context, digest, shared)
    logger.info("recommend_spark: broadcast the model (%s)", digest[:8])
    return shared


def _spark_type(values: pd.Index, what: str) -> Any:
    """The Spark type of an id column: long for integers, string for strings (one kind only)."""
    from pyspark.sql.types import LongType, StringType

    if pd.api.types.is_integer_dtype(values):
        return LongType()
    if len(values) and all(isinstance(v, str) for v in values):
        return StringType()
    raise ValueError(f"recommend_spark: the model's {what} ids must all be integers or all be strings to "
                     f"become a Spark column; they are of types {sorted({type(v).__name__ for v in values[:1000]})}.")


def output_schema(model: Any) -> Any:
    """``user, item, score, rank, domain`` with the model's column names and id types."""
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    cols = model.columns_
    return StructType([
        StructField(cols["user"], _spark_type(model.data_.user_ids, "user")),
        StructField(cols["item"], _spark_type(model.data_.item_ids, "item")),
        StructField("score", DoubleType()),
        StructField("rank", LongType()),
        StructField(cols["domain"], StringType()),
    ])


def recommend_spark(model: Any, user_ids_sdf: Any, k: int = 10, domain: str | None = None, *,
                    exclude_seen: bool = True, cross_domain_weight: float | None = None,
                    user_col: str | None = None, unknown: str = "error") -> Any:
    """Top-k recommendations for the users of a Spark DataFrame, computed on the workers.

    The fitted model is broadcast once per fitted state (:func:`broadcast_model`: later calls on
    the unchanged model reuse that broadcast); each partition's users are recommended by the same
    :meth:`HybridRecommender.recommend` (``mapInPandas``), so the result equals a local call.

    Parameters
    ----------
    model : HybridRecommender
        Fitted.
    user_ids_sdf : pyspark.sql.DataFrame
        A column of user ids (``user_col``; default the model's user column).
    k, domain, exclude_seen, cross_domain_weight
        As in :meth:`HybridRecommender.recommend`.
    unknown : {"error", "skip"}, default="error"
        Users the model does not know: fail the job with the model's ``ValueError``, or leave
        them out.

    Returns
    -------
    pyspark.sql.DataFrame
        ``user_id, item_id, score, rank, domain`` (the model's column names), ``k`` rows per
        user (fewer where a domain has fewer unseen items).
    """
    from pyspark.sql.types import StringType
    from sklearn.utils.validation import check_is_fitted

    from .._validation import check_choice, check_fraction

    if not hasattr(model, "recommend"):
        raise TypeError(f"recommend_spark needs a HybridRecommender. Got {type(model).__name__}.")
    check_is_fitted(model, "components_", msg="recommend_spark: this HybridRecommender is not fitted yet; call fit first.")
    check_spark_frame(user_ids_sdf, "user_ids_sdf", "recommend_spark")
    check_positive_int(k, "k", "recommend_spark")
    check_choice(unknown, "unknown", ["error", "skip"], "recommend_spark")
    if cross_domain_weight is not None:
        check_fraction(cross_domain_weight, "cross_domain_weight", "recommend_spark")
    user_col = model.columns_["user"] if user_col is None else user_col
    check_columns(user_ids_sdf, [user_col], "user_ids_sdf", "recommend_spark")
    if domain is not None:
        model.data_.domain_code(domain)  # an unknown domain fails here, not on a worker
    schema = output_schema(model)
    shared = broadcast_model(model, user_ids_sdf.sparkSession)
    call = {"k": int(k), "domain": domain, "exclude_seen": exclude_seen, "cross_domain_weight": cross_domain_weight}

    def _partition(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        fitted = shared.value
        for frame in frames:
            ids = pd.unique(frame[user_col].to_numpy())
            if unknown == "skip":
                ids = ids[fitted.data_.user_ids.get_indexer(ids) >= 0]
            if len(ids):
                out = fitted.recommend(list(ids), **call)
                out["score"] = out["score"].astype(np.float64)
                out["rank"] = out["rank"].astype(np.int64)
                for field in schema.fields:  # pandas 3's Arrow-backed strings arrive chunked; Spark wants plain ones
                    if field.dataType == StringType():
                        out[field.name] = out[field.name].astype(object)
                yield out[[f.name for f in schema.fields]]

    return user_ids_sdf.select(user_col).mapInPandas(_partition, schema=schema)
