"""Every stage for the ``simulated`` data source: ``kedro run --pipelines simulated``."""

from kedro.pipeline import Pipeline

from labelcraft.pipelines.namespacing import source_pipeline
from labelcraft.sources import SIMULATED


def create_pipeline(**kwargs) -> Pipeline:
    """The simulated source from raw files to reports."""
    return source_pipeline(SIMULATED)
