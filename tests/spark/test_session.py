"""The session of `conf/<env>/spark.yml`: which Python the executors run."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.spark


def test_executor_python_comes_from_the_setting(spark: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``spark.pyspark.python`` wins over ``PYSPARK_PYTHON`` (as in Spark); a local master
    without it runs this interpreter; a cluster master without it leaves the variable alone.
    (`getOrCreate` hands back the running test session each time.)"""
    from labelcraft.spark.session import start_session  # noqa: PLC0415 (needs pyspark)

    monkeypatch.setenv("PYSPARK_PYTHON", "/from/the/variable")
    try:
        assert start_session({"spark.master": "local[2]",
                              "spark.pyspark.python": "/from/spark.yml"}) is spark
        assert os.environ["PYSPARK_PYTHON"] == "/from/spark.yml"
        monkeypatch.delenv("PYSPARK_PYTHON")
        start_session({"spark.master": "local[2]"})
        assert os.environ["PYSPARK_PYTHON"] == sys.executable
        monkeypatch.delenv("PYSPARK_PYTHON")
        start_session({"spark.master": "spark://cluster-host:7077"})
        assert "PYSPARK_PYTHON" not in os.environ
    finally:
        spark.sparkContext.setLogLevel("ERROR")  # start_session sets WARN
