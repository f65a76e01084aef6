"""Comparison of training-label methods on one recommender and split, and its reports."""

from labelcraft.experiments.config import (
    ALL_METHODS,
    LABELCRAFT,
    RANDOM,
    ExperimentConfig,
    is_labelcraft,
)
from labelcraft.experiments.data import ComparisonData, model_spec_from_features
from labelcraft.experiments.label_agreement import rule_label_correlations
from labelcraft.experiments.leaderboard import format_summary, leaderboard_markdown, undominated
from labelcraft.experiments.meta_labels import (
    ABLATIONS,
    LabelCraftExperiment,
    LabelCraftExperimentConfig,
    merge_reports,
    run_labelcraft_experiment,
)
from labelcraft.experiments.rules import (
    RuleExperiment,
    SeedRun,
    SeedRunCallback,
    method_kind,
    run_rule_experiment,
    split_report,
)
from labelcraft.experiments.summary import summarise_seeds
from labelcraft.experiments.truth import satisfaction_gains, satisfaction_of_rows, truth_agreement

__all__ = [
    "rule_label_correlations",
    "ABLATIONS",
    "ALL_METHODS",
    "LABELCRAFT",
    "RANDOM",
    "ComparisonData",
    "ExperimentConfig",
    "LabelCraftExperiment",
    "LabelCraftExperimentConfig",
    "RuleExperiment",
    "SeedRun",
    "SeedRunCallback",
    "format_summary",
    "is_labelcraft",
    "leaderboard_markdown",
    "merge_reports",
    "method_kind",
    "model_spec_from_features",
    "run_labelcraft_experiment",
    "run_rule_experiment",
    "satisfaction_gains",
    "satisfaction_of_rows",
    "split_report",
    "summarise_seeds",
    "truth_agreement",
    "undominated",
]
