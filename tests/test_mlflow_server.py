"""A real tracking server: ``kedro run --env test`` against ``mlflow server`` on a loopback port.

The server has a SQLite backend and an artifact root in a temporary folder and serves the
artifacts itself (``--artifacts-destination``), so runs, child runs, metrics, artifacts and the
registered labeler all travel over HTTP; it is stopped at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import project_environment, run_session

pytestmark = pytest.mark.e2e

START_SECONDS = 120


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a running ``mlflow server`` (stopped after the module's tests)."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(f"mlflow server did not start: "
                                   f"{(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def served_run(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project copy after ``kedro run --env test`` tracked by the server."""
    with project_environment(tmp_path_factory.mktemp("served_run")) as project, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", server)
        run_session(project, "__default__")
        yield project


def test_runs_metrics_and_artifacts_reach_the_server(server: str, served_run: Path) -> None:
    client = MlflowClient(server)
    experiment = client.get_experiment_by_name("labelcraft")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert parent.info.status == "FINISHED" and parent.data.tags["data_source"] == "simulated"
    children = [run for run in runs
                if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    report = pd.read_json(served_run / "data/08_reporting/simulated/test_metrics.json",
                          typ="series")
    assert len(children) == len(report["methods"])  # conf/test: one seed per cell
    wt = next(run for run in children if run.data.tags["method"] == "WT")
    assert wt.data.metrics["final.test.NWTG.10"] == pytest.approx(
        report["methods"]["WT"]["per_seed"][0]["metrics"]["NWTG@10"]["mean"])
    assert client.get_metric_history(wt.info.run_id, "train_loss")
    names = {Path(item.path).name for item in client.list_artifacts(parent.info.run_id,
                                                                     "simulated")}
    assert {"leaderboard.md", "test_metrics.json", "ingestion_report.json"} <= names
    local = client.download_artifacts(parent.info.run_id, "simulated/leaderboard.md",
                                      str(served_run / "downloaded"))
    assert Path(local).read_text() == (
        served_run / "data/08_reporting/simulated/leaderboard.md").read_text()


def test_the_registered_labeler_loads_through_the_server(
        server: str, served_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = MlflowClient(server)
    (version,) = client.search_model_versions("name='labelcraft-labeler-simulated-din'")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)  # not set_tracking_uri: no global state
    model = mlflow.pyfunc.load_model(f"models:/labelcraft-labeler-simulated-din/{version.version}")
    inputs = model.metadata.get_input_schema().input_names()
    labels = model.predict(pd.DataFrame({name: [0.0, 5.0, 60.0] for name in inputs}))["label"]
    assert len(labels) == 3 and labels.between(0, 1).all()
