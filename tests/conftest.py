"""Shared test fixtures.

Real-data tests read the KuaiRand slice from ``$KUAIRAND_DIR`` (default: the shared slice beside
the checkout, ``../shared/datasets/kuairand-pure-slice``). Where it is absent they are skipped
with a message, except under CI (``CI`` set), where a missing slice is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KUAIRAND_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "kuairand-pure-slice"


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
