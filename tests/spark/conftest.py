"""One local Spark session for every Spark test (start-up takes 10-20 s on our machines).

Without the ``spark`` extra the Spark tests are skipped with a message, except under CI (``CI``
set), where a missing pyspark is a failure, like a missing KuaiRand slice.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

SESSION_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "1g",
}


def _unavailable(message: str) -> None:
    """Skip with `message`, or fail under CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] SparkSession shared by the whole test run, stopped at its end."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415
    except ImportError:
        _unavailable("pyspark is not installed: pip install -e '.[dev,spark]'")
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        _unavailable("Spark needs Java 17+ (java not on PATH, JAVA_HOME unset)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python UDF workers need this interpreter (numpy, pandas), not the system's python3
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master("local[2]").appName("labelcraft-tests")
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@contextmanager
def session_conf(session: Any, settings: dict[str, str]) -> Iterator[None]:
    """Set runtime SQL `settings` on the shared `session` for a block, then restore them."""
    before = {key: session.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        session.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)
