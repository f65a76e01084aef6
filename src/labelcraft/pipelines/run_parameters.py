"""The parameters the pipelines are built from: the grid's cells come from them.

Kedro builds pipelines without a session, so `register_pipelines` cannot ask the run for its
parameters. `ProjectHooks.after_context_created` hands the run's parameters (its ``--env`` and
``--params`` applied) to `use_run_parameters` before the pipelines are first read; without a
session (``kedro registry describe``, Kedro-Viz, a test building a pipeline) they are read from
``conf/`` with the environment of ``KEDRO_ENV`` (``conf/base`` + ``conf/local`` without it).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines, settings
from kedro.utils import find_kedro_project

logger = logging.getLogger(__name__)

_RUN: dict[str, Any] = {}
"""``parameters``: those of the current run, ``built``: those the pipelines were built from."""


def use_run_parameters(parameters: Mapping[str, Any]) -> None:
    """Build the pipelines from ``parameters`` (a run's); rebuild them if already built from
    other parameters in this process."""
    _RUN["parameters"] = dict(parameters)
    built = _RUN.get("built")
    if built is not None and built != _RUN["parameters"]:
        # Kedro caches the registered pipelines per process; configure() empties that cache
        requested = pipelines._requested_pipelines  # noqa: SLF001 (no public getter)
        pipelines.configure(pipelines._pipelines_module)  # noqa: SLF001
        pipelines.set_requested(requested)
        logger.info("parameters changed since the pipelines were built: rebuilding them")


def pipeline_parameters() -> dict[str, Any]:
    """The run's parameters, or those of ``conf/`` when there is no run (see module doc)."""
    parameters = _RUN.get("parameters")
    if parameters is None:
        project = find_kedro_project(Path.cwd()) or Path(__file__).resolve().parents[3]
        parameters = _conf_parameters(str(project / settings.CONF_SOURCE), os.getenv("KEDRO_ENV"))
    _RUN["built"] = parameters
    return parameters


@functools.cache
def _conf_parameters(conf_source: str, env: str | None) -> dict[str, Any]:
    """The parameters of ``conf_source`` in ``env`` (read once per process)."""
    loader = OmegaConfigLoader(conf_source=conf_source, env=env, **settings.CONFIG_LOADER_ARGS)
    return dict(loader["parameters"])
