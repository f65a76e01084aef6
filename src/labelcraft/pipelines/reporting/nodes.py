"""Reporting nodes: leaderboard, plots and, where a ground truth exists, agreement with it."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from labelcraft.experiments import ExperimentConfig, leaderboard_markdown, truth_agreement
from labelcraft.reporting import duration_histograms, leaderboard_bars, training_curves
from labelcraft.training import torch_threads


def score_truth_agreement(
    test_scores: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    model_inputs: pd.DataFrame,
    truth_interactions: pd.DataFrame,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Each method's test-ranking agreement with the latent satisfaction (SAT_NDCG@k)."""
    config = ExperimentConfig.from_dict(params)
    with torch_threads(config.trainer.num_threads):
        return truth_agreement(
            test_scores,
            eval_groups_test,
            model_inputs,
            truth_interactions,
            k=config.trainer.k,
            n_boot=config.n_boot,
            level=config.level,
            bootstrap_seed=config.bootstrap_seed,
        )


def write_leaderboard(
    test_metrics: dict[str, Any], truth_agreement: dict[str, Any] | None = None
) -> str:
    """Markdown leaderboard of the test metrics (plus the truth column when given)."""
    return leaderboard_markdown(test_metrics, truth_agreement, title="Label methods")


def plot_training_curves(training_history: pd.DataFrame, params: dict[str, Any]) -> Figure:
    """Validation curves of the early-stopping metric, one panel per method."""
    metric = ExperimentConfig.from_dict(params).trainer.eval_metric
    return training_curves(training_history, metric=metric)


def plot_duration_histograms(
    test_scores: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    params: dict[str, Any],
) -> Figure:
    """Durations of each method's top-k test videos against all test candidates."""
    k = ExperimentConfig.from_dict(params).trainer.k
    return duration_histograms(test_scores, feedback, eval_groups_test, k=k)


def plot_leaderboard(test_metrics: dict[str, Any], params: dict[str, Any]) -> Figure:
    """Bar chart of the test top-k metrics with their intervals."""
    k = ExperimentConfig.from_dict(params).trainer.k
    return leaderboard_bars(test_metrics, metrics=(f"NWTG@{k}", f"NEG@{k}", f"DS@{k}"))
