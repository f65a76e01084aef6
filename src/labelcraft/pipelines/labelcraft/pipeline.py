"""LabelCraft stage: the meta-learned label rows of the comparison, for every data source."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.labelcraft.nodes import train_labelcraft_rows
from labelcraft.pipelines.namespacing import per_source
from labelcraft.sources import SOURCES


def _template(source: str) -> Pipeline:
    """The stage for one source; the node knows its source to name its MLflow child runs."""
    train = update_wrapper(partial(train_labelcraft_rows, source=source), train_labelcraft_rows)
    return Pipeline(
        [
            Node(
                train,
                inputs=[
                    "model_inputs",
                    "feedback",
                    "eval_groups_valid",
                    "eval_groups_test",
                    "feature_spec",
                    "params:training",
                    "params:labelcraft",
                ],
                outputs=[
                    "labelcraft_valid_metrics",
                    "labelcraft_test_metrics",
                    "labelcraft_history",
                    "labelcraft_test_scores",
                    "labelcraft_labels",
                    "labeler",
                ],
                name="train_labelcraft",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Model inputs -> LabelCraft metrics, histories, test scores, train labels and labeler."""
    return sum(
        (per_source(_template(source), [source], stage="labelcraft") for source in SOURCES),
        Pipeline([]),
    )
