"""Training stage: the label-rule comparison, instantiated for every data source."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.training.nodes import train_label_rules
from labelcraft.sources import SOURCES


def _template(source: str) -> Pipeline:
    """The stage for one source; the node knows its source to tag its MLflow child runs."""
    train = update_wrapper(partial(train_label_rules, source=source), train_label_rules)
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
                ],
                outputs=[
                    "rule_valid_metrics",
                    "rule_test_metrics",
                    "rule_training_history",
                    "rule_test_scores",
                ],
                name="train_label_rules",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Model inputs -> per-rule metrics (valid, test), training histories and test scores."""
    return sum(
        (per_source(_template(source), [source], stage="training") for source in SOURCES),
        Pipeline([]),
    )
