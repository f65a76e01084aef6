"""Training stage: the label-rule comparison, instantiated for every data source."""

from kedro.pipeline import Pipeline

from labelcraft.pipelines.namespacing import per_source_node
from labelcraft.pipelines.training.nodes import train_label_rules

COMPARISON_INPUTS = [
    "model_inputs",
    "feedback",
    "eval_groups_valid",
    "eval_groups_test",
    "feature_spec",
    "params:training",
]
"""What every trained label method reads: the features stage's outputs and the comparison."""


def create_pipeline(**kwargs) -> Pipeline:
    """Model inputs -> per-rule metrics (valid, test), training histories and test scores."""
    return per_source_node(
        train_label_rules,
        inputs=COMPARISON_INPUTS,
        outputs=[
            "rule_valid_metrics",
            "rule_test_metrics",
            "rule_training_history",
            "rule_test_scores",
        ],
        name="train_label_rules",
        stage="training",
    )
