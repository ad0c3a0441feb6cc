"""Fitting a HybridRecommender from Spark DataFrames: the data-parallel steps on Spark, the rest on the driver."""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from ._checks import check_columns, check_spark_frame
from ._encode import _portable, encode_texts
from ._index import dense_index

logger = logging.getLogger(__name__)


def _text_columns(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def fit_spark(model: Any, interactions_sdf: Any, items_sdf: Any = None, users_sdf: Any = None, *,
              user_col: str = "user_id", item_col: str = "item_id", weight_col: str | None = "weight",
              text_col: str | Sequence[str] = "text", user_text_col: str | Sequence[str] = "text",
              domain_col: str = "domain", duplicates: str = "sum", timestamp_col: str | None = "timestamp",
              item_vectors: Mapping[str, Any] | None = None, user_vectors: Mapping[str, Any] | None = None) -> Any:
    """Fit ``model`` (a HybridRecommender) on Spark DataFrames.

    On Spark:

    - **aggregation**: repeated (user, item) rows are combined (``duplicates="sum"`` adds their
      weights, ``"max"`` keeps the largest; weight 1 without ``weight_col``), keeping each
      pair's latest ``timestamp_col``;
    - **id indexing**: users and items get inner indices ``0..n-1`` (:func:`dense_index`: items
      in the items table's order, users in partition order) and the pairs are joined to them,
      so the driver receives integer (user, item, weight, time) columns and each id once;
    - **text encoding**: item (and user) texts are encoded on the workers
      (:func:`encode_texts`) into the encoder's shared cache, so the driver encodes nothing;
    - **ALS**, when the model holds a :class:`SparkALSComponent`.

    On the driver: the CSR matrix is assembled from the indexed pairs
    (:meth:`InteractionData.from_codes`), and every component that needs the whole matrix in
    memory (item-kNN, EASE, LightFM, PureSVD, the tower, the text components and ALS trained by
    implicit) is fitted from it, as in :meth:`HybridRecommender.fit`. The items and users tables
    (ids, texts, domains) are collected too.

    Parameters
    ----------
    model : HybridRecommender
    interactions_sdf, items_sdf, users_sdf : pyspark.sql.DataFrame
        As ``interactions``, ``items`` and ``users`` of ``fit`` (items and users optional).
    user_col, item_col, weight_col, text_col, user_text_col, domain_col, duplicates, timestamp_col
        As in :meth:`HybridRecommender.fit`; a ``weight_col`` or ``timestamp_col`` that the
        frame lacks is ignored, as there.
    item_vectors, user_vectors : dict, optional
        As in :meth:`HybridRecommender.fit` (pandas or numpy values, keyed by id).

    Returns
    -------
    HybridRecommender
        ``model``, fitted (through :meth:`HybridRecommender.fit_data`; its parameters are left
        as they were). When a component reads text, ``encoder_`` is the encoder the workers used
        (the model's own, or ``TextEncoder()``, with its cache folder resolved to an absolute
        path); otherwise no text is encoded.
    """
    from pyspark.sql import functions as F

    from .._validation import check_choice

    if not hasattr(model, "fit") or not hasattr(model, "recommend"):
        raise TypeError(f"fit_spark needs a HybridRecommender. Got {type(model).__name__}.")
    check_spark_frame(interactions_sdf, "interactions_sdf", "fit_spark")
    check_columns(interactions_sdf, [user_col, item_col], "interactions_sdf", "fit_spark")
    check_choice(duplicates, "duplicates", ["sum", "max"], "fit_spark")
    for frame, name, cols in ((items_sdf, "items_sdf", [item_col]), (users_sdf, "users_sdf", [user_col])):
        if frame is not None:
            check_spark_frame(frame, name, "fit_spark")
            check_columns(frame, cols, name, "fit_spark")
    has_weight = weight_col is not None and weight_col in interactions_sdf.columns
    has_time = timestamp_col is not None and timestamp_col in interactions_sdf.columns
    if interactions_sdf.filter(F.col(user_col).isNull() | F.col(item_col).isNull()).limit(1).count():
        raise ValueError(f"fit_spark: interactions_sdf has missing ids in {user_col!r} or {item_col!r}.")
    if has_weight and interactions_sdf.filter(F.col(weight_col).isNull() | F.isnan(F.col(weight_col).cast("double"))
                                              | (F.col(weight_col) < 0)).limit(1).count():
        raise ValueError(f"fit_spark: the {weight_col!r} column has missing, NaN or negative weights.")
    weight = F.col(weight_col).cast("double") if has_weight else F.lit(1.0)
    combine = F.sum if duplicates == "sum" else F.max
    aggregates = [combine(weight).alias("_w")] + ([F.max(timestamp_col).alias("_t")] if has_time else [])
    pairs = interactions_sdf.groupBy(user_col, item_col).agg(*aggregates).filter(F.col("_w") > 0)

    from ..components.base import TEXT

    from .._frames import unknown_items_error
    from .._ids import as_index
    from ..data import InteractionData
    from ..modalities import encode_columns
    from ..sequences import order_codes

    active = model.check_params()  # before any Spark job
    reads_text = any(TEXT in comp.modalities() for comp in active.values())
    # the same encoder, its cache folder resolved: the one the workers fill
    encoder = _portable(getattr(model, "encoder", None)) if reads_text else None
    items = item_ids = users = None
    if items_sdf is not None:
        indexed = dense_index(items_sdf, "_col")
        items = _encoded(indexed, _text_columns(text_col), encoder).sort_values("_col", kind="stable")
        items = items.drop(columns="_col").reset_index(drop=True)
        item_index = indexed.select(item_col, "_col")
    else:
        item_index = dense_index(pairs.select(item_col).distinct(), "_col")
    seen = pairs.select(user_col).distinct()
    if users_sdf is not None:
        users = _encoded(users_sdf, _text_columns(user_text_col), encoder)
        seen = seen.unionByName(users_sdf.select(user_col)).distinct()
    user_index = dense_index(seen, "_row")
    coded = pairs.join(user_index, user_col).join(item_index, item_col, "left")
    missing = coded.filter(F.col("_col").isNull()).select(item_col).distinct().limit(6).toPandas()
    if len(missing):
        raise unknown_items_error(missing[item_col].tolist())
    local = coded.select("_row", "_col", "_w", *(["_t"] if has_time else [])).toPandas()
    logger.info("fit_spark: %d indexed (user, item) pairs collected to the driver", len(local))
    user_ids = as_index(user_index.toPandas().sort_values("_row")[user_col].to_numpy())
    if items is None:
        item_ids = as_index(item_index.toPandas().sort_values("_col")[item_col].to_numpy())
    item_specs, block_encoders = encode_columns(item_vectors, items, "item")
    user_specs, _ = encode_columns(user_vectors, users, "user")
    data = InteractionData.from_codes(
        local["_row"].to_numpy(), local["_col"].to_numpy(), local["_w"].to_numpy(), user_ids, item_ids, items,
        users, order=order_codes(local, "_t" if has_time else None, "interactions_sdf", missing="last"),
        user_col=user_col, item_col=item_col, text_col=text_col, user_text_col=user_text_col,
        domain_col=domain_col, item_vectors=item_specs, user_vectors=user_specs)

    columns = {"user": user_col, "item": item_col, "domain": domain_col, "weight": weight_col if has_weight else None,
               "timestamp": timestamp_col if has_time else None, "duplicates": duplicates}
    return model.fit_data(data, columns=columns, block_encoders=block_encoders, encoder=encoder)


def _encoded(frame: Any, columns: list[str], encoder: Any) -> Any:
    """The frame as pandas, after its texts (joined as ``fit`` joins them) were encoded on Spark into the cache."""
    from .._frames import join_text

    local = frame.toPandas()
    present = [c for c in columns if c in local.columns]
    if present and encoder is not None:  # None: no component reads text, so nothing is encoded
        import pandas as pd

        texts = frame.sparkSession.createDataFrame(pd.DataFrame({"_text": list(dict.fromkeys(join_text(local, present)))}))
        encode_texts(texts, "_text", encoder).count()  # runs the encoding; the workers fill the cache
    return local
