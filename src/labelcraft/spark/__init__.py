"""The Spark engine of the `spark` env: Spark I/O that reproduces the pandas path's files.

`reader` reads KuaiRand CSV files into string Spark frames with line provenance, `parquet`
writes a Spark frame as the single Parquet file the pandas path writes, and `schemas` holds the
pandas dtypes of those files. Importing this package does not import pyspark (an optional
extra: ``pip install -e ".[spark]"``); its modules below import it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession  # noqa: PLC0415 (optional dependency)

logger = logging.getLogger(__name__)


def is_spark_frame(obj: Any) -> bool:
    """True for a pyspark DataFrame (classic or Spark Connect), judged by the type's module so
    that pyspark is not imported."""
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pyspark.")


def active_session() -> SparkSession:
    """The active SparkSession, else the one `getOrCreate` returns (logged: it has the default
    settings, not those of the project's Spark configuration)."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 (optional dependency)

    session = SparkSession.getActiveSession()
    if session is None:
        logger.warning("no active Spark session: starting one with Spark's default settings")
        session = SparkSession.builder.getOrCreate()
    return session
