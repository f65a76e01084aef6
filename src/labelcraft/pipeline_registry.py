"""Project pipelines.

Stages (``simulation``, ``ingestion``, ``features``, ...) live in ``pipelines/<stage>`` and are
instantiated once per data source under the source's namespace, so outputs never mix. Each
source also has its own pipeline folder (``pipelines/simulated``, ``pipelines/kuairand``) that
assembles all its stages, so ``kedro run --pipelines kuairand`` works with Kedro's selective
pipeline loading. ``__default__`` is the simulated source end to end.
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from labelcraft.sources import SIMULATED


def register_pipelines() -> dict[str, Pipeline]:
    """Register every stage and source pipeline; the default is the simulated source."""
    pipelines = find_pipelines(raise_errors=True)
    if SIMULATED in pipelines:
        pipelines["__default__"] = pipelines[SIMULATED]
    return pipelines
