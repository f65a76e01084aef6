"""Training and evaluation of one cell of the grid: one label method on one backbone, per seed.

Rules: the labels are fitted on the train rows (`fit_rule_labels`), then a fresh recommender is
trained per seed (`train_rule_cell`). LabelCraft and its ablations meta-train labeler and
recommender per seed (`train_labelcraft_cell`). The random floor draws scores per seed
(`floor_scores`). Every trained cell goes through the same per-seed bookkeeping (`run_seeds`):
validation scores of the best epoch, test scores, history rows and the first seed's weights.
`evaluate_cell` turns a cell's scores into its reports, `seed_runs` into one `SeedRun` per seed
for a tracker.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from labelcraft.evaluation import random_scores
from labelcraft.experiments.config import RANDOM, ReportConfig
from labelcraft.experiments.data import ComparisonData
from labelcraft.experiments.reports import long_scores, scores_from_table, split_report
from labelcraft.labels import fit_labels, label_heads
from labelcraft.meta.meta_training import LabelCraftConfig, train_labelcraft
from labelcraft.recommender import (
    EvalSet,
    TrainConfig,
    build_seeded_model,
    score_groups,
    state_copy,
    train_model,
)

logger = logging.getLogger(__name__)

COLLAPSE_STD = 1e-6  # test scores with a smaller std are reported as a collapsed model
LABEL_COLUMNS = ("user_id", "video_id", "time_ms")  # keys of a train interaction
States = dict[str, dict[str, torch.Tensor]]
"""Weights by name: "model" (the recommender), LabelCraft's "labeler" too."""


@dataclass
class SeedFit:
    """One trained seed of a cell: validation scores of its best epoch and test scores ``[G, M]``,
    its history (one dict per epoch), best epoch and final weights."""

    valid_scores: torch.Tensor
    test_scores: torch.Tensor
    history: list[dict[str, float | int]]
    best_epoch: int
    states: States


@dataclass
class CellOutputs:
    """What a trained cell saves.

    valid_scores / test_scores: `long_scores` tables of every seed. history: one row per seed
    and epoch (method, seed, epoch, train_loss, valid_<metric>..., seconds, best: the epoch whose
    state was kept). weights: the first seed's `States`.
    """

    valid_scores: pd.DataFrame
    test_scores: pd.DataFrame
    history: pd.DataFrame
    weights: States


@dataclass
class SeedRun:
    """One (method, seed) of a cell, as handed to a tracker.

    history: per-epoch dicts (epoch, train_loss, valid_<metric>..., seconds; keys an epoch lacks
    are absent). final: split ("valid", "test") -> the seed's `evaluate_rankings` report.
    state_dicts: the first seed's `States`; empty for the other seeds and the floor.
    """

    method: str
    seed: int
    backbone: str
    best_epoch: int
    history: list[dict[str, float | int]]
    final: dict[str, dict[str, Any]]
    state_dicts: Mapping[str, dict[str, torch.Tensor]]


SeedRunCallback = Callable[[SeedRun], None]
"""Called once per method and seed after evaluation (e.g. to log it to a tracker)."""


def warn_if_collapsed(method: str, seed: int, scores: torch.Tensor, mask: torch.Tensor) -> None:
    """Log a warning when the real slots of test ``scores [G, M]`` are nearly constant."""
    spread = float(scores[mask].std())
    if spread < COLLAPSE_STD:
        logger.warning(
            "%s seed %d: test scores are nearly constant (std %.2g): the model collapsed and "
            "ties rank in timeline order; try loss bce or a lower lr", method, seed, spread)


def run_seeds(method: str, seeds: Sequence[int], data: ComparisonData,
              fit: Callable[[int], SeedFit]) -> CellOutputs:
    """``fit`` every seed of a cell (progress bar over seeds); its tables and first weights."""
    valid, test, history_rows = [], [], []
    weights: States = {}
    for seed in tqdm(seeds, desc=f"{method} seeds"):
        result = fit(seed)
        warn_if_collapsed(method, seed, result.test_scores, data.test.groups.mask)
        valid.append(result.valid_scores)
        test.append(result.test_scores)
        history_rows += [{"method": method, "seed": seed, **entry,
                          "best": entry["epoch"] == result.best_epoch}
                         for entry in result.history]
        if seed == seeds[0]:
            weights = result.states
    return CellOutputs(valid_scores=long_scores(data.valid, method, valid, seeds),
                       test_scores=long_scores(data.test, method, test, seeds),
                       history=pd.DataFrame(history_rows), weights=weights)


def fit_rule_labels(method: str, feedback: pd.DataFrame, train_rows: np.ndarray,
                    rule_params: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """``method``'s labels of every row of ``feedback`` (columns ``label_<head>``), fitted on
    the rows ``train_rows [T]`` only."""
    fitted = fit_labels(method, feedback.iloc[train_rows], rule_params)
    labels = fitted(feedback)  # [N, H]
    return pd.DataFrame({f"label_{head}": labels[:, index]
                         for index, head in enumerate(label_heads(method))})


def train_rule_cell(
    method: str,
    labels: pd.DataFrame,
    data: ComparisonData,
    *,
    backbone: str,
    backbone_params: Mapping[str, Any] | None,
    trainer: TrainConfig,
    seeds: Sequence[int],
    head_weights: Sequence[float] | None,
) -> CellOutputs:
    """Train one ``backbone`` per seed on a rule's ``labels`` (`fit_rule_labels`); score users.

    Args:
        method: the rule's report name; labels: its ``[N, H]`` label table.
        data: rows, split and evaluation users.
        backbone, backbone_params: the registry model and its hyper-parameters.
        trainer: the trainer (``history_length`` None = the features').
        seeds: one model per seed.
        head_weights: how a multi-task model's heads mix into its ranking score.
    """
    trainer = trainer.resolve_history_length(data.history_length)
    label_matrix = torch.tensor(labels.to_numpy(np.float32))  # [N, H]

    def fit(seed: int) -> SeedFit:
        model = build_seeded_model(backbone, data.spec, backbone_params, label_matrix.shape[1],
                                   seed)
        result = train_model(model, data.tensors, label_matrix, data.train_rows, data.valid,
                             trainer, seed=seed, head_weights=head_weights,
                             description=f"{method} seed {seed}")
        test_scores = score_groups(model, data.tensors, data.test.groups, trainer.history_length,
                                   batch_users=trainer.eval_batch_users,
                                   head_weights=head_weights)
        return SeedFit(result.best_scores, test_scores, result.history,  # type: ignore[arg-type]
                       result.best_epoch, {"model": state_copy(model)})

    return run_seeds(method, seeds, data, fit)


@dataclass
class LabelCraftOutputs:
    """A LabelCraft cell's outputs: the cell's tables and the first seed's labeler.

    labels: one row per train interaction (``row`` of model_inputs, user_id, video_id, time_ms,
    ``label``); labeler: its artifact (`Labeler.to_artifact`).
    """

    cell: CellOutputs
    labels: pd.DataFrame
    labeler: dict[str, Any]


def train_labelcraft_cell(
    method: str,
    config: LabelCraftConfig,
    data: ComparisonData,
    model_inputs: pd.DataFrame,
    *,
    backbone: str,
    backbone_params: Mapping[str, Any] | None,
    seeds: Sequence[int],
    rule_params: Mapping[str, Mapping[str, Any]],
) -> LabelCraftOutputs:
    """Meta-train ``config`` (LabelCraft or an ablation) per seed; score the users.

    Args:
        method: the row name ("LabelCraft", "LabelCraft w/o meta" ...); config: its settings.
        data: rows, split and evaluation users; model_inputs: for the label keys.
        backbone, backbone_params: the registry model and its hyper-parameters.
        seeds: one labeler and recommender per seed.
        rule_params: the rules' fit parameters (for the warm start).

    Histories start with an epoch-0 row per seed: the untrained model's validation metrics and
    soft objectives, so the rise of the validation objective shows from its start.
    """
    config = config.with_history_length(data.history_length)
    first: dict[str, Any] = {}

    def fit(seed: int) -> SeedFit:
        result = train_labelcraft(data.tensors, data.train_rows, data.valid, model_name=backbone,
                                  model_params=backbone_params, spec=data.spec, config=config,
                                  seed=seed, description=f"{method} seed {seed}",
                                  rule_params=rule_params)
        test_scores = score_groups(result.model, data.tensors, data.test.groups,
                                   config.trainer.history_length,
                                   batch_users=config.trainer.eval_batch_users)
        if not first:
            first["labels"] = label_frame(model_inputs, result.train_rows, result.labels)
            first["labeler"] = result.labeler.to_artifact()
        return SeedFit(result.best_scores, test_scores, [{"epoch": 0, **result.start},
                                                         *result.history],
                       result.best_epoch, {"model": state_copy(result.model),
                                           "labeler": state_copy(result.labeler)})

    logger.info("%s: %d seeds, %d train rows, meta step every %d batch(es), upper gradient "
                "every %d meta step(s)", method, len(seeds), len(data.train_rows),
                config.meta_every, config.upper_every)
    cell = run_seeds(method, seeds, data, fit)
    return LabelCraftOutputs(cell=cell, labels=first["labels"], labeler=first["labeler"])


def label_frame(model_inputs: pd.DataFrame, rows: torch.Tensor,
                labels: torch.Tensor) -> pd.DataFrame:
    """``row``, the interaction keys and ``label`` of train ``rows [T]`` with ``labels [T]``."""
    index = rows.numpy()
    keys = model_inputs.iloc[index][list(LABEL_COLUMNS)].reset_index(drop=True)
    return pd.DataFrame({"row": index, **{c: keys[c] for c in LABEL_COLUMNS},
                         "label": labels.numpy()})


def floor_scores(valid: EvalSet, test: EvalSet,
                 seeds: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The random floor's validation and test score tables: one uniform draw per seed."""
    return tuple(  # type: ignore[return-value]
        long_scores(split, RANDOM, [random_scores(split.groups.mask, seed) for seed in seeds],
                    seeds)
        for split in (valid, test))


def best_epochs(history: pd.DataFrame | None, seeds: Sequence[int]) -> list[int]:
    """Each seed's kept epoch (the ``best`` row of its history; 0 without a history)."""
    if history is None:
        return [0] * len(seeds)
    best = history[history["best"].astype(bool)].set_index("seed")["epoch"]
    return [int(best[seed]) for seed in seeds]


def evaluate_cell(
    method: str,
    valid: EvalSet,
    test: EvalSet,
    valid_scores: pd.DataFrame,
    test_scores: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    seeds: Sequence[int],
    k: int,
    config: ReportConfig,
    backbone: str = "",
    kind: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cell's valid and test reports (`split_report`, entries of ``kind``) from its saved
    score tables."""
    epochs = best_epochs(history, seeds)
    return tuple(  # type: ignore[return-value]
        split_report(name, split, method, scores_from_table(table, split, seeds), epochs, seeds,
                     k, config, backbone, kind)
        for name, split, table in (("valid", valid, valid_scores), ("test", test, test_scores)))


def seed_runs(
    method: str,
    backbone: str,
    valid_report: Mapping[str, Any],
    test_report: Mapping[str, Any],
    history: pd.DataFrame | None,
    weights: States | None,
) -> list[SeedRun]:
    """One `SeedRun` per seed of a cell's reports; the floor (no history) has the backbone
    "random", so trackers show it beside the trained methods."""
    reports = {"valid": valid_report, "test": test_report}
    runs = []
    for index, seed in enumerate(test_report["seeds"]):
        per_seed = {split: report["methods"][method]["per_seed"][index]
                    for split, report in reports.items()}
        entries: list[dict[str, float | int]] = []
        if history is not None:
            rows = history[history["seed"] == seed].drop(columns=["method", "seed", "best"])
            entries = [{key: value for key, value in row.items()
                        if not (isinstance(value, float) and math.isnan(value))}
                       for row in rows.to_dict("records")]
        runs.append(SeedRun(
            method=method, seed=int(seed), backbone=RANDOM if history is None else backbone,
            best_epoch=int(per_seed["test"]["best_epoch"]), history=entries,
            final={split: item["metrics"] for split, item in per_seed.items()},
            state_dicts=(weights or {}) if index == 0 else {}))
    return runs

