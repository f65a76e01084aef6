"""A multi-objective cell of the grid: one model with a head per task, trained on the raw signals.

No label rule: each head learns its own outcome (`labelcraft.multiobjective.tasks`), the loss is
the weighted sum of the task losses, the ranking score the fusion of the heads (`fuse_heads`),
early-stopped on the validation top-k like every cell. Besides the usual score tables the cell
keeps every head's prediction on the validation and test users (`task_predictions`), from which
its reports get per-task metrics (`add_task_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch

from labelcraft.evaluation import auc
from labelcraft.experiments.cells import CellOutputs, SeedFit, run_seeds
from labelcraft.experiments.data import ComparisonData
from labelcraft.experiments.reports import scores_from_table
from labelcraft.features.tensors import EvalGroups
from labelcraft.multiobjective.metrics import task_metrics
from labelcraft.multiobjective.objective import (
    EntireSpaceChain,
    MultiObjectiveConfig,
    Variant,
    fuse_heads,
    task_loss,
)
from labelcraft.multiobjective.tasks import (
    REGRESSION_TASKS,
    WatchTimeScale,
    task_outcomes,
    task_targets,
)
from labelcraft.recommender import (
    EvalSet,
    TrainConfig,
    build_seeded_model,
    predict_groups,
    rank_heads,
    state_copy,
    train_model,
)

PREDICTION_KEYS = ("split", "seed", "group", "row")
"""The key columns of a `task_predictions` table; one column per task follows."""


def watch_time_scale(data: ComparisonData, quantile: float) -> WatchTimeScale:
    """The watch-time scale fitted on the train rows' play times."""
    return WatchTimeScale.fit(data.train_feedback["play_time_s"].to_numpy(np.float64), quantile)


def _prediction_frame(split: str, seed: int, groups: EvalGroups, heads: torch.Tensor,
                      tasks: Sequence[str], scale: WatchTimeScale) -> pd.DataFrame:
    """One row per real slot of ``groups``: keys and each task's prediction (watch time in
    seconds) from head scores ``[G, M, T]``."""
    mask = groups.mask
    frame = pd.DataFrame({
        "split": split, "seed": np.int64(seed),
        "group": torch.arange(len(mask)).unsqueeze(1).expand_as(mask)[mask].numpy(),
        "row": groups.rows[mask].numpy()})
    for index, task in enumerate(tasks):
        values = heads[..., index][mask]
        frame[task] = (scale.seconds(values) if task in REGRESSION_TASKS else values).numpy()
    return frame


def train_multi_objective_cell(
    variant: Variant,
    config: MultiObjectiveConfig,
    data: ComparisonData,
    *,
    backbone_params: Mapping[str, Any] | None,
    trainer: TrainConfig,
    seeds: Sequence[int],
) -> tuple[CellOutputs, pd.DataFrame]:
    """Train ``variant`` per seed on its task targets; its cell tables and head predictions.

    The backbone gets one head per task (``backbone_params`` with the variant's overrides), is
    wrapped in `EntireSpaceChain` for ESMM, trained on `task_loss` and validated on the fused
    ranking score; each epoch also logs the validation AUC of every binary task.
    """
    trainer = trainer.resolve_history_length(data.history_length)
    tasks = config.tasks_of(variant)
    scale = watch_time_scale(data, config.watch_time_quantile)
    targets = task_targets(data.feedback, tasks, scale)  # [N, T]
    ranking = partial(fuse_heads, tasks=tasks, fusion=config.fusion, scale=scale)
    objective = partial(task_loss, tasks=tasks, weights=config.task_weights)
    params = {**(backbone_params or {}), **variant.backbone_params}
    valid_truth = {task: _on_slots(data.valid, targets[:, index])  # binary: target = outcome
                   for index, task in enumerate(tasks) if task not in REGRESSION_TASKS}

    def head_metrics(heads: torch.Tensor) -> dict[str, float]:
        mask = data.valid.groups.mask
        return {f"AUC_{task}": auc(heads[..., index], valid_truth[task], mask)
                for index, task in enumerate(tasks) if task not in REGRESSION_TASKS}

    predictions: list[pd.DataFrame] = []

    def fit(seed: int) -> SeedFit:
        model = build_seeded_model(variant.backbone, data.spec, params, len(tasks), seed)
        if variant.esmm:
            model = EntireSpaceChain(model, tasks)
        result = train_model(model, data.tensors, targets, data.train_rows, data.valid, trainer,
                             seed=seed, objective=objective, ranking=ranking,
                             head_metrics=head_metrics,
                             description=f"{variant.backbone}/{variant.name} seed {seed}")
        heads = {}
        for split, eval_set in (("valid", data.valid), ("test", data.test)):
            heads[split] = predict_groups(model, data.tensors, eval_set.groups,
                                          trainer.history_length,
                                          batch_users=trainer.eval_batch_users)
            predictions.append(_prediction_frame(split, seed, eval_set.groups, heads[split],
                                                 tasks, scale))
        test_scores = rank_heads(heads["test"], data.test.groups.mask, ranking=ranking)
        return SeedFit(result.best_scores, test_scores, result.history,  # type: ignore[arg-type]
                       result.best_epoch, {"model": state_copy(model)})

    cell = run_seeds(variant.name, seeds, data, fit)
    return cell, pd.concat(predictions, ignore_index=True)


def _on_slots(eval_set: EvalSet, values: torch.Tensor) -> torch.Tensor:
    """``values [N]`` of every row gathered on the eval slots ``[G, M]`` (0 on padding)."""
    groups = eval_set.groups
    return torch.where(groups.mask, values[torch.where(groups.mask, groups.rows, 0)], 0.0)


def add_task_metrics(report: dict[str, Any], eval_set: EvalSet, feedback: pd.DataFrame,
                     predictions: pd.DataFrame, *, method: str, seeds: Sequence[int],
                     n_boot: int, level: float, bootstrap_seed: int) -> dict[str, Any]:
    """``report`` (a cell's `split_report`) with the per-task metrics of its heads: each seed's
    metrics and the summary gain ``AUC_<task>``, ``gAUC_<task>`` (binary tasks) and
    ``MAE_watch_time``, ``XAUC_watch_time``; a task's metric replaces the one of the ranking
    score of the same name (``AUC_EF``: the EF head's AUC). The entry's ``heads`` are the
    tasks. A ValueError when the predictions are not the split's eval slots (`scores_from_table`).
    """
    part = predictions[predictions["split"] == report["split"]]
    tasks = [c for c in predictions.columns if c not in PREDICTION_KEYS]
    by_task = {task: scores_from_table(part, eval_set, seeds, column=task) for task in tasks}
    per_seed_predictions = [{task: by_task[task][index] for task in tasks}
                            for index in range(len(seeds))]
    outcomes = task_outcomes(feedback, tuple(tasks))  # [N, T]
    truths = {task: _on_slots(eval_set, outcomes[:, index]) for index, task in enumerate(tasks)}
    per_seed, summary = task_metrics(per_seed_predictions, truths, eval_set.groups.mask,
                                     n_boot=n_boot,
                                     seed=bootstrap_seed, level=level)
    entry = report["methods"][method]
    entry["heads"] = tasks
    entry["metrics"] = {**entry["metrics"], **summary}
    for item, metrics in zip(entry["per_seed"], per_seed, strict=True):
        item["metrics"] = {**item["metrics"], **metrics}
    return report
