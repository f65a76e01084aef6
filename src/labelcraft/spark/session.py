"""The run's SparkSession, built from the settings of ``conf/<env>/spark.yml``."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession  # noqa: PLC0415 (optional dependency)

logger = logging.getLogger(__name__)

APP_NAME = "spark.app.name"
PYTHON = "spark.pyspark.python"


def start_session(settings: Mapping[str, Any]) -> SparkSession:
    """``SparkSession.builder`` with every setting of `settings` (``spark.master``,
    ``spark.sql.shuffle.partitions`` ...), ``getOrCreate``; an ImportError says how to install
    the extra. A local master binds to 127.0.0.1 unless ``SPARK_LOCAL_IP`` says otherwise, and its
    Python workers run this interpreter unless ``PYSPARK_PYTHON`` is set. On a cluster the
    executors' Python is ``spark.pyspark.python`` (it must have the project installed, for the
    pandas UDFs): PySpark takes it from ``PYSPARK_PYTHON``, so the setting, as in Spark, wins over
    the variable."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 (optional dependency)
    except ImportError as error:
        raise ImportError("this environment runs on Spark, but pyspark is not installed: "
                          'pip install -e ".[spark]" (and Java 17+)') from error
    local = str(settings.get("spark.master", "")).startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if PYTHON in settings:
        os.environ["PYSPARK_PYTHON"] = str(settings[PYTHON])
    elif local:  # the Python workers of the pandas UDFs run this interpreter (it has the project)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(str(settings.get(APP_NAME, "labelcraft")))
    for key, value in settings.items():
        if key != APP_NAME:
            builder = builder.config(key, str(value).lower() if isinstance(value, bool)
                                     else str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    logger.info("Spark session %s on %s (Spark %s)", session.sparkContext.applicationId,
                session.sparkContext.master, session.version)
    return session
