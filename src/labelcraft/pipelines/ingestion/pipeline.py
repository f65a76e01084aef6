"""Ingestion stage, instantiated for every data source."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.ingestion.nodes import ingest_logs
from labelcraft.pipelines.namespacing import per_source
from labelcraft.sources import SOURCES


def create_pipeline(**kwargs) -> Pipeline:
    """Raw KuaiRand-format files -> ``interactions``, ``rejected_rows``, ``ingestion_report``."""
    template = Pipeline(
        [
            Node(
                ingest_logs,
                inputs=["raw_logs", "raw_videos", "raw_users"],
                outputs=["interactions", "rejected_rows", "ingestion_report"],
                name="ingest_logs",
            )
        ]
    )
    return per_source(template, SOURCES, stage="ingestion")
