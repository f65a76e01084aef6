"""``kedro run --pipelines label_logs``: ingest KuaiRand-format logs with the same strict rules
and label every kept interaction with a registered labeler (``params:labelling``)."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.ingestion.pipeline import TEMPLATE as INGESTION
from labelcraft.pipelines.label_logs.nodes import label_interactions
from labelcraft.pipelines.namespacing import per_source

SOURCE = "label_logs"
"""The namespace of the logs to label (raw files from ``$KUAIRAND_DIR``, see the catalog)."""

LABELLING = Pipeline([
    Node(label_interactions, ["interactions", "params:labelling", "params:features"],
         ["labels", "labelling_report"], name="label_interactions"),
])


def create_pipeline(**kwargs) -> Pipeline:
    """Ingestion (`labelcraft.pipelines.ingestion.TEMPLATE`) then labelling, in ``label_logs``."""
    return (per_source(INGESTION, [SOURCE], stage="ingestion")
            + per_source(LABELLING, [SOURCE], stage="labelling"))
