"""Fitting a HybridRecommender from Spark DataFrames: the data-parallel steps on Spark, the rest on the driver."""
from __future__ import annotations

import logging
from typing import Any, Sequence

from ._checks import check_columns, check_spark_frame
from ._encode import _portable, encode_texts

logger = logging.getLogger(__name__)


def _text_columns(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def fit_spark(model: Any, interactions_sdf: Any, items_sdf: Any = None, users_sdf: Any = None, *,
              user_col: str = "user_id", item_col: str = "item_id", weight_col: str | None = "weight",
              text_col: str | Sequence[str] = "text", user_text_col: str | Sequence[str] = "text",
              domain_col: str = "domain", duplicates: str = "sum", timestamp_col: str | None = "timestamp",
              **fit_params: Any) -> Any:
    """Fit ``model`` (a HybridRecommender) on Spark DataFrames.

    On Spark:

    - **aggregation**: repeated (user, item) rows are combined (``duplicates="sum"`` adds their
      weights, ``"max"`` keeps the largest; weight 1 without ``weight_col``), keeping each
      pair's latest ``timestamp_col``, so the driver receives one row per pair;
    - **text encoding**: item (and user) texts are encoded on the workers
      (:func:`encode_texts`) into the encoder's shared cache, so the driver encodes nothing;
    - **ALS**, when the model holds a :class:`SparkALSComponent`.

    On the driver: the aggregated pairs, the items and the users are collected (Arrow), ids are
    indexed, and every component that needs the whole matrix in memory (item-kNN, EASE, LightFM,
    PureSVD, the tower, the text components and ALS trained by implicit) is fitted from the
    aggregated CSR, as in :meth:`HybridRecommender.fit`.

    Parameters
    ----------
    model : HybridRecommender
    interactions_sdf, items_sdf, users_sdf : pyspark.sql.DataFrame
        As ``interactions``, ``items`` and ``users`` of ``fit`` (items and users optional).
    user_col, item_col, weight_col, text_col, user_text_col, domain_col, duplicates, timestamp_col
        As in :meth:`HybridRecommender.fit`; a ``weight_col`` or ``timestamp_col`` that the
        frame lacks is ignored, as there.
    **fit_params
        Passed on to ``fit`` (``item_vectors=``, ...).

    Returns
    -------
    HybridRecommender
        ``model``, fitted. When a component reads text, its ``encoder`` is set to the encoder
        the workers used (the model's own, or ``TextEncoder()``, with its cache folder resolved
        to an absolute path); otherwise no text is encoded.
    """
    from pyspark.sql import functions as F

    from .._validation import check_choice

    if not hasattr(model, "fit") or not hasattr(model, "recommend"):
        raise TypeError(f"fit_spark needs a HybridRecommender. Got {type(model).__name__}.")
    check_spark_frame(interactions_sdf, "interactions_sdf", "fit_spark")
    check_columns(interactions_sdf, [user_col, item_col], "interactions_sdf", "fit_spark")
    check_choice(duplicates, "duplicates", ["sum", "max"], "fit_spark")
    has_weight = weight_col is not None and weight_col in interactions_sdf.columns
    has_time = timestamp_col is not None and timestamp_col in interactions_sdf.columns
    weight = F.col(weight_col).cast("double") if has_weight else F.lit(1.0)
    combine = F.sum if duplicates == "sum" else F.max
    aggregates = [combine(weight).alias("weight")] + ([F.max(timestamp_col).alias(timestamp_col)] if has_time else [])
    pairs = interactions_sdf.groupBy(user_col, item_col).agg(*aggregates)
    if has_weight:
        bad = interactions_sdf.filter(F.col(weight_col).isNull() | F.isnan(F.col(weight_col).cast("double"))
                                      | (F.col(weight_col) < 0)).limit(1).count()
        if bad:
            raise ValueError(f"fit_spark: the {weight_col!r} column has missing, NaN or negative weights.")

    from ..components.base import TEXT

    reads_text = any(TEXT in comp.modalities() for _, comp in model._named_components())
    encoder = _portable(getattr(model, "encoder", None)) if reads_text else None
    items = users = None
    if items_sdf is not None:
        check_spark_frame(items_sdf, "items_sdf", "fit_spark")
        check_columns(items_sdf, [item_col], "items_sdf", "fit_spark")
        items = _encoded(items_sdf, _text_columns(text_col), encoder)
    if users_sdf is not None:
        check_spark_frame(users_sdf, "users_sdf", "fit_spark")
        check_columns(users_sdf, [user_col], "users_sdf", "fit_spark")
        users = _encoded(users_sdf, _text_columns(user_text_col), encoder)
    interactions = pairs.toPandas()
    logger.info("fit_spark: %d aggregated (user, item) pairs collected to the driver", len(interactions))
    if encoder is not None:
        model.set_params(encoder=encoder)  # the same encoder, its cache folder resolved: the one the workers filled
    return model.fit(interactions, items=items, users=users, user_col=user_col, item_col=item_col,
                     weight_col="weight", text_col=text_col, user_text_col=user_text_col, domain_col=domain_col,
                     duplicates="sum", timestamp_col=timestamp_col if has_time else None, **fit_params)


def _encoded(frame: Any, columns: list[str], encoder: Any) -> Any:
    """The frame as pandas, after its texts (joined as ``fit`` joins them) were encoded on Spark into the cache."""
    from ..data import join_text

    local = frame.toPandas()
    present = [c for c in columns if c in local.columns]
    if present and encoder is not None:  # None: no component reads text, so nothing is encoded
        import pandas as pd

        texts = frame.sparkSession.createDataFrame(pd.DataFrame({"_text": list(dict.fromkeys(join_text(local, present)))}))
        encode_texts(texts, "_text", encoder).count()  # runs the encoding; the workers fill the cache
    return local
