"""What a `kedro run` logs to MLflow, read back from a temporary store with ``MlflowClient``.

The suite's one default run (``default_run`` in conftest.py, ``test`` environment) serves every
test; the last test makes a run fail in the features stage, in its own copy, and checks it is
FAILED and kept its logs. Unit tests of the pure helpers (metric names, git state) come first.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.telemetry.utils as telemetry_utils
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from mlflow.entities import Run, RunStatus

import labelcraft
from labelcraft import settings
from labelcraft.datasets import LabelerDataset
from labelcraft.experiments import ALL_METHODS, LABELCRAFT, RANDOM
from labelcraft.meta import Labeler
from labelcraft.tracking import data_sources, feature_metrics, git_state, ingestion_metrics
from labelcraft.tracking.child_runs import MlflowSeedRuns, curve_metrics, final_metrics
from labelcraft.tracking.metrics import metric_name
from labelcraft.tracking.telemetry import OPT_OUT, opt_out_of_mlflow_telemetry
from tests.conftest import OWN_STORE, project_environment, run_session, tracking_uri

pytestmark = pytest.mark.e2e

EXPERIMENT = "labelcraft"  # conf/base/mlflow.yml
PARENT_TAG = "mlflow.parentRunId"


# ---------------------------------------------------------------- pure helpers
def test_ingestion_metrics_flatten_reasons_into_valid_names() -> None:
    """Reasons like ``null:user_id`` become ``rejected.null.user_id``; counts are floats."""
    report = {
        "input_rows": 10,
        "kept_rows": 7,
        "rejected_rows": 3,
        "rejected_by_reason": {"null:user_id": 2, "exact_duplicate": 1},
    }
    assert ingestion_metrics(report) == {
        "input_rows": 10.0,
        "kept_rows": 7.0,
        "rejected_rows": 3.0,
        "rejected.null.user_id": 2.0,
        "rejected.exact_duplicate": 1.0,
    }


@pytest.mark.parametrize(
    ("kept", "by_reason", "message"),
    [(8, {"exact_duplicate": 3}, "kept \\+ rejected"), (7, {"exact_duplicate": 2}, "add up")],
)
def test_ingestion_metrics_reject_counts_that_do_not_add_up(
    kept: int, by_reason: dict[str, int], message: str
) -> None:
    """A report whose rows do not add up is an error, not a metric."""
    report = {
        "input_rows": 10,
        "kept_rows": kept,
        "rejected_rows": 3,
        "rejected_by_reason": by_reason,
    }
    with pytest.raises(ValueError, match=message):
        ingestion_metrics(report)


def test_feature_metrics_names() -> None:
    """Rows per split, evaluation users and vocabulary sizes from a (hand-made) feature spec."""
    spec = {
        "num_rows": 9,
        "split_rows": {"train": 5, "valid": 2, "test": 2},
        "eval_users": {"valid": 1, "test": 0},
        "vocab_sizes": {"user": 4, "video": 6},
        "duration_buckets": {"requested": 64, "effective": 3},
    }
    assert feature_metrics(spec) == {
        "rows": 9.0,
        "rows.train": 5.0,
        "rows.valid": 2.0,
        "rows.test": 2.0,
        "eval_users.valid": 1.0,
        "eval_users.test": 0.0,
        "vocab.user": 4.0,
        "vocab.video": 6.0,
        "duration_buckets": 3.0,
    }


def test_metric_name_replaces_characters_mlflow_rejects() -> None:
    """``:`` and other characters outside ``[\\w./\\- ]`` become ``.``."""
    assert metric_name("rejected", "negative:play_time_ms") == "rejected.negative.play_time_ms"
    assert metric_name("a b", "c-d/e") == "a b.c-d/e"
    assert metric_name("x@y") == "x.y"


def test_data_sources_from_namespaces() -> None:
    """Top-level namespaces that are sources, sorted; others and ``None`` are ignored."""
    namespaces = ["simulated", None, "kuairand.training", "reporting", "simulated"]
    assert data_sources(namespaces, ("simulated", "kuairand")) == ["kuairand", "simulated"]
    assert data_sources([None], ("simulated",)) == []


def test_git_state_outside_a_checkout_is_none(tmp_path: Path) -> None:
    """A folder outside any git work tree gives no commit (the run is simply not tagged)."""
    assert git_state(tmp_path) is None


def test_curve_and_final_metric_names() -> None:
    """Per-epoch ``train_loss`` / ``valid.<metric>``; final ``final.<split>.<metric>``."""
    entry = {"epoch": 2, "train_loss": 0.5, "valid_NWTG@10": 0.25, "seconds": 1.0}
    assert curve_metrics(entry) == {"train_loss": 0.5, "valid.NWTG.10": 0.25}
    meta = {**entry, "meta_steps": 3, "objective": 0.2, "weight_engagement": 0.4,
            "valid_objective": 0.1, "train_seconds": 0.5}
    assert curve_metrics(meta) == {"train_loss": 0.5, "valid.NWTG.10": 0.25, "meta.objective": 0.2,
                                   "meta.weight_engagement": 0.4, "valid.objective": 0.1}
    report = {"NWTG@10": {"mean": 0.3, "ci_low": 0.1}, "AUC_EF": {"value": 0.7}}
    assert final_metrics(report, "test") == {"final.test.NWTG.10": 0.3, "final.test.AUC_EF": 0.7}


def test_seed_runs_are_a_no_op_without_an_active_run() -> None:
    """Outside an MLflow run the callback logs nothing (and needs nothing of its argument)."""
    assert mlflow.active_run() is None
    MlflowSeedRuns("simulated")(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- one tracked default run
@dataclass(frozen=True)
class TrackedRun:
    """The project copy, a client on its store, and the run of ``kedro run`` (default)."""

    project: Path
    client: MlflowClient
    run: Run


def _all_runs(client: MlflowClient) -> list[Run]:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no MLflow experiment {EXPERIMENT!r} in the temporary store"
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def _runs(client: MlflowClient) -> list[Run]:
    """The top-level runs (one per ``kedro run``), without the per-method child runs."""
    return [run for run in _all_runs(client) if PARENT_TAG not in run.data.tags]


@pytest.fixture(scope="module")
def tracked(default_run: Path) -> TrackedRun:
    """The shared default run (conftest.py) and a client on its MLflow store."""
    client = MlflowClient(tracking_uri=tracking_uri(default_run))
    runs = _runs(client)
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return TrackedRun(default_run, client, runs[0])


def _read_json(project: Path, relative: str) -> dict:
    return json.loads((project / relative).read_text())


def test_run_finished_in_the_temporary_store(tracked: TrackedRun) -> None:
    """One FINISHED run named after the pipeline, in the copy's store, not the project's."""
    run = tracked.run
    assert run.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert run.info.run_name == "__default__"
    assert (tracked.project / "mlflow.db").is_file()
    assert str(tracked.project) in run.info.artifact_uri
    assert OWN_STORE.resolve() != (tracked.project / "mlflow.db").resolve()


def test_params_are_flattened(tracked: TrackedRun) -> None:
    """Node parameters land as ``<group>.<key>`` with the values of the ``test`` environment."""
    params = tracked.run.data.params
    assert params["simulation.n_users"] == "300"  # conf/test overrides the base 3000
    assert params["simulation.seed"] == "7"
    assert params["features.test_days"] == "3"
    assert params["features.history_length"] == "100"
    assert params["calibration_factor"] == "1.5"


def test_tags_name_source_and_commit(tracked: TrackedRun) -> None:
    """``data_source`` is the run's namespace; git tags match the checkout the code came from."""
    tags = tracked.run.data.tags
    assert tags["data_source"] == "simulated"
    code_dir = Path(labelcraft.__file__).resolve().parent
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=code_dir, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:  # installed outside a git checkout: no commit to record
        assert "git_commit" not in tags
        return
    assert tags["git_commit"] == head.stdout.strip()
    assert tags["mlflow.source.git.commit"] == head.stdout.strip()
    assert tags["git_dirty"] in {"true", "false"}


def test_ingestion_counts_are_metrics(tracked: TrackedRun) -> None:
    """Kept / rejected rows (and per reason) equal the ingestion report written by the run."""
    report = _read_json(tracked.project, "data/08_reporting/simulated/ingestion_report.json")
    metrics = tracked.run.data.metrics
    assert metrics["simulated.ingestion.input_rows"] == report["input_rows"]
    assert metrics["simulated.ingestion.kept_rows"] == report["kept_rows"] > 0
    assert metrics["simulated.ingestion.rejected_rows"] == report["rejected_rows"]
    by_reason = {
        key: value
        for key, value in metrics.items()
        if key.startswith("simulated.ingestion.rejected.")
    }
    assert sum(by_reason.values()) == report["rejected_rows"]
    history = tracked.client.get_metric_history(
        tracked.run.info.run_id, "simulated.ingestion.kept_rows"
    )
    assert [point.step for point in history] == [0]


def test_feature_counts_are_metrics(tracked: TrackedRun) -> None:
    """Rows per split add up to the kept rows; eval users match the feature spec."""
    spec = _read_json(tracked.project, "data/04_feature/simulated/feature_spec.json")
    metrics = tracked.run.data.metrics
    splits = [metrics[f"simulated.features.rows.{split}"] for split in ("train", "valid", "test")]
    assert min(splits) > 0
    assert sum(splits) == metrics["simulated.features.rows"]
    assert metrics["simulated.features.rows"] == metrics["simulated.ingestion.kept_rows"]
    for split in ("valid", "test"):
        assert metrics[f"simulated.features.eval_users.{split}"] == spec["eval_users"][split]
    assert metrics["simulated.features.vocab.video"] == spec["vocab_sizes"]["video"]


def test_reports_are_artifacts(tracked: TrackedRun, tmp_path: Path) -> None:
    """The reports and the feature spec are logged under ``simulated/`` with the saved content."""
    run_id = tracked.run.info.run_id
    names = {Path(item.path).name for item in tracked.client.list_artifacts(run_id, "simulated")}
    assert {
        "ingestion_report.json",
        "calibration_report.json",
        "feature_spec.json",
        "valid_metrics.json",
        "test_metrics.json",
        "truth_agreement.json",
        "leaderboard.md",
        "label_rule_correlations.csv",
    } <= names
    for name in ("calibration_report.json", "test_metrics.json"):
        downloaded = tracked.client.download_artifacts(
            run_id, f"simulated/{name}", str(tmp_path)
        )
        assert json.loads(Path(downloaded).read_text()) == _read_json(
            tracked.project, f"data/08_reporting/simulated/{name}"
        )
    board = tracked.client.download_artifacts(run_id, "simulated/leaderboard.md", str(tmp_path))
    assert "| LabelCraft |" in Path(board).read_text()


def test_failed_run_is_marked_failed_and_keeps_its_logs(
    tracked: TrackedRun, tmp_path: Path
) -> None:
    """A run failing in the features stage is FAILED yet keeps what it logged before failing.

    In a fresh project copy holding the default run's data files (and an empty MLflow store), it
    restarts from ingestion with a feature parameter the features stage rejects: the ingestion
    report (saved by ``ingest_logs``, which must run first), the tags and the parameters are
    kept; the features' metrics never come.
    """
    with project_environment(tmp_path / "project") as project:
        shutil.copytree(tracked.project / "data", project / "data")
        with pytest.raises(ValueError, match="history_length"):
            run_session(
                project,
                "__default__",
                runtime_params={"features": {"history_length": 0}},
                from_nodes=["simulated.ingestion.ingest_logs"],
            )
        client = MlflowClient(tracking_uri=tracking_uri(project))
        (failed,) = _runs(client)
        artifacts = client.list_artifacts(failed.info.run_id, "simulated")
    assert failed.info.status == RunStatus.to_string(RunStatus.FAILED)
    assert failed.data.params["features.history_length"] == "0"
    assert failed.data.tags["data_source"] == "simulated"
    assert not any(key.startswith("simulated.features.") for key in failed.data.metrics)
    assert "ingestion_report.json" in {Path(item.path).name for item in artifacts}


# ---------------------------------------------------------------- per-method child runs
def _children(tracked: TrackedRun) -> dict[tuple[str, str], Run]:
    """(method, seed) -> child run of the default run."""
    children = [
        run
        for run in _all_runs(tracked.client)
        if run.data.tags.get(PARENT_TAG) == tracked.run.info.run_id
    ]
    keyed = {(run.data.tags["method"], run.data.tags["seed"]): run for run in children}
    assert len(keyed) == len(children), "two child runs for the same method and seed"
    return keyed


MULTI_OBJECTIVE = "multi-objective"  # conf/test's multi-objective cell


def test_one_tagged_child_run_per_method_and_seed(tracked: TrackedRun) -> None:
    """conf/test: every rule, LabelCraft, the multi-objective cell and the random floor with
    seed 0, FINISHED, tagged."""
    children = _children(tracked)
    assert set(children) == {(method, "0") for method in (*ALL_METHODS, LABELCRAFT,
                                                           MULTI_OBJECTIVE, RANDOM)}
    for (method, _), run in children.items():
        assert run.info.status == RunStatus.to_string(RunStatus.FINISHED)
        assert run.data.tags["backbone"] == ("random" if method == RANDOM else "din")
        assert run.data.tags["data_source"] == "simulated"
        assert run.info.run_name == f"simulated/{method}/seed0"


def test_multi_objective_child_run_logs_per_task_curves_and_metrics(tracked: TrackedRun
                                                                     ) -> None:
    """The multi-objective cell's run has each binary task's validation AUC per epoch and every
    per-task final metric of both splits."""
    run = _children(tracked)[MULTI_OBJECTIVE, "0"]
    for task in ("skip", "long_view", "EF", "hate"):
        assert tracked.client.get_metric_history(run.info.run_id, f"valid.AUC_{task}"), task
    for split in ("valid", "test"):
        for name in ("AUC_skip", "gAUC_long_view", "MAE_watch_time", "XAUC_watch_time"):
            assert f"final.{split}.{name}" in run.data.metrics, (split, name)


def test_child_runs_log_the_training_curve_per_epoch(tracked: TrackedRun) -> None:
    """train_loss and valid.<metric> have one point per epoch trained, equal to the history."""
    history = pd.read_parquet(
        tracked.project / "data/08_reporting/simulated/training_history.parquet"
    )
    for (method, seed), run in _children(tracked).items():
        rows = history[(history["method"] == method) & (history["seed"] == int(seed))]
        if method == RANDOM:  # the floor is not trained: no history, no curve
            assert rows.empty
            assert not tracked.client.get_metric_history(run.info.run_id, "train_loss")
            continue
        assert len(rows) > 0
        for name, column in (("train_loss", "train_loss"), ("valid.NWTG.10", "valid_NWTG@10")):
            logged = rows[rows[column].notna()]  # LabelCraft's epoch 0 has no train loss
            points = tracked.client.get_metric_history(run.info.run_id, name)
            assert [p.step for p in points] == logged["epoch"].tolist(), (method, name)
            assert [p.value for p in points] == pytest.approx(logged[column].tolist())


def test_labelcraft_child_run_logs_objectives_and_weights(tracked: TrackedRun) -> None:
    """M1-M3, their adaptive weights and the soft validation objective, one point per epoch."""
    history = pd.read_parquet(
        tracked.project / "data/08_reporting/simulated/training_history.parquet"
    )
    lc_rows = history[history["method"] == LABELCRAFT]
    assert lc_rows["epoch"].iloc[0] == 0 and lc_rows["usage_time"].isna().iloc[0]
    run = _children(tracked)[LABELCRAFT, "0"]
    for name in ("usage_time", "engagement", "duration_spread"):
        for metric, column in ((f"meta.{name}", name), (f"meta.weight_{name}", f"weight_{name}"),
                               (f"valid.{name}", f"valid_{name}")):
            rows = lc_rows[lc_rows[column].notna()]
            points = tracked.client.get_metric_history(run.info.run_id, metric)
            assert [p.step for p in points] == rows["epoch"].tolist(), metric
            assert [p.value for p in points] == pytest.approx(rows[column].tolist()), metric


def test_child_runs_log_the_final_metrics(tracked: TrackedRun) -> None:
    """Same final metric names in every child (the multi-objective one has its per-task metrics
    too), equal to the per-seed reports of the run."""
    reports = {
        split: _read_json(tracked.project, f"data/08_reporting/simulated/{split}_metrics.json")
        for split in ("valid", "test")
    }
    children = _children(tracked)
    names = {k for k in children["WT", "0"].data.metrics if k.startswith("final.")}
    for (method, _), run in children.items():
        metrics = {k: v for k, v in run.data.metrics.items() if k.startswith("final.")}
        if method == MULTI_OBJECTIVE:
            assert names < set(metrics)
        else:
            assert set(metrics) == names
        for split, report in reports.items():
            (per_seed,) = report["methods"][method]["per_seed"]
            assert metrics[f"final.{split}.NWTG.10"] == pytest.approx(
                per_seed["metrics"]["NWTG@10"]["mean"]
            )
            assert metrics[f"final.{split}.AUC_EF"] == pytest.approx(
                per_seed["metrics"]["AUC_EF"]["value"]
            )
    assert {"final.test.NEG.10", "final.test.DS.10", "final.valid.AUC_long_view"} <= names


def test_seed_zero_weights_are_artifacts(tracked: TrackedRun, tmp_path: Path) -> None:
    """Each seed-0 child holds its model's state dict (LabelCraft: and the labeler's)."""
    children = _children(tracked)
    for method, name in (("WT", "model"), (LABELCRAFT, "model"), (LABELCRAFT, "labeler")):
        path = tracked.client.download_artifacts(
            children[method, "0"].info.run_id, f"weights/{name}_state_dict.pt",
            str(tmp_path / method)
        )
        state = torch.load(path, weights_only=True)
        assert state and all(isinstance(value, torch.Tensor) for value in state.values())
    for (method, _), child in children.items():
        listed = tracked.client.list_artifacts(child.info.run_id, "weights")
        expected = {LABELCRAFT: ["labeler_state_dict.pt", "model_state_dict.pt"], RANDOM: []}.get(
            method, ["model_state_dict.pt"])
        assert sorted(Path(item.path).name for item in listed) == expected


def test_labeler_artifact_loads_and_labels(tracked: TrackedRun, tmp_path: Path) -> None:
    """The run's labeler artifact (weights + JSON description, no pickle) rebuilds the labeler
    that wrote the labels dataset."""
    path = tracked.client.download_artifacts(
        tracked.run.info.run_id, "simulated/din/labelcraft/labeler.pt", str(tmp_path)
    )
    labeler = Labeler.from_artifact(LabelerDataset(path).load())
    labels = pd.read_parquet(
        tracked.project / "data/07_model_output/simulated/din/labelcraft/labels.parquet"
    )
    feedback = pd.read_parquet(tracked.project / "data/05_model_input/simulated/feedback.parquet")
    rows = feedback.iloc[labels["row"]][list(labeler.feedback_columns)].to_numpy()
    with torch.no_grad():
        again = labeler(torch.tensor(rows, dtype=torch.float32)).numpy()
    assert again == pytest.approx(labels["label"].to_numpy(), rel=1e-5)


def test_plots_are_artifacts(tracked: TrackedRun) -> None:
    """The reporting stage's PNGs are logged under ``simulated/plots``."""
    listed = tracked.client.list_artifacts(tracked.run.info.run_id, "simulated/plots")
    assert {Path(item.path).name for item in listed} == {
        "training_curves.png",
        "duration_histograms.png",
        "leaderboard.png",
        "label_surface.png",
        "label_surface_ratio.png",
    }


def test_the_project_opts_out_of_mlflow_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where MLflow would collect usage data (outside CI, no variable set), the project's
    settings switch it off and drop the client; a user's explicit choice is kept."""
    monkeypatch.delenv(OPT_OUT, raising=False)
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    monkeypatch.setattr(telemetry_utils, "_IS_IN_CI_ENV_OR_TESTING", False)
    monkeypatch.setattr(telemetry_utils, "_IS_MLFLOW_DEV_VERSION", False)
    assert not telemetry_utils.is_telemetry_disabled()  # MLflow would collect here
    importlib.reload(settings)  # what every Kedro command does first
    assert os.environ[OPT_OUT] == "true" and telemetry_utils.is_telemetry_disabled()
    assert mlflow.telemetry.get_telemetry_client() is None
    monkeypatch.setattr(telemetry_utils, "_IS_IN_CI_ENV_OR_TESTING", True)  # no real client
    monkeypatch.setenv(OPT_OUT, "false")
    opt_out_of_mlflow_telemetry()
    assert os.environ[OPT_OUT] == "false"
