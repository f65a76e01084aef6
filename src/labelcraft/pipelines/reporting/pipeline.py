"""Reporting stage per data source: the merged comparison, leaderboard, plots; truth agreement."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.reporting.nodes import (
    correlate_labels_with_rules,
    merge_metrics,
    merge_tables,
    plot_duration_histograms,
    plot_label_surface,
    plot_label_surface_ratio,
    plot_leaderboard,
    plot_training_curves,
    score_truth_agreement,
    write_leaderboard,
)
from labelcraft.sources import SIMULATED, SOURCES

TRUTH_SOURCES: tuple[str, ...] = (SIMULATED,)  # sources with a `truth_interactions` table


MERGE = Pipeline(
    [
        Node(
            merge_metrics,
            inputs=[
                "rule_valid_metrics",
                "rule_test_metrics",
                "labelcraft_valid_metrics",
                "labelcraft_test_metrics",
            ],
            outputs=["valid_metrics", "test_metrics"],
            name="merge_metrics",
        ),
        Node(
            merge_tables,
            inputs=[
                "rule_training_history",
                "rule_test_scores",
                "labelcraft_history",
                "labelcraft_test_scores",
            ],
            outputs=["training_history", "test_scores"],
            name="merge_tables",
        ),
    ]
)
"""Rules and LabelCraft into one comparison (the files under ``data/08_reporting/<source>/``)."""

PLOTS = Pipeline(
    [
        Node(
            plot_training_curves,
            inputs=["training_history", "params:training"],
            outputs="training_curves_plot",
            name="plot_training_curves",
        ),
        Node(
            plot_duration_histograms,
            inputs=["test_scores", "feedback", "eval_groups_test", "params:training"],
            outputs="duration_histograms_plot",
            name="plot_duration_histograms",
        ),
        Node(
            plot_leaderboard,
            inputs=["test_metrics", "params:training"],
            outputs="leaderboard_plot",
            name="plot_leaderboard",
        ),
        Node(
            plot_label_surface,
            inputs=["labeler", "model_inputs", "feedback"],
            outputs="label_surface_plot",
            name="plot_label_surface",
        ),
        Node(
            correlate_labels_with_rules,
            inputs=["labelcraft_labels", "model_inputs", "feedback", "params:training"],
            outputs="label_rule_correlations",
            name="correlate_labels_with_rules",
        ),
        Node(
            plot_label_surface_ratio,
            inputs=["labeler", "model_inputs", "feedback"],
            outputs="label_surface_ratio_plot",
            name="plot_label_surface_ratio",
        ),
    ]
)
"""The comparison's figures (``data/08_reporting/<source>/*.png``, logged to MLflow)."""

TRUTH = Pipeline(
    [
        Node(
            score_truth_agreement,
            inputs=[
                "test_scores",
                "eval_groups_test",
                "model_inputs",
                "truth_interactions",
                "params:training",
            ],
            outputs="truth_agreement",
            name="score_truth_agreement",
        ),
    ]
)
"""Where the simulator's latent satisfaction exists: each method's agreement with it."""


def _leaderboard(truth: bool) -> Pipeline:
    """The markdown leaderboard node, with the truth column when ``truth``."""
    inputs = ["test_metrics", "truth_agreement"] if truth else ["test_metrics"]
    return Pipeline(
        [Node(write_leaderboard, inputs=inputs, outputs="leaderboard", name="write_leaderboard")]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Rule and LabelCraft results -> the merged comparison, leaderboard and plots."""
    others = [source for source in SOURCES if source not in TRUTH_SOURCES]
    return per_source(MERGE + PLOTS + _leaderboard(truth=False), others, stage="reporting") + (
        per_source(MERGE + PLOTS + TRUTH + _leaderboard(truth=True), TRUTH_SOURCES,
                   stage="reporting")
    )
