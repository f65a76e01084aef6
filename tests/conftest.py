"""Shared test fixtures.

Real-data tests read the KuaiRand slice from ``$KUAIRAND_DIR`` (default: the shared slice beside
the checkout, ``../shared/datasets/kuairand-pure-slice``). Where it is absent they are skipped
with a message, except under CI (``CI`` set), where a missing slice is a failure.

Tests that run Kedro work in a throw-away copy of the project config (``project_copy``,
``project_environment``) with its own MLflow store; as a safety net, every test session points
``MLFLOW_TRACKING_URI`` at a temporary store, so no test can write to the project's ``mlflow.db``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KUAIRAND_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "kuairand-pure-slice"
OWN_STORE = PROJECT_ROOT / "mlflow.db"


@pytest.fixture(scope="session")
def kuairand_dir() -> Path:
    """Directory holding the real KuaiRand slice (log, video and user files)."""
    directory = Path(os.environ.get("KUAIRAND_DIR", DEFAULT_KUAIRAND_DIR))
    if not any(directory.glob("log_standard_*.csv")):
        message = f"no KuaiRand logs in {directory}: set KUAIRAND_DIR to the slice's directory"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return directory


@pytest.fixture(scope="session", autouse=True)
def _temporary_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point MLflow at a session-wide temporary store unless a test sets its own."""
    store = tmp_path_factory.mktemp("mlflow_session") / "mlflow.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
        yield


def copy_project(target: Path) -> Path:
    """Copy the project's config (without ``conf/local``) and metadata into ``target``.

    The package itself is imported from the installed project, so ``src`` stays empty.
    """
    for name in ("conf", "pyproject.toml", ".telemetry"):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("local"))
        else:
            shutil.copy(source, target / name)
    (target / "conf" / "local").mkdir()
    (target / "src").mkdir()
    return target


@contextmanager
def project_environment(target: Path) -> Iterator[Path]:
    """A project copy in ``target`` as the working directory, with its own MLflow store.

    ``MLFLOW_TRACKING_URI`` is ``sqlite:///<target>/mlflow.db`` (artifacts go to
    ``<target>/mlruns``); the variable and the working directory are restored on exit.
    """
    copy_project(target)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracking_uri(target))
        patch.chdir(target)
        bootstrap_project(target)
        yield target


def tracking_uri(project: Path) -> str:
    """The MLflow tracking URI of a project copy."""
    return f"sqlite:///{project / 'mlflow.db'}"


@pytest.fixture
def project_copy(tmp_path: Path) -> Iterator[Path]:
    """A throw-away project folder with this project's config and a temporary MLflow store."""
    with project_environment(tmp_path) as project:
        yield project


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project copy after one ``kedro run`` (default pipeline, ``test`` environment).

    Shared by every test that only reads what that run wrote (data files, MLflow store), so the
    suite runs the default pipeline once. Tests must not write into it.
    """
    with project_environment(tmp_path_factory.mktemp("default_run")) as project:
        run_session(project, "__default__")
        yield project


def _stamp(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


def run_session(
    project: Path,
    pipeline: str,
    env: str = "test",
    runtime_params: dict[str, Any] | None = None,
    **run_args: Any,
) -> None:
    """``kedro run`` of ``pipeline`` in a project copy, like the CLI does.

    Asserts that the checkout's store is untouched and that no MLflow run is left active (it
    would swallow the next session's logging). ``run_args`` go to ``KedroSession.run``.
    """
    before = _stamp(OWN_STORE)
    try:
        with KedroSession.create(
            project_path=project, env=env, runtime_params=runtime_params
        ) as session:
            session.run(pipeline_name=pipeline, **run_args)
    finally:
        assert _stamp(OWN_STORE) == before, "a test wrote to the project's own MLflow store"
        assert mlflow.active_run() is None, "the session left its MLflow run active"
