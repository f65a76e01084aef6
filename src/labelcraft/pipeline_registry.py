"""Project pipelines.

Each stage (``simulation``, ``ingestion``, ``features``, ...) lives in ``pipelines/<stage>`` and
is instantiated once per data source under the source's namespace, so outputs never mix.
Registered names: every stage (all sources), every source (all its stages) and ``__default__``,
the simulated source end to end.
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from labelcraft.sources import SIMULATED, SOURCES


def register_pipelines() -> dict[str, Pipeline]:
    """Register the stage pipelines, one pipeline per data source and the default."""
    pipelines = find_pipelines(raise_errors=True)
    everything = sum(pipelines.values(), Pipeline([]))
    for source in SOURCES:
        pipelines[source] = everything.only_nodes_with_namespaces([source])
    pipelines["__default__"] = pipelines[SIMULATED]
    return pipelines
