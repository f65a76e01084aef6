"""Where a run comes from: its data sources and the git commit of the code that ran."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DATA_SOURCE_TAG = "data_source"
"""MLflow tag holding the run's data source(s), comma-separated (``kuairand,simulated``)."""

_GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GitState:
    """The commit checked out in a git work tree, and whether tracked files differ from it."""

    commit: str
    dirty: bool


def data_sources(namespaces: Iterable[str | None], known: Iterable[str]) -> list[str]:
    """Sorted data sources among node namespaces (``simulated.x`` -> ``simulated``).

    Namespaces that are not a known source (or ``None``) are ignored.
    """
    roots = {namespace.split(".", 1)[0] for namespace in namespaces if namespace}
    return sorted(roots & set(known))


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a read-only git command; ``GIT_OPTIONAL_LOCKS=0`` keeps ``status`` from writing."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT_S,
        env=os.environ | {"GIT_OPTIONAL_LOCKS": "0"},
        check=False,
    )


def git_state(path: Path) -> GitState | None:
    """The git state of the work tree holding ``path``; ``None`` outside a git checkout.

    ``dirty`` counts staged and unstaged changes to tracked files (untracked files are ignored).
    ``None`` too when git is not installed or does not answer in time.
    """
    try:
        head = _git(["rev-parse", "--verify", "HEAD"], path)
        if head.returncode != 0:
            logger.info("No git commit recorded: %s is not in a git checkout", path)
            return None
        status = _git(["status", "--porcelain", "--untracked-files=no"], path)
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.info("No git commit recorded: git failed in %s (%s)", path, error)
        return None
    return GitState(commit=head.stdout.strip(), dirty=bool(status.stdout.strip()))
