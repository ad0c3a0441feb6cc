"""Input checks of the Spark entry points: a clear error, never a Py4J traceback."""
from __future__ import annotations

from typing import Any, Sequence


def check_spark_frame(df: Any, name: str, where: str) -> None:
    """Raise TypeError unless ``df`` is a pyspark DataFrame."""
    from pyspark.sql import DataFrame

    if not isinstance(df, DataFrame):
        hint = " Convert a pandas frame with spark.createDataFrame(frame)." if type(df).__name__ == "DataFrame" else ""
        raise TypeError(f"The {name!r} argument of {where} must be a pyspark.sql.DataFrame. "
                        f"Got {type(df).__module__}.{type(df).__name__}.{hint}")


def check_columns(df: Any, columns: Sequence[str], name: str, where: str) -> None:
    """Raise ValueError naming the columns of ``df`` that are missing."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: {name} has no column(s) {missing}. Its columns: {df.columns}.")
