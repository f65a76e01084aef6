"""LabelCraft node: meta-learned labels and their recommender per seed, evaluated like rules."""

from __future__ import annotations

from typing import Any

import pandas as pd

from labelcraft.experiments import (
    ExperimentConfig,
    LabelCraftExperimentConfig,
    run_labelcraft_experiment,
)
from labelcraft.tracking.child_runs import MlflowSeedRuns


def train_labelcraft_rows(
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: dict[str, Any],
    training_params: dict[str, Any],
    labelcraft_params: dict[str, Any],
    *,
    source: str,
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame,
           dict[str, Any]]:
    """Valid / test metrics, histories, test scores, train labels and labeler of LabelCraft.

    Seeds, backbone and report settings come from ``params:training`` (the rule comparison);
    each row and seed is also logged as an MLflow child run of the active run (if any).
    """
    comparison = ExperimentConfig.from_dict(training_params)
    result = run_labelcraft_experiment(
        model_inputs,
        feedback,
        eval_groups_valid,
        eval_groups_test,
        feature_spec,
        comparison,
        LabelCraftExperimentConfig.from_params(labelcraft_params, comparison),
        on_seed_run=MlflowSeedRuns(source),
    )
    return (result.valid_metrics, result.test_metrics, result.histories, result.test_scores,
            result.labels, result.labeler)
