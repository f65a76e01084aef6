"""The comparison notebook runs top to bottom against a finished default run."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e

NOTEBOOK = PROJECT_ROOT / "notebooks" / "compare_label_methods.ipynb"


def test_notebook_runs_on_the_default_run(default_run: Path, monkeypatch) -> None:
    """Executed in the project copy (``test`` environment): every cell runs, tables and figures
    are shown, and the leaderboard cell shows the run's leaderboard."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("KEDRO_ENV", "test")
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(default_run)}},
    )
    client.execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    leaderboard = (default_run / "data/08_reporting/simulated/leaderboard.md").read_text()
    shown = [output["data"].get("text/markdown", "") for output in outputs if "data" in output]
    assert leaderboard in shown
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 3
    assert any("WT+EF" in output.get("data", {}).get("text/html", "") for output in outputs)
