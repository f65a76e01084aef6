"""Every stage for the ``kuairand`` data source: ``kedro run --pipelines kuairand``."""

from kedro.pipeline import Pipeline

from labelcraft.pipelines.namespacing import source_pipeline
from labelcraft.sources import KUAIRAND


def create_pipeline(**kwargs) -> Pipeline:
    """The kuairand source from raw files to reports."""
    return source_pipeline(KUAIRAND)
