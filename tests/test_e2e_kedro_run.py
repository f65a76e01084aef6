"""End-to-end: a whole `kedro run` in the `test` environment on a copy of the project config.

The project is copied to a temporary folder (``project_copy``, ``default_run`` in conftest.py), so
a run writes its data and its MLflow store there, never into the checkout.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from labelcraft.experiments import ALL_METHODS, LABELCRAFT, RANDOM
from labelcraft.experiments import cells as cells_module
from tests.conftest import run_session, tracking_uri
from tests.test_strict_json import strict_load

pytestmark = pytest.mark.e2e


MULTI_OBJECTIVE = "multi-objective"  # conf/test's multi-objective cell (on DIN)
METHODS = [*ALL_METHODS, LABELCRAFT, MULTI_OBJECTIVE, RANDOM]


def assert_rule_reports(folder: Path, *, truth: bool) -> None:
    """valid/test metrics and leaderboard.md of the comparison list every rule, LabelCraft and
    the multi-objective cell; results.csv and the task table carry its per-task metrics."""
    methods = METHODS
    for split in ("valid", "test"):
        report = json.loads((folder / f"{split}_metrics.json").read_text())
        assert list(report["methods"]) == methods
        assert report["methods"]["WT"]["metrics"]["NWTG@10"]["n_users"] == report["n_users"] > 0
    board = (folder / "leaderboard.md").read_text()
    for method in methods:
        assert f"\n| {method} | " in board, method
    assert ("SAT NDCG@10" in board) == truth
    assert (folder / "truth_agreement.json").exists() == truth
    results = pd.read_csv(folder / "benchmark/results.csv")
    own = results[results["method"] == MULTI_OBJECTIVE]
    assert {"AUC_skip", "gAUC_hate", "MAE_watch_time", "XAUC_watch_time"} <= set(own["metric"])
    assert f"| {MULTI_OBJECTIVE} | " in (folder / "benchmark/task_table.md").read_text()


def test_default_run_on_simulated_data(default_run: Path) -> None:
    """The default pipeline simulates, ingests and builds features; every row is accounted for.

    ``default_run`` (conftest.py) is the project copy after ``kedro run --env test``.
    """
    data = default_run / "data"
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
    assert (default_run / "mlflow.db").exists()
    assert_rule_reports(data / "08_reporting/simulated", truth=True)


def test_every_json_output_is_strict_json(default_run: Path) -> None:
    """No report holds a bare NaN or Infinity (undefined figures are null)."""
    files = sorted((default_run / "data").rglob("*.json"))
    assert len(files) > 20, files
    for path in files:
        strict_load(path.read_text())


def test_kuairand_run_accounts_for_every_row(
    project_copy: Path, kuairand_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kedro run --pipeline kuairand` on the real slice: kept + rejected = 185,061 rows."""
    monkeypatch.setenv("KUAIRAND_DIR", str(kuairand_dir))
    run_session(project_copy, "kuairand")
    data = project_copy / "data"
    report = json.loads((data / "08_reporting/kuairand/ingestion_report.json").read_text())
    assert report["input_rows"] == 185_061
    assert report["kept_rows"] + report["rejected_rows"] == 185_061
    rejected = pd.read_parquet(data / "02_intermediate/kuairand/rejected_rows.parquet")
    assert len(rejected) == report["rejected_rows"]
    assert rejected["reason"].notna().all()
    spec = json.loads((data / "04_feature/kuairand/feature_spec.json").read_text())
    assert spec["history_length"] == 100
    assert_rule_reports(data / "08_reporting/kuairand", truth=False)
    client = MlflowClient(tracking_uri(project_copy))
    runs = client.search_runs([client.get_experiment_by_name("labelcraft").experiment_id])
    (run,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert run.data.tags["data_source"] == "kuairand"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run.info.run_id]
    assert len(children) == len(METHODS)  # conf/test: one seed
    assert {child.data.tags["data_source"] for child in children} == {"kuairand"}
    by_reason = rejected["reason"].value_counts()
    for reason, count in by_reason.items():
        metric = f"kuairand.ingestion.rejected.{reason.replace(':', '.')}"
        assert run.data.metrics[metric] == count
    assert run.data.metrics["kuairand.ingestion.rejected_rows"] == by_reason.sum()


def test_kuairand_without_data_names_the_directory(
    project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KUAIRAND_DIR with no logs fails with a message naming the folder and the pattern."""
    empty = tmp_path / "no_logs_here"
    empty.mkdir()
    monkeypatch.setenv("KUAIRAND_DIR", str(empty))
    with pytest.raises(Exception, match="no_logs_here") as error:
        run_session(project_copy, "kuairand")
    assert "log_standard_" in str(error.value)


# ---------------------------------------------------------------- the grid: one cell, resume


def _cell_files(data: Path) -> dict[str, float]:
    """Modification time of every file a cell of the simulated source wrote."""
    roots = (data / "07_model_output/simulated/din", data / "06_models/simulated/din")
    return {str(path.relative_to(data)): path.stat().st_mtime_ns
            for root in roots for path in root.rglob("*") if path.is_file()}


def test_one_cell_is_retrained_and_the_reports_rebuilt(default_run: Path, project_copy: Path
                                                       ) -> None:
    """``--namespaces simulated.din.wt,simulated.reporting`` retrains WT only and rebuilds the
    reports from the saved cells: same seeds, same leaderboard."""
    shutil.copytree(default_run / "data", project_copy / "data")
    reporting = project_copy / "data/08_reporting/simulated"
    board = (reporting / "leaderboard.md").read_text()
    (reporting / "leaderboard.md").unlink()
    before = _cell_files(project_copy / "data")
    run_session(project_copy, "__default__",
                namespaces=["simulated.din.wt", "simulated.reporting"])
    after = _cell_files(project_copy / "data")
    changed = {name for name in before if after[name] != before[name]}
    assert changed and all(name.split("/")[3] == "wt" for name in changed), changed
    assert any(name.endswith("weights.pt") for name in changed)
    assert (reporting / "leaderboard.md").read_text() == board


def test_a_failed_cell_loses_nothing_else_and_the_run_resumes(
    default_run: Path, project_copy: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    """A cell that fails on purpose (PC) stops the run; every finished cell keeps its outputs and
    the ``--from-nodes`` Kedro suggests finishes the run without retraining them."""
    shutil.copytree(default_run / "data", project_copy / "data")
    for stage in ("06_models", "07_model_output", "08_reporting"):  # keep the features only
        shutil.rmtree(project_copy / "data" / stage)
    real_train = cells_module.train_model

    def failing(*args, description: str, **kwargs):
        if description.startswith("PC seed"):
            raise RuntimeError("PC fails on purpose")
        return real_train(*args, description=description, **kwargs)

    data = project_copy / "data"
    with monkeypatch.context() as patch:
        patch.setattr(cells_module, "train_model", failing)
        with pytest.raises(RuntimeError, match="on purpose"):
            run_session(project_copy, "__default__", tags=["comparison", "reporting"])
    finished = _cell_files(data)
    trained = {name.split("/")[3] for name in finished if name.endswith("weights.pt")}
    assert trained and "pc" not in trained
    for cell in trained:  # a trained cell has every output of its train node
        for name in ("valid_scores", "test_scores", "history"):
            assert (data / f"07_model_output/simulated/din/{cell}/{name}.parquet").exists()
    (suggestion,) = {match.group(1) for record in caplog.records
                     for match in [re.search(r'--from-nodes "([^"]+)"', record.getMessage())]
                     if match}
    resume = suggestion.split(",")
    assert "simulated.din.pc.train" in resume
    run_session(project_copy, "__default__", from_nodes=resume)
    after = _cell_files(data)
    assert all(after[name] == stamp for name, stamp in finished.items()), "a cell was retrained"
    assert (data / "06_models/simulated/din/pc/weights.pt").exists()
    report = json.loads((data / "08_reporting/simulated/test_metrics.json").read_text())
    assert list(report["methods"]) == METHODS
