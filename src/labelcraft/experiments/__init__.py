"""Comparison of training-label methods on one recommender and split, and its reports."""

from labelcraft.experiments.config import ALL_METHODS, RANDOM, ExperimentConfig
from labelcraft.experiments.leaderboard import format_summary, leaderboard_markdown
from labelcraft.experiments.rules import (
    RuleExperiment,
    SeedRun,
    SeedRunCallback,
    method_kind,
    model_spec_from_features,
    run_rule_experiment,
    split_report,
)
from labelcraft.experiments.summary import summarise_seeds
from labelcraft.experiments.truth import satisfaction_gains, satisfaction_of_rows, truth_agreement

__all__ = [
    "ALL_METHODS",
    "RANDOM",
    "ExperimentConfig",
    "RuleExperiment",
    "SeedRun",
    "SeedRunCallback",
    "format_summary",
    "leaderboard_markdown",
    "method_kind",
    "model_spec_from_features",
    "run_rule_experiment",
    "satisfaction_gains",
    "satisfaction_of_rows",
    "split_report",
    "summarise_seeds",
    "truth_agreement",
]
