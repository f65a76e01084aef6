"""Global row numbers of a sorted Spark frame, from per-partition offsets (no single-task sort).

`with_row_index` sorts with ``orderBy`` (range partitions, sorted in parallel), freezes the
partitions with ``localCheckpoint`` and numbers each row as its partition's start (the sizes of
the earlier partitions, a P-row aggregate collected on the driver) plus its position in the
partition (``monotonically_increasing_id`` minus the partition id shifted by 33 bits).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (Spark convention)

logger = logging.getLogger(__name__)

_PID, _MONO = "_rowindex_pid", "_rowindex_mono"


def with_row_index(frame: DataFrame, order: Sequence[str | Column], name: str,
                   start: int = 0) -> DataFrame:
    """`frame` [N, C] plus column `name` (bigint): its position start..start+N-1 in the order of
    `order` (which must leave no ties for the numbers to be defined). The result is
    checkpointed locally (computed once, on the executors)."""
    numbered = frame.orderBy(*order).select(
        "*", F.spark_partition_id().alias(_PID), F.monotonically_increasing_id().alias(_MONO)
    ).localCheckpoint()
    sizes = sorted((r[_PID], r["n"]) for r in numbered.groupBy(_PID).agg(
        F.count("*").alias("n")).collect())
    starts: list[Column] = []
    offset = start
    for pid, size in sizes:
        starts += [F.lit(pid), F.lit(offset).cast("bigint")]
        offset += size
    first = F.try_element_at(F.create_map(*starts), F.col(_PID))
    position = F.col(_MONO) - F.shiftleft(F.col(_PID).cast("bigint"), 33)
    return numbered.select(*frame.columns, (first + position).alias(name))
