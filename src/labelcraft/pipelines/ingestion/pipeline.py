"""Ingestion stage, instantiated for every data source."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.ingestion.nodes import ingest_logs, summarise_ingestion
from labelcraft.pipelines.namespacing import per_source
from labelcraft.sources import SOURCES

TEMPLATE = Pipeline(
    [
        Node(
            ingest_logs,
            inputs=["raw_logs", "raw_videos", "raw_users"],
            outputs=["interactions", "rejected_rows", "ingestion_report"],
            name="ingest_logs",
        ),
        Node(
            summarise_ingestion,
            inputs="ingestion_report",
            outputs="ingestion_metrics",
            name="summarise_ingestion",
        ),
    ]
)
"""Raw KuaiRand-format files -> ``interactions``, ``rejected_rows``, ``ingestion_report``;
``ingestion_metrics`` holds the report's row counts as run metrics (logged to MLflow)."""


def create_pipeline(**kwargs) -> Pipeline:
    """The ingestion of every data source (`TEMPLATE` per source)."""
    return per_source(TEMPLATE, SOURCES, stage="ingestion")
