"""Reporting nodes: the merged comparison, leaderboard, plots and agreement with a truth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from labelcraft.experiments import (
    ReportConfig,
    leaderboard_markdown,
    matrix,
    matrix_markdown,
    merge_reports,
    rule_label_correlations,
    task_table_markdown,
    tidy_results,
    truth_agreement,
)
from labelcraft.features.split import TRAIN
from labelcraft.meta import Labeler
from labelcraft.recommender import TrainConfig
from labelcraft.reporting import (
    duration_histograms,
    label_surface,
    leaderboard_bars,
    matrix_heatmap,
    training_curves,
)

SURFACE_QUANTILES = (0.1, 0.5, 0.9)  # train-duration quantiles of the label-surface panels


def merge_cell_reports(*reports: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """One split's report of every cell (the rules, then LabelCraft, the floor last), each
    cell's method under its name in ``names`` (`Cell.report_name`)."""
    return merge_reports(reports, names)


def merge_cell_tables(*tables: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """One table (histories or test scores) of every cell, ``method`` renamed to ``names``;
    LabelCraft's histories add their own columns."""
    renamed = [table.assign(method=name) if len(table) else table
               for table, name in zip(tables, names, strict=True)]
    return pd.concat(renamed, ignore_index=True)


def score_truth_agreement(
    test_scores: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    model_inputs: pd.DataFrame,
    truth_interactions: pd.DataFrame,
    trainer: dict[str, Any],
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    """Each method's test-ranking agreement with the latent satisfaction (SAT_NDCG@k)."""
    config = ReportConfig.from_dict(evaluation)
    return truth_agreement(test_scores, eval_groups_test, model_inputs, truth_interactions,
                           k=TrainConfig.from_dict(trainer).k, n_boot=config.n_boot,
                           level=config.level,
                           bootstrap_seed=config.bootstrap_seed)


def write_leaderboard(
    test_metrics: dict[str, Any], truth_agreement: dict[str, Any] | None = None
) -> str:
    """Markdown leaderboard of the test metrics (plus the truth column when given)."""
    return leaderboard_markdown(test_metrics, truth_agreement, title="Label methods")


def plot_training_curves(training_history: pd.DataFrame, trainer: dict[str, Any]) -> Figure:
    """Validation curves of the early-stopping metric, one panel per method."""
    return training_curves(training_history, metric=TrainConfig.from_dict(trainer).eval_metric)


def plot_duration_histograms(
    test_scores: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    trainer: dict[str, Any],
) -> Figure:
    """Durations of each method's top-k test videos against all test candidates."""
    k = TrainConfig.from_dict(trainer).k
    return duration_histograms(test_scores, feedback, eval_groups_test, k=k)


def plot_leaderboard(test_metrics: dict[str, Any], trainer: dict[str, Any]) -> Figure:
    """Bar chart of the test top-k metrics with their intervals."""
    k = TrainConfig.from_dict(trainer).k
    return leaderboard_bars(test_metrics, metrics=(f"NWTG@{k}", f"NEG@{k}", f"DS@{k}"))


def _surface_panels(model_inputs: pd.DataFrame, feedback: pd.DataFrame
                    ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Train feedback rows and the panels of the label surfaces (p10 / p50 / p90 durations)."""
    train = feedback.loc[(model_inputs["split"] == TRAIN).to_numpy()]
    durations = train["duration_s"].quantile(list(SURFACE_QUANTILES))
    return train, {
        f"duration {seconds:.0f} s (p{100 * q:.0f})": float(seconds)
        for q, seconds in durations.items()
    }


def plot_label_surface(
    labeler: dict[str, Any], model_inputs: pd.DataFrame, feedback: pd.DataFrame
) -> Figure:
    """LabelCraft's label against watch time at the 10th / 50th / 90th train-duration percentile.

    Watch time runs up to the 99th percentile of the train watch times; with and without a like.
    """
    train, panels = _surface_panels(model_inputs, feedback)
    return label_surface(
        Labeler.from_artifact(labeler), panels, float(train["play_time_s"].quantile(0.99))
    )


def plot_label_surface_ratio(
    labeler: dict[str, Any], model_inputs: pd.DataFrame, feedback: pd.DataFrame
) -> Figure:
    """LabelCraft's label against play ratio (0..2) at the same durations, with and without a
    like: whether the label rewards completing a video or only long absolute watch time."""
    _, panels = _surface_panels(model_inputs, feedback)
    return label_surface(Labeler.from_artifact(labeler), panels, 2.0, against="play_ratio")


def correlate_labels_with_rules(labelcraft_labels: pd.DataFrame, model_inputs: pd.DataFrame,
                                feedback: pd.DataFrame,
                                label_rules: dict[str, Any]) -> pd.DataFrame:
    """The learned label's correlation with each rule's label on the train rows (CSV table)."""
    train_rows = (model_inputs["split"] == TRAIN).to_numpy().nonzero()[0]
    return rule_label_correlations(labelcraft_labels, feedback, train_rows, label_rules or {})


def write_results_table(valid_metrics: dict[str, Any],
                        test_metrics: dict[str, Any]) -> pd.DataFrame:
    """``results.csv``: backbone, method, seed, split, metric, value of every cell."""
    return tidy_results([valid_metrics, test_metrics])


def write_matrix_leaderboard(test_metrics: dict[str, Any], trainer: dict[str, Any]) -> str:
    """Backbones x label methods, test NWTG@k mean ± std over seeds (markdown)."""
    return matrix_markdown(test_metrics, f"NWTG@{TrainConfig.from_dict(trainer).k}")


def write_task_table(test_metrics: dict[str, Any]) -> str:
    """The multi-objective cells' per-task test metrics (markdown, `task_table_markdown`)."""
    return task_table_markdown(test_metrics)


def plot_matrix_leaderboard(test_metrics: dict[str, Any], trainer: dict[str, Any]) -> Figure:
    """The same matrix as a heatmap of the means."""
    metric = f"NWTG@{TrainConfig.from_dict(trainer).k}"
    means, _ = matrix(test_metrics, metric)
    return matrix_heatmap(means, f"test {metric}: backbone x label method")
