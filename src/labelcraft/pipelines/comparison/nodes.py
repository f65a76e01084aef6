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
from labelcraft.experiments.multi_objective import add_task_metrics, train_multi_objective_cell
from labelcraft.experiments.reports import method_kind
from labelcraft.experiments.run_card import resolved_backbone, run_card
from labelcraft.features.split import TRAIN
from labelcraft.multiobjective.objective import MultiObjectiveConfig
from labelcraft.recommender import EvalSet, TrainConfig
from labelcraft.tracking.child_runs import MlflowSeedRuns
from labelcraft.tracking.labeler_model import REGISTERED_NAME, log_labeler_model

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
                                      eval_groups_test, feature_spec).for_backbone(backbone)
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
                                      eval_groups_test, feature_spec).for_backbone(backbone)
    result = train_labelcraft_cell(method, variants.variants()[method], data, model_inputs,
                                   backbone=backbone, backbone_params=backbone_params,
                                   seeds=GridConfig.from_dict(comparison).seeds,
                                   rule_params=label_rules or {})
    cell = result.cell
    return (cell.valid_scores, cell.test_scores, cell.history, cell.weights, result.labels,
            result.labeler)


def train_multi_objective(
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: dict[str, Any],
    backbone_params: dict[str, Any] | None,
    trainer: dict[str, Any],
    comparison: dict[str, Any],
    multi_objective: dict[str, Any],
    *,
    method: str,
    backbone: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, States, pd.DataFrame]:
    """A multi-objective variant per seed on the raw signals: the cell's tables and its heads'
    predictions on the validation and test users (``task_predictions``)."""
    config = MultiObjectiveConfig.from_dict(multi_objective)
    data = ComparisonData.from_frames(model_inputs, feedback, eval_groups_valid,
                                      eval_groups_test, feature_spec).for_backbone(backbone)
    cell, predictions = train_multi_objective_cell(
        config.variant(backbone, method), config, data, backbone_params=backbone_params,
        trainer=TrainConfig.from_dict(trainer), seeds=GridConfig.from_dict(comparison).seeds)
    return cell.valid_scores, cell.test_scores, cell.history, cell.weights, predictions


def register_labeler(labeler: dict[str, Any], *, source: str, backbone: str) -> None:
    """Log the LabelCraft cell's labeler to the run as an MLflow pyfunc model and register it as
    ``labelcraft-labeler-<source>-<backbone>`` (a new version per run; nothing without a run)."""
    log_labeler_model(labeler, name=f"{source}-{backbone}-labeler",
                      registered_model_name=REGISTERED_NAME.format(source=source,
                                                                   backbone=backbone))


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
    task_predictions: pd.DataFrame | None = None,
    *,
    source: str,
    backbone: str,
    method: str,
    run_label: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cell's valid and test reports (top-k of ``trainer``, the seeds of ``comparison``);
    each seed also becomes an MLflow child run of the active run (if any). The floor has no
    history and no weights; a multi-objective cell's ``task_predictions`` add its per-task
    metrics (`add_task_metrics`). ``run_label`` names the child runs (`MlflowSeedRuns`)."""
    valid, test = (EvalSet.from_frames(groups, feedback)
                   for groups in (eval_groups_valid, eval_groups_test))
    seeds = GridConfig.from_dict(comparison).seeds
    report_config = ReportConfig.from_dict(evaluation)
    valid_report, test_report = evaluate_cell(
        method, valid, test, valid_scores, test_scores, history,
        seeds=seeds, k=TrainConfig.from_dict(trainer).k, config=report_config,
        backbone=backbone, kind=None if task_predictions is None else "multi_objective")
    if task_predictions is not None:
        for report, eval_set in ((valid_report, valid), (test_report, test)):
            add_task_metrics(report, eval_set, feedback, task_predictions, method=method,
                             seeds=seeds, n_boot=report_config.n_boot,
                             level=report_config.level,
                             bootstrap_seed=report_config.bootstrap_seed)
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
    multi_objective: dict[str, Any] | None = None,
    *,
    method: str,
    backbone: str,
) -> dict[str, Any]:
    """The cell's reproducibility card (`labelcraft.experiments.run_card`): its configuration
    resolved (defaults filled in, the features' history length), package versions, seeds,
    per-seed metrics and per-epoch log. A multi-objective cell (``multi_objective`` given) has
    its variant, tasks, weights and the backbone with the variant's overrides."""
    length = int(feature_spec["history_length"])
    train = TrainConfig.from_dict(trainer).resolve_history_length(length)
    configuration: dict[str, Any] = {"features": {"history_length": length,
                                                  "fields": feature_spec.get("fields")}}
    if multi_objective is not None:
        config = MultiObjectiveConfig.from_dict(multi_objective)
        variant = config.variant(backbone, method)
        backbone_params = {**(backbone_params or {}), **variant.backbone_params}
        configuration["multi_objective"] = {
            "variant": dataclasses.asdict(variant), "tasks": list(config.tasks_of(variant)),
            "task_weights": dict(config.task_weights), "fusion": dict(config.fusion),
            "watch_time_quantile": config.watch_time_quantile}
    kind = "multi_objective" if multi_objective is not None else method_kind(method)
    if kind != "floor":
        configuration |= {"backbone": resolved_backbone(backbone, backbone_params),
                          "trainer": dataclasses.asdict(train)}
    if kind == "labelcraft":
        labelcraft_variant = LabelCraftVariants.from_params(labelcraft, train).variants()[method]
        configuration["labelcraft"] = dataclasses.asdict(
            labelcraft_variant.with_history_length(length))
    elif kind in ("rule", "multi_task"):
        configuration["label_rules"] = label_rules or {}
    return run_card(method, backbone, configuration, valid_report, test_report, history)
