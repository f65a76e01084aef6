"""What a run records about itself in MLflow: run metrics from reports, provenance tags.

Plain modules (no Kedro imports): the Kedro nodes and the project hook call them. Only
`labelcraft.tracking.child_runs` imports MLflow (and is not imported here).
"""

from labelcraft.tracking.metrics import feature_metrics, ingestion_metrics, metric_items
from labelcraft.tracking.provenance import DATA_SOURCE_TAG, GitState, data_sources, git_state

__all__ = [
    "DATA_SOURCE_TAG",
    "GitState",
    "data_sources",
    "feature_metrics",
    "git_state",
    "ingestion_metrics",
    "metric_items",
]
