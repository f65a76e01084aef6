"""The same seeds and thread count give the same numbers in another process and folder.

A second ``kedro run --env test`` runs in a fresh process (its own project copy, another
``PYTHONHASHSEED``) and must write exactly the scores and reports of the shared run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import copy_project, tracking_uri

pytestmark = pytest.mark.e2e

TIMING_COLUMNS = {"seconds", "train_seconds"}


def test_a_second_process_writes_the_same_scores_and_reports(default_run: Path,
                                                             tmp_path: Path) -> None:
    project = copy_project(tmp_path / "again")
    env = os.environ | {"PYTHONHASHSEED": "12345", "MLFLOW_TRACKING_URI": tracking_uri(project)}
    subprocess.run([sys.executable, "-m", "kedro", "run", "--env", "test"], cwd=project,
                   env=env, check=True, capture_output=True, timeout=900)
    first, second = default_run / "data", project / "data"
    scores = sorted(p.relative_to(first) for p in first.rglob("*_scores.parquet"))
    assert len(scores) > 10, scores
    for path in scores:
        pd.testing.assert_frame_equal(pd.read_parquet(second / path),
                                      pd.read_parquet(first / path), check_exact=True)
    reports = sorted(p.relative_to(first) for p in first.rglob("*_report.json"))
    reports += [Path("08_reporting/simulated/test_metrics.json"),
                Path("08_reporting/simulated/leaderboard.md")]
    for path in reports:
        assert (second / path).read_text() == (first / path).read_text(), path
    history = pd.read_parquet(first / "08_reporting/simulated/training_history.parquet")
    again = pd.read_parquet(second / "08_reporting/simulated/training_history.parquet")
    kept = [c for c in history.columns if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(again[kept], history[kept], check_exact=True)
