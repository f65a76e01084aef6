"""Training nodes: one recommender per label method and seed, evaluated on valid and test."""

from __future__ import annotations

from typing import Any

import pandas as pd

from labelcraft.experiments import ExperimentConfig, run_rule_experiment
from labelcraft.tracking.child_runs import MlflowSeedRuns


def train_label_rules(
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: dict[str, Any],
    params: dict[str, Any],
    *,
    source: str,
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Valid and test metrics, per-epoch histories and test scores of every label method.

    Each method and seed is also logged as an MLflow child run of the active run (if any).
    """
    result = run_rule_experiment(
        model_inputs,
        feedback,
        eval_groups_valid,
        eval_groups_test,
        feature_spec,
        ExperimentConfig.from_dict(params),
        on_seed_run=MlflowSeedRuns(source),
    )
    return result.valid_metrics, result.test_metrics, result.histories, result.test_scores
