"""The comparison grid of training-label methods on registry backbones, and its reports."""

from labelcraft.experiments.ablations import ABLATIONS, LabelCraftVariants, ablate
from labelcraft.experiments.benchmark_tables import (
    RESULT_COLUMNS,
    matrix,
    matrix_markdown,
    task_table_markdown,
    tidy_results,
)
from labelcraft.experiments.cells import (
    CellOutputs,
    LabelCraftOutputs,
    SeedFit,
    SeedRun,
    SeedRunCallback,
    evaluate_cell,
    fit_rule_labels,
    floor_scores,
    run_seeds,
    seed_runs,
    train_labelcraft_cell,
    train_rule_cell,
)
from labelcraft.experiments.config import (
    ALL_METHODS,
    LABELCRAFT,
    RANDOM,
    GridConfig,
    ReportConfig,
    is_labelcraft,
)
from labelcraft.experiments.data import ComparisonData
from labelcraft.experiments.grid import Cell, backbone_slug, grid_cells, method_slug
from labelcraft.experiments.label_agreement import rule_label_correlations
from labelcraft.experiments.leaderboard import format_summary, leaderboard_markdown, undominated
from labelcraft.experiments.reports import (
    long_scores,
    merge_reports,
    method_kind,
    scores_from_table,
    split_report,
)
from labelcraft.experiments.summary import summarise_seeds
from labelcraft.experiments.truth import satisfaction_gains, satisfaction_of_rows, truth_agreement

__all__ = [
    "RESULT_COLUMNS",
    "matrix",
    "matrix_markdown",
    "task_table_markdown",
    "tidy_results",
    "ABLATIONS",
    "ALL_METHODS",
    "LABELCRAFT",
    "RANDOM",
    "Cell",
    "CellOutputs",
    "ComparisonData",
    "GridConfig",
    "LabelCraftOutputs",
    "LabelCraftVariants",
    "ReportConfig",
    "SeedFit",
    "SeedRun",
    "SeedRunCallback",
    "ablate",
    "backbone_slug",
    "evaluate_cell",
    "fit_rule_labels",
    "floor_scores",
    "format_summary",
    "grid_cells",
    "is_labelcraft",
    "leaderboard_markdown",
    "long_scores",
    "merge_reports",
    "method_kind",
    "method_slug",
    "rule_label_correlations",
    "run_seeds",
    "satisfaction_gains",
    "satisfaction_of_rows",
    "scores_from_table",
    "seed_runs",
    "split_report",
    "summarise_seeds",
    "train_labelcraft_cell",
    "train_rule_cell",
    "truth_agreement",
    "undominated",
]
