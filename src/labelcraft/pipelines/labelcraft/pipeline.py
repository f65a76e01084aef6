"""LabelCraft stage: the meta-learned label rows of the comparison, for every data source."""

from kedro.pipeline import Pipeline

from labelcraft.pipelines.labelcraft.nodes import train_labelcraft_rows
from labelcraft.pipelines.namespacing import per_source_node
from labelcraft.pipelines.training.pipeline import COMPARISON_INPUTS


def create_pipeline(**kwargs) -> Pipeline:
    """Model inputs -> LabelCraft metrics, histories, test scores, train labels and labeler."""
    return per_source_node(
        train_labelcraft_rows,
        inputs=[*COMPARISON_INPUTS, "params:labelcraft"],
        outputs=[
            "labelcraft_valid_metrics",
            "labelcraft_test_metrics",
            "labelcraft_history",
            "labelcraft_test_scores",
            "labelcraft_labels",
            "labeler",
        ],
        name="train_labelcraft",
        stage="labelcraft",
    )
