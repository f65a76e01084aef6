"""Reporting stage: leaderboard per data source; truth agreement where the source has a truth."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.reporting.nodes import score_truth_agreement, write_leaderboard
from labelcraft.sources import SIMULATED, SOURCES

TRUTH_SOURCES: tuple[str, ...] = (SIMULATED,)  # sources with a `truth_interactions` table


def create_pipeline(**kwargs) -> Pipeline:
    """``test_metrics`` -> ``leaderboard``; with ``truth_interactions``, ``truth_agreement`` too."""
    plain = Pipeline(
        [
            Node(
                write_leaderboard,
                inputs="test_metrics",
                outputs="leaderboard",
                name="write_leaderboard",
            )
        ]
    )
    with_truth = Pipeline(
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
