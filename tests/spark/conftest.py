"""One local Spark session for every Spark test (start-up takes 10-20 s on our machines).

Without the ``spark`` extra the Spark tests are skipped with a message, except under CI (``CI``
set), where a missing pyspark is a failure, like a missing KuaiRand slice.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

SPARK_YML = Path(__file__).resolve().parents[2] / "conf" / "spark" / "spark.yml"
"""The `spark` environment's session settings: the tests run with what `kedro run` uses."""


def _unavailable(message: str) -> None:
    """Skip with `message`, or fail under CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] SparkSession shared by the whole test run, stopped at its end."""
    if importlib.util.find_spec("pyspark") is None:
        _unavailable("pyspark is not installed: pip install -e '.[dev,spark]'")
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        _unavailable("Spark needs Java 17+ (java not on PATH, JAVA_HOME unset)")
    from labelcraft.spark.session import start_session  # noqa: PLC0415 (needs pyspark)

    session = start_session(yaml.safe_load(SPARK_YML.read_text()) | {
        "spark.app.name": "labelcraft-tests"})
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
