"""Id indexing on Spark: consecutive inner indices ``0..n-1`` assigned on the workers."""
from __future__ import annotations

from typing import Any

#: ``monotonically_increasing_id`` puts the partition id in the upper 31 bits, the row's
#: position within its partition in the lower 33.
_ROW_BITS = 33


def dense_index(frame: Any, index_col: str = "_idx") -> Any:
    """``frame`` with an ``index_col`` of consecutive longs ``0..n-1``, in partition order.

    Each row gets ``monotonically_increasing_id()`` (partition id and position); one small
    count per partition gives every partition's offset, and the index is that offset plus the
    position, computed on the workers: only the per-partition counts reach the driver. The
    frame is checkpointed first (``localCheckpoint``), so the ids, and the index built on them,
    do not change when Spark recomputes the frame.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    index_col : str, default="_idx"

    Returns
    -------
    pyspark.sql.DataFrame
        ``frame``'s columns and ``index_col``, checkpointed.
    """
    from pyspark.sql import functions as F

    stamped = frame.withColumn("_mid", F.monotonically_increasing_id()).localCheckpoint()
    partition = F.shiftright(F.col("_mid"), _ROW_BITS)
    counts = dict(stamped.groupBy(partition.alias("_part")).count().collect())
    offsets, total = [], 0
    for part in sorted(counts):
        offsets += [F.lit(int(part)), F.lit(total)]
        total += counts[part]
    offset = F.create_map(*offsets)[partition] if offsets else F.lit(0)
    position = F.col("_mid") - F.shiftleft(partition, _ROW_BITS)
    return stamped.withColumn(index_col, (offset + position).cast("long")).drop("_mid")
