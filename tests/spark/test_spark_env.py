"""`kedro run --env spark`: ingestion and features on Spark write what the pandas path writes.

Both engines run the ``kuairand`` pipeline's ingestion and features (``--tags
ingestion,features``) in their own project copy, on the real slice and on a simulated log in
KuaiRand format; every table, vocabulary, bucket edge, evaluation group and report must be equal
(same rows in the same order and dtypes; floats within 1e-9).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelcraft.datasets import SparkKuaiRandCSVDataset, SparkParquetDataset
from tests.conftest import project_environment, run_session

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

STAGE_TAGS = ["ingestion", "features"]
OUTPUT_DIRS = ("02_intermediate/kuairand", "04_feature/kuairand", "05_model_input/kuairand")
REPORTS = ("08_reporting/kuairand/ingestion_report.json", "04_feature/kuairand/feature_spec.json")
TOLERANCE = 1e-9


def assert_same(left: Any, right: Any, where: str) -> None:
    """Equal JSON values, floats within TOLERANCE."""
    if isinstance(left, float) or isinstance(right, float):
        assert isinstance(left, int | float) and isinstance(right, int | float), where
        assert math.isclose(left, right, rel_tol=0, abs_tol=TOLERANCE), f"{where}: {left} {right}"
    elif isinstance(left, dict):
        assert isinstance(right, dict) and list(left) == list(right), where
        for key in left:
            assert_same(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_same(a, b, f"{where}[{index}]")
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


def assert_same_outputs(pandas_data: Path, spark_data: Path) -> None:
    """Every table and report of ingestion and features equal between the two runs."""
    tables = sorted(p.relative_to(pandas_data) for folder in OUTPUT_DIRS
                    for p in (pandas_data / folder).glob("*.parquet"))
    assert len(tables) == 11, tables  # interactions, rejected rows and nine feature tables
    for table in tables:
        expected, actual = pd.read_parquet(pandas_data / table), pd.read_parquet(spark_data / table)
        pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=0,
                                      atol=TOLERANCE, obj=str(table))
    for report in REPORTS:
        assert_same(json.loads((spark_data / report).read_text()),
                    json.loads((pandas_data / report).read_text()), report)


def run_both(tmp_path: Path, logs: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The kuairand ingestion and features on `logs`, with pandas then with Spark."""
    monkeypatch.setenv("KUAIRAND_DIR", str(logs))
    data = {}
    for engine, env in (("pandas", "test"), ("spark", "spark")):
        with project_environment(tmp_path / engine) as project:
            run_session(project, "kuairand", env=env, tags=STAGE_TAGS)
            data[engine] = project / "data"
    return data["pandas"], data["spark"]


def test_the_spark_env_reads_and_writes_kuairand_tables_with_spark(
        spark: Any, tmp_path: Path, kuairand_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kedro.framework.session import KedroSession  # noqa: PLC0415

    monkeypatch.setenv("KUAIRAND_DIR", str(kuairand_dir))
    with (project_environment(tmp_path) as project,
          KedroSession.create(project_path=project, env="spark") as session):
        catalog = session.load_context().catalog
        assert isinstance(catalog.get("kuairand.raw_logs"), SparkKuaiRandCSVDataset)
        for name in ("interactions", "model_inputs", "vocab_videos", "eval_groups_test"):
            assert isinstance(catalog.get(f"kuairand.{name}"), SparkParquetDataset), name
        assert type(catalog.get("simulated.model_inputs")).__name__ == "ParquetDataset"


@pytest.mark.real_data
def test_spark_outputs_equal_pandas_outputs_on_the_real_slice(
        spark: Any, tmp_path: Path, kuairand_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pandas_data, spark_data = run_both(tmp_path, kuairand_dir, monkeypatch)
    assert_same_outputs(pandas_data, spark_data)
    # what the slice exercises: exact duplicates rejected, and ties in (user, time, video)
    # ordered by the row position
    reasons = pd.read_parquet(spark_data / OUTPUT_DIRS[0] / "rejected_rows.parquet")["reason"]
    assert reasons.value_counts().to_dict() == {"exact_duplicate": 4_677}
    model_inputs = pd.read_parquet(spark_data / OUTPUT_DIRS[2] / "model_inputs.parquet")
    assert model_inputs.duplicated(["user_id", "time_ms", "video_id"]).any()


def test_spark_outputs_equal_pandas_outputs_on_a_simulated_log(
        spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with project_environment(tmp_path / "simulation") as project:
        # conf/test: a small simulated log in KuaiRand format
        run_session(project, "__default__",
                    node_names=["simulated.simulation.simulate_kuairand_logs"])
        logs = project / "data/01_raw/simulated"
    assert_same_outputs(*run_both(tmp_path, logs, monkeypatch))
