"""End-to-end: a whole `kedro run` in the `test` environment on a copy of the project config.

The project is copied to a temporary folder so the run writes its data and its MLflow store
there, never into the checkout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away project folder with this project's config and a temporary MLflow store."""
    for name in ("conf", "pyproject.toml", ".telemetry"):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("local"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()  # the package itself is imported from the installed project
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


def _stamp(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


def _run(project: Path, pipeline: str) -> None:
    """Run ``pipeline`` in the copy; assert that the checkout's own store was not touched."""
    own_store = PROJECT_ROOT / "mlflow.db"
    before = _stamp(own_store)
    try:
        with KedroSession.create(project_path=project, env="test") as session:
            session.run(pipeline_name=pipeline)
    finally:
        assert _stamp(own_store) == before, "a test wrote to the project's own MLflow store"


def test_default_run_on_simulated_data(project_copy: Path) -> None:
    """The default pipeline simulates, ingests and builds features; every row is accounted for."""
    _run(project_copy, "__default__")
    data = project_copy / "data"
    report = json.loads((data / "08_reporting/simulated/ingestion_report.json").read_text())
    assert report["input_rows"] == report["kept_rows"] + report["rejected_rows"]
    assert report["kept_rows"] > 0
    calibration = json.loads((data / "08_reporting/simulated/calibration_report.json").read_text())
    assert calibration["rows"], "the calibration table is empty"
    model_inputs = pd.read_parquet(data / "05_model_input/simulated/model_inputs.parquet")
    feedback = pd.read_parquet(data / "05_model_input/simulated/feedback.parquet")
    assert len(model_inputs) == len(feedback) == report["kept_rows"]
    assert set(model_inputs["split"].unique()) == {0, 1, 2}
    groups = pd.read_parquet(data / "05_model_input/simulated/eval_groups_test.parquet")
    assert groups["user_idx"].nunique() > 0
    assert (project_copy / "mlflow.db").exists()


def test_kuairand_run_accounts_for_every_row(
    project_copy: Path, kuairand_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kedro run --pipeline kuairand` on the real slice: kept + rejected = 185,061 rows."""
    monkeypatch.setenv("KUAIRAND_DIR", str(kuairand_dir))
    _run(project_copy, "kuairand")
    data = project_copy / "data"
    report = json.loads((data / "08_reporting/kuairand/ingestion_report.json").read_text())
    assert report["input_rows"] == 185_061
    assert report["kept_rows"] + report["rejected_rows"] == 185_061
    rejected = pd.read_parquet(data / "02_intermediate/kuairand/rejected_rows.parquet")
    assert len(rejected) == report["rejected_rows"]
    assert rejected["reason"].notna().all()
    spec = json.loads((data / "04_feature/kuairand/feature_spec.json").read_text())
    assert spec["history_length"] == 100


def test_kuairand_without_data_names_the_directory(
    project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KUAIRAND_DIR with no logs fails with a message naming the folder and the pattern."""
    empty = tmp_path / "no_logs_here"
    empty.mkdir()
    monkeypatch.setenv("KUAIRAND_DIR", str(empty))
    with pytest.raises(Exception, match="no_logs_here") as error:
        _run(project_copy, "kuairand")
    assert "log_standard_" in str(error.value)
