"""Feature stage, instantiated for every data source."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.features.nodes import build_model_inputs, summarise_features
from labelcraft.pipelines.namespacing import per_source
from labelcraft.sources import SOURCES


def create_pipeline(**kwargs) -> Pipeline:
    """``interactions`` -> model inputs, feedback matrix, vocabularies and evaluation groups.

    ``feature_metrics`` holds the spec's counts as run metrics (logged to MLflow).
    """
    template = Pipeline(
        [
            Node(
                build_model_inputs,
                inputs=["interactions", "params:features"],
                outputs=[
                    "model_inputs",
                    "feedback",
                    "vocab_users",
                    "vocab_videos",
                    "vocab_tags",
                    "vocab_authors",
                    "duration_buckets",
                    "eval_groups_valid",
                    "eval_groups_test",
                    "feature_spec",
                ],
                name="build_model_inputs",
            ),
            Node(
                summarise_features,
                inputs="feature_spec",
                outputs="feature_metrics",
                name="summarise_features",
            ),
        ]
    )
    return per_source(template, SOURCES, stage="features")
