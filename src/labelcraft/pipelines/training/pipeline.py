"""Training stage: the label-rule comparison, instantiated for every data source."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.training.nodes import train_label_rules
from labelcraft.sources import SOURCES


def create_pipeline(**kwargs) -> Pipeline:
    """Model inputs -> per-method metrics (valid, test), training histories and test scores."""
    template = Pipeline(
        [
            Node(
                train_label_rules,
                inputs=[
                    "model_inputs",
                    "feedback",
                    "eval_groups_valid",
                    "eval_groups_test",
                    "feature_spec",
                    "params:training",
                ],
                outputs=["valid_metrics", "test_metrics", "training_history", "test_scores"],
                name="train_label_rules",
            )
        ]
    )
    return per_source(template, SOURCES, stage="training")
