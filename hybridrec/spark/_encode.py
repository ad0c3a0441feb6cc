"""Text encoding on Spark: an iterator pandas UDF, one model load per task, the same cache."""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pandas as pd

from ._checks import check_columns, check_spark_frame


def _portable(encoder: Any) -> Any:
    """A copy of ``encoder`` whose cache folder is resolved here, so every worker shares it."""
    from sklearn.base import clone

    from .._cache import default_cache_dir
    from ..text import TextEncoder

    encoder = TextEncoder() if encoder is None else clone(encoder)
    if getattr(encoder, "cache_dir", None) == "auto":
        encoder.set_params(cache_dir=str(default_cache_dir()))
    if "show_progress" in encoder.get_params():
        encoder.set_params(show_progress=False)
    return encoder


def encode_texts(df: Any, text_col: str, encoder: Any = None, output_col: str = "embedding") -> Any:
    """Add an embedding column (array of float) to a Spark DataFrame of texts.

    Each task unpickles the encoder and loads its model once (an iterator pandas UDF), then
    encodes its batches through the same on-disk cache as the local encoder, so a text encoded
    here is not encoded again locally, and the vectors equal the local ones.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    text_col : str
        Column of texts (missing or empty texts give the zero vector, as locally).
    encoder : TextEncoder, optional
        Default ``TextEncoder()``.
    output_col : str, default="embedding"

    Returns
    -------
    pyspark.sql.DataFrame
        ``df`` with ``output_col`` added.
    """
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType

    check_spark_frame(df, "df", "encode_texts")
    check_columns(df, [text_col], "df", "encode_texts")
    encoder = _portable(encoder)

    @pandas_udf(ArrayType(FloatType()))
    def _encode(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        for texts in batches:  # the model loads on the first batch and stays for the task
            vectors = encoder.encode(texts.tolist()).astype(np.float32)
            yield pd.Series(list(vectors))

    return df.withColumn(output_col, _encode(df[text_col]))
