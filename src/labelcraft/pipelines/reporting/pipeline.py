"""Reporting stage per data source: leaderboard, plots; truth agreement where a truth exists."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.reporting.nodes import (
    plot_duration_histograms,
    plot_leaderboard,
    plot_training_curves,
    score_truth_agreement,
    write_leaderboard,
)
from labelcraft.sources import SIMULATED, SOURCES

TRUTH_SOURCES: tuple[str, ...] = (SIMULATED,)  # sources with a `truth_interactions` table


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
    ]
)
"""The comparison's figures (``data/08_reporting/<source>/*.png``, logged to MLflow)."""


def create_pipeline(**kwargs) -> Pipeline:
    """``test_metrics`` -> ``leaderboard`` and plots; with ``truth_interactions``, agreement too."""
    plain = PLOTS + Pipeline(
        [
            Node(
                write_leaderboard,
                inputs="test_metrics",
                outputs="leaderboard",
                name="write_leaderboard",
            )
        ]
    )
    with_truth = PLOTS + Pipeline(
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
            Node(
                write_leaderboard,
                inputs=["test_metrics", "truth_agreement"],
                outputs="leaderboard",
                name="write_leaderboard",
            ),
        ]
    )
    others = [source for source in SOURCES if source not in TRUTH_SOURCES]
    return per_source(plain, others, stage="reporting") + per_source(
        with_truth, TRUTH_SOURCES, stage="reporting"
    )
