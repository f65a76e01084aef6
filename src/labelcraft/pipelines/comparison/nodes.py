"""Nodes of a grid cell: fit a rule's labels, train per seed and score the users, evaluate.

Each node parses only the parameters it reads; a cell's method and backbone are bound when the
cell is built (``pipeline.py``), its data source too for the MLflow child runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from labelcraft.experiments import (
    ComparisonData,
    GridConfig,
    LabelCraftVariants,
    ReportConfig,
    evaluate_cell,
    fit_rule_labels,
    floor_scores,
    seed_runs,
    train_labelcraft_cell,
    train_rule_cell,
)
from labelcraft.experiments.cells import States
from labelcraft.experiments.reports import method_kind
from labelcraft.experiments.run_card import resolved_backbone, run_card
from labelcraft.features.split import TRAIN
from labelcraft.recommender import EvalSet, TrainConfig
from labelcraft.tracking.child_runs import MlflowSeedRuns

CellTables = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, States]


def fit_labels(model_inputs: pd.DataFrame, feedback: pd.DataFrame,
               label_rules: dict[str, Any], *, method: str) -> pd.DataFrame:
    """The rule's label of every row (columns ``label_<head>``), fitted on the train rows."""
    train_rows = np.flatnonzero((model_inputs["split"] == TRAIN).to_numpy())
    return fit_rule_labels(method, feedback, train_rows, label_rules or {})


def train_recommenders(
    labels: pd.DataFrame,
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: dict[str, Any],
    backbone_params: dict[str, Any] | None,
    trainer: dict[str, Any],
    comparison: dict[str, Any],
    *,
    method: str,
    backbone: str,
) -> CellTables:
    """Valid / test scores, history and first-seed weights of one recommender per seed (the
    seeds and multi-task head weights of ``comparison``)."""
    grid = GridConfig.from_dict(comparison)
    data = ComparisonData.from_frames(model_inputs, feedback, eval_groups_valid,
                                      eval_groups_test, feature_spec)
    cell = train_rule_cell(method, labels, data, backbone=backbone,
                           backbone_params=backbone_params,
                           trainer=TrainConfig.from_dict(trainer), seeds=grid.seeds,
                           head_weights=grid.weights_for(method))
    return cell.valid_scores, cell.test_scores, cell.history, cell.weights


def meta_train(
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: dict[str, Any],
    backbone_params: dict[str, Any] | None,
    trainer: dict[str, Any],
    comparison: dict[str, Any],
    labelcraft: dict[str, Any],
    label_rules: dict[str, Any],
    *,
    method: str,
    backbone: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, States, pd.DataFrame, dict[str, Any]]:
    """LabelCraft (or an ablation) per seed: the cell's tables, learned labels and labeler."""
    variants = LabelCraftVariants.from_params(labelcraft, TrainConfig.from_dict(trainer))
    data = ComparisonData.from_frames(model_inputs, feedback, eval_groups_valid,
                                      eval_groups_test, feature_spec)
    result = train_labelcraft_cell(method, variants.variants()[method], data, model_inputs,
                                   backbone=backbone, backbone_params=backbone_params,
                                   seeds=GridConfig.from_dict(comparison).seeds,
                                   rule_params=label_rules or {})
    cell = result.cell
    return (cell.valid_scores, cell.test_scores, cell.history, cell.weights, result.labels,
            result.labeler)


def draw_random_scores(eval_groups_valid: pd.DataFrame, eval_groups_test: pd.DataFrame,
                       feedback: pd.DataFrame,
                       comparison: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The random floor's valid and test scores, one uniform draw per seed."""
    return floor_scores(EvalSet.from_frames(eval_groups_valid, feedback),
                        EvalSet.from_frames(eval_groups_test, feedback),
                        GridConfig.from_dict(comparison).seeds)


def evaluate(
    valid_scores: pd.DataFrame,
    test_scores: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feedback: pd.DataFrame,
    trainer: dict[str, Any],
    evaluation: dict[str, Any],
    comparison: dict[str, Any],
    history: pd.DataFrame | None = None,
    weights: States | None = None,
    *,
    source: str,
    backbone: str,
    method: str,
    run_label: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cell's valid and test reports (top-k of ``trainer``, the seeds of ``comparison``);
    each seed also becomes an MLflow child run of the active run (if any). The floor has no
    history and no weights. ``run_label`` names the child runs (`MlflowSeedRuns`)."""
    valid, test = (EvalSet.from_frames(groups, feedback)
                   for groups in (eval_groups_valid, eval_groups_test))
    valid_report, test_report = evaluate_cell(
        method, valid, test, valid_scores, test_scores, history,
        seeds=GridConfig.from_dict(comparison).seeds, k=TrainConfig.from_dict(trainer).k,
        config=ReportConfig.from_dict(evaluation), backbone=backbone)
    log = MlflowSeedRuns(source, run_label)
    for run in seed_runs(method, backbone, valid_report, test_report, history, weights):
        log(run)
    return valid_report, test_report


def write_run_card(
    valid_report: dict[str, Any],
    test_report: dict[str, Any],
    feature_spec: dict[str, Any],
    backbone_params: dict[str, Any] | None,
    trainer: dict[str, Any],
    label_rules: dict[str, Any],
    labelcraft: dict[str, Any],
    history: pd.DataFrame | None = None,
    *,
    method: str,
    backbone: str,
) -> dict[str, Any]:
    """The cell's reproducibility card (`labelcraft.experiments.run_card`): its configuration
    resolved (defaults filled in, the features' history length), package versions, seeds,
    per-seed metrics and per-epoch log."""
    length = int(feature_spec["history_length"])
    train = TrainConfig.from_dict(trainer).resolve_history_length(length)
    configuration: dict[str, Any] = {"features": {"history_length": length,
                                                  "fields": feature_spec.get("fields")}}
    if method_kind(method) != "floor":
        configuration |= {"backbone": resolved_backbone(backbone, backbone_params),
                          "trainer": dataclasses.asdict(train)}
    if method_kind(method) == "labelcraft":
        variant = LabelCraftVariants.from_params(labelcraft, train).variants()[method]
        configuration["labelcraft"] = dataclasses.asdict(variant.with_history_length(length))
    elif method_kind(method) in ("rule", "multi_task"):
        configuration["label_rules"] = label_rules or {}
    return run_card(method, backbone, configuration, valid_report, test_report, history)
