"""Reporting stage per data source: the merged comparison, leaderboard, plots; truth agreement."""

from collections.abc import Callable, Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline

from labelcraft.experiments import LABELCRAFT, Cell
from labelcraft.pipelines.comparison.pipeline import cells_from_parameters
from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.reporting.nodes import (
    correlate_labels_with_rules,
    merge_cell_reports,
    merge_cell_tables,
    plot_duration_histograms,
    plot_label_surface,
    plot_label_surface_ratio,
    plot_leaderboard,
    plot_matrix_leaderboard,
    plot_training_curves,
    score_truth_agreement,
    write_leaderboard,
    write_matrix_leaderboard,
    write_results_table,
    write_task_table,
)
from labelcraft.pipelines.run_parameters import pipeline_parameters
from labelcraft.sources import SIMULATED, SOURCES

TRUTH_SOURCES: tuple[str, ...] = (SIMULATED,)  # sources with a `truth_interactions` table


def merge_pipeline(cells: Sequence[Cell]) -> tuple[Pipeline, dict[str, str]]:
    """Every cell's reports, histories and test scores into the comparison's files under
    ``data/08_reporting/<source>/`` (and ``test_scores.parquet``).

    Returns the template (cell datasets named ``<dataset>_<index>``) and their names within a
    source (``<backbone>.<slug>.<dataset>``), for `per_source`.
    """
    several = len({cell.backbone for cell in cells}) > 1
    names = [cell.report_name(several) for cell in cells]
    trained = [index for index, cell in enumerate(cells) if cell.kind != "floor"]
    renamed: dict[str, str] = {}

    def local(index: int, dataset: str) -> str:
        cell = cells[index]
        renamed[f"{dataset}_{index}"] = cell.local(dataset)
        return f"{dataset}_{index}"

    def merged(func: Callable[..., Any], dataset: str, indices: list[int], output: str) -> Node:
        bound = update_wrapper(partial(func, names=[names[i] for i in indices]), func)
        return Node(bound, [local(i, dataset) for i in indices], output, name=f"merge_{output}")

    every = list(range(len(cells)))
    nodes = [
        merged(merge_cell_reports, "valid_report", every, "valid_metrics"),
        merged(merge_cell_reports, "test_report", every, "test_metrics"),
        merged(merge_cell_tables, "history", trained, "training_history"),
        merged(merge_cell_tables, "test_scores", every, "test_scores"),
    ]
    return Pipeline(nodes), renamed


PLOTS = Pipeline(
    [
        Node(
            plot_training_curves,
            inputs=["training_history", "params:trainer"],
            outputs="training_curves_plot",
            name="plot_training_curves",
        ),
        Node(
            plot_duration_histograms,
            inputs=["test_scores", "feedback", "eval_groups_test", "params:trainer"],
            outputs="duration_histograms_plot",
            name="plot_duration_histograms",
        ),
        Node(
            plot_leaderboard,
            inputs=["test_metrics", "params:trainer"],
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
            inputs=["labelcraft_labels", "model_inputs", "feedback", "params:label_rules"],
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

BENCHMARK = Pipeline(
    [
        Node(write_results_table, ["valid_metrics", "test_metrics"], "benchmark_results",
             name="write_results_table"),
        Node(write_matrix_leaderboard, ["test_metrics", "params:trainer"], "benchmark_matrix",
             name="write_matrix_leaderboard"),
        Node(plot_matrix_leaderboard, ["test_metrics", "params:trainer"],
             "benchmark_matrix_plot", name="plot_matrix_leaderboard"),
        Node(write_task_table, ["test_metrics"], "benchmark_task_table",
             name="write_task_table"),
    ]
)
"""The open-benchmarking tables (``data/08_reporting/<source>/benchmark/``)."""

TRUTH = Pipeline(
    [
        Node(
            score_truth_agreement,
            inputs=[
                "test_scores",
                "eval_groups_test",
                "model_inputs",
                "truth_interactions",
                "params:trainer",
                "params:evaluation",
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
    """Every cell's results -> the merged comparison, leaderboard and plots, per source.

    The plots of the learned labels read the LabelCraft cell of the first backbone.
    """
    cells = cells_from_parameters(pipeline_parameters())
    merge, renamed = merge_pipeline(cells)
    labelcraft = next(cell for cell in cells if cell.method == LABELCRAFT)
    renamed |= {"labeler": labelcraft.local("labeler"),
                "labelcraft_labels": labelcraft.local("labels")}
    common = merge + PLOTS + BENCHMARK
    others = [source for source in SOURCES if source not in TRUTH_SOURCES]
    return per_source(common + _leaderboard(truth=False), others, stage="reporting",
                      datasets=renamed) + per_source(
        common + TRUTH + _leaderboard(truth=True), TRUTH_SOURCES, stage="reporting",
        datasets=renamed)
