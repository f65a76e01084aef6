"""Feature nodes: typed interactions -> split, vocabularies, timelines, feedback, eval groups."""

from __future__ import annotations

from typing import Any

from labelcraft.features.build import FeatureParams, build_features
from labelcraft.spark import is_spark_frame
from labelcraft.tracking import feature_metrics, metric_items


def build_model_inputs(
    interactions: Any, params: dict[str, Any]
) -> tuple[Any, Any, Any, Any, Any, Any, Any, Any, Any, dict[str, Any]]:
    """Build every model input of one source (see ``labelcraft.features.build``): nine tables
    (pandas DataFrames, for pandas `interactions`) and the feature spec.

    A Spark frame (the `spark` env) goes to ``labelcraft.spark.features.build_features_spark``:
    the tables are then Spark frames (duration buckets pandas) for ``SparkParquetDataset``.
    """
    feature_params = FeatureParams.from_dict(params)
    if is_spark_frame(interactions):
        from labelcraft.spark.features import build_features_spark  # noqa: PLC0415 (optional)

        features: Any = build_features_spark(interactions, feature_params)
    else:
        features = build_features(interactions, feature_params)
    return (
        features.model_inputs,
        features.feedback,
        features.vocab_users,
        features.vocab_videos,
        features.vocab_tags,
        features.vocab_authors,
        features.duration_buckets,
        features.eval_groups_valid,
        features.eval_groups_test,
        features.feature_spec,
    )


def summarise_features(feature_spec: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Rows per split, evaluation users and vocabulary sizes as run metrics.

    Output format of ``MlflowMetricsHistoryDataset``: ``{name: {"value": v, "step": 0}}``.
    """
    return metric_items(feature_metrics(feature_spec))
