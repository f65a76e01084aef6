"""The label-rule comparison: one recommender per label method and seed, same data and split.

Every method of `ExperimentConfig.methods` is fitted on the TRAIN feedback rows only (its
labels then applied to every row), a fresh model is trained on the train rows for each seed
(early-stopped on validation), and its scores on the validation and test evaluation groups are
evaluated with `evaluate_rankings`. Multi-task methods train one model with one head per rule;
their ranking score is `mix_heads` of the heads. The random-score floor (`random_scores`, one
draw per seed) is reported as the row "random".
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from labelcraft.evaluation import evaluate_rankings, random_scores, topk_metrics
from labelcraft.experiments.config import RANDOM, ExperimentConfig, is_labelcraft
from labelcraft.experiments.data import ComparisonData
from labelcraft.experiments.summary import summarise_seeds
from labelcraft.features.tensors import InteractionTensors
from labelcraft.labels import MULTI_TASK_RULES, fit_labels, label_heads
from labelcraft.models import ModelSpec
from labelcraft.training import (
    EvalSet,
    TrainConfig,
    TrainResult,
    build_seeded_model,
    score_groups,
    state_copy,
    torch_threads,
    train_model,
)

logger = logging.getLogger(__name__)

COLLAPSE_STD = 1e-6  # test scores with a smaller std are reported as a collapsed model
INTERVAL_NOTE = (
    "mean/weighted_mean: over seeds of the per-seed user means (*_std: sample std over seeds); "
    "ci_*: percentile bootstrap over users of each user's metric averaged over seeds"
)


@dataclass
class RuleExperiment:
    """Outputs of `run_rule_experiment`.

    valid_metrics / test_metrics: JSON-able reports (see `split_report`). histories: one row
    per method, seed and epoch (method, seed, epoch, train_loss, valid_<metric>..., seconds,
    best). test_scores: one row per method (random included), seed and real test slot
    (method, seed, group, row, score), in eval-groups order.
    """

    valid_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    histories: pd.DataFrame
    test_scores: pd.DataFrame


@dataclass
class SeedRun:
    """One trained (method, seed) of the comparison, as handed to `on_seed_run`.

    history: the trainer's per-epoch dicts (epoch, train_loss, valid_<metric>..., seconds).
    final: split ("valid", "test") -> the seed's `evaluate_rankings` report. state_dicts: for
    the first seed of the config, name ("model", LabelCraft's "labeler") -> the best weights;
    empty for the other seeds.
    """

    method: str
    seed: int
    backbone: str
    best_epoch: int
    history: list[dict[str, float | int]]
    final: dict[str, dict[str, Any]]
    state_dicts: Mapping[str, dict[str, torch.Tensor]]


SeedRunCallback = Callable[[SeedRun], None]
"""Called once per trained method and seed after evaluation (e.g. to log it to a tracker)."""


def method_kind(method: str) -> str:
    """Kind of a method: "rule", "multi_task", "labelcraft" or "floor" (the random scores)."""
    if method == RANDOM:
        return "floor"
    if is_labelcraft(method):
        return "labelcraft"
    return "multi_task" if method in MULTI_TASK_RULES else "rule"


def split_report(
    split: str,
    eval_set: EvalSet,
    scores: Mapping[str, list[torch.Tensor]],
    best_epochs: Mapping[str, list[int]],
    config: ExperimentConfig,
) -> dict[str, Any]:
    """Report of one split: per method the seed summaries and the per-seed reports.

    scores: method -> one `[G, M]` score tensor per seed (in `config.seeds` order).
    Layout: {split, k, level, n_boot, seeds, n_users, n_interactions, interval, methods:
    {method: {kind, heads, metrics: {metric: summary}, per_seed: [{seed, best_epoch, score_std,
    metrics}]}}}; score_std is the std of the seed's scores over real slots (about 0 when the
    model collapsed to a constant and ties rank in slot order). Summary fields: see
    `labelcraft.experiments.summary`.
    """
    groups, outcomes = eval_set.groups, eval_set.outcomes
    weights = groups.mask.sum(dim=1).numpy()
    methods: dict[str, Any] = {}
    for method, per_seed_scores in scores.items():
        reports, per_user = [], []
        for seed_scores in per_seed_scores:
            reports.append(
                evaluate_rankings(
                    seed_scores,
                    groups.mask,
                    outcomes,
                    k=config.trainer.k,
                    n_boot=config.n_boot,
                    seed=config.bootstrap_seed,
                    level=config.level,
                )
            )
            per_user.append(
                topk_metrics(
                    seed_scores,
                    groups.mask,
                    outcomes.watch_time,
                    outcomes.ef,
                    outcomes.duration_s,
                    k=config.trainer.k,
                )
            )
        stacked = {
            name: np.stack([values[name].numpy() for values in per_user]) for name in per_user[0]
        }
        epochs = best_epochs.get(method, [0] * len(per_seed_scores))
        kind = method_kind(method)
        methods[method] = {
            "kind": kind,
            "heads": list(label_heads(method)) if kind in ("rule", "multi_task") else [],
            "metrics": summarise_seeds(
                reports,
                stacked,
                weights,
                n_boot=config.n_boot,
                level=config.level,
                bootstrap_seed=config.bootstrap_seed,
            ),
            "per_seed": [
                {
                    "seed": seed,
                    "best_epoch": epoch,
                    "score_std": float(seed_scores[groups.mask].std()),
                    "metrics": report,
                }
                for seed, epoch, seed_scores, report in zip(
                    config.seeds, epochs, per_seed_scores, reports, strict=True
                )
            ],
        }
    return {
        "split": split,
        "k": config.trainer.k,
        "level": config.level,
        "n_boot": config.n_boot,
        "seeds": list(config.seeds),
        "n_users": len(eval_set),
        "n_interactions": int(weights.sum()),
        "interval": INTERVAL_NOTE,
        "methods": methods,
    }


def long_scores(
    eval_set: EvalSet, scores: Mapping[str, list[torch.Tensor]], seeds: tuple[int, ...]
) -> pd.DataFrame:
    """(method, seed, group, row, score) of every real slot, in eval-groups order."""
    mask = eval_set.groups.mask
    group = torch.arange(len(mask)).unsqueeze(1).expand_as(mask)[mask].numpy().astype(np.int32)
    row = eval_set.groups.rows[mask].numpy()
    frames = [
        pd.DataFrame(
            {
                "method": method,
                "seed": np.int64(seed),
                "group": group,
                "row": row,
                "score": seed_scores[mask].numpy().astype(np.float32),
            }
        )
        for method, per_seed in scores.items()
        for seed, seed_scores in zip(seeds, per_seed, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def warn_if_collapsed(method: str, seed: int, scores: torch.Tensor, mask: torch.Tensor) -> None:
    """Log a warning when the real slots of test ``scores [G, M]`` are nearly constant."""
    spread = float(scores[mask].std())
    if spread < COLLAPSE_STD:
        logger.warning(
            "%s seed %d: test scores are nearly constant (std %.2g): the model collapsed and "
            "ties rank in timeline order; try loss bce or a lower lr",
            method,
            seed,
            spread,
        )


def _train_and_score(
    method: str,
    seed: int,
    labels: torch.Tensor,
    tensors: InteractionTensors,
    train_rows: torch.Tensor,
    valid: EvalSet,
    test: EvalSet,
    spec: ModelSpec,
    trainer: TrainConfig,
    config: ExperimentConfig,
) -> tuple[TrainResult, torch.Tensor]:
    """Train one seeded model of `method` on `labels [N, H]`; its test scores `[G, M]`."""
    started = time.perf_counter()
    weights = config.weights_for(method)
    model = build_seeded_model(config.model, spec, config.model_params, labels.shape[1], seed)
    result = train_model(
        model,
        tensors,
        labels,
        train_rows,
        valid,
        trainer,
        seed=seed,
        head_weights=weights,
        description=f"{method} seed {seed}",
    )
    test_scores = score_groups(
        model,
        tensors,
        test.groups,
        trainer.history_length,
        batch_users=trainer.eval_batch_users,
        head_weights=weights,
    )
    warn_if_collapsed(method, seed, test_scores, test.groups.mask)
    logger.info(
        "%s seed %d: best epoch %d, valid %s %.4f (%.1f s)",
        method,
        seed,
        result.best_epoch,
        trainer.eval_metric,
        result.best_metric,
        time.perf_counter() - started,
    )
    return result, test_scores


def run_rule_experiment(
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: Mapping[str, Any],
    config: ExperimentConfig,
    on_seed_run: SeedRunCallback | None = None,
) -> RuleExperiment:
    """Train and evaluate every label method of `config` for every seed (see module doc).

    Everything, evaluation included, runs with `config.trainer.num_threads` torch threads.
    `on_seed_run`, when given, receives one `SeedRun` per trained method and seed.
    """
    data = ComparisonData.from_frames(
        model_inputs, feedback, eval_groups_valid, eval_groups_test, feature_spec
    )
    with torch_threads(config.trainer.num_threads):
        experiment, seed_runs = _run_experiment(data, config)
    if on_seed_run is not None:
        for seed_run in seed_runs:
            on_seed_run(seed_run)
    return experiment


def history_table_rows(
    method: str, seed: int, history: list[dict[str, float | int]], best_epoch: int
) -> list[dict[str, Any]]:
    """Rows of the ``histories`` table for one trained method and seed (``best`` marks the
    epoch whose state was kept)."""
    return [
        {"method": method, "seed": seed, **entry, "best": entry["epoch"] == best_epoch}
        for entry in history
    ]


def seed_runs(
    valid_metrics: Mapping[str, Any],
    test_metrics: Mapping[str, Any],
    histories: Mapping[tuple[str, int], list[dict[str, float | int]]],
    states: Mapping[str, Mapping[str, dict[str, torch.Tensor]]],
    config: ExperimentConfig,
) -> list[SeedRun]:
    """One `SeedRun` per method of the reports and seed, final metrics taken from the reports.

    Trained methods carry their history and, for the first seed, their best weights (states:
    method -> name -> weights, see `SeedRun.state_dicts`); the random floor has no history, no
    weights and the backbone "random", so trackers can show it beside the trained methods.
    """
    reports = {"valid": valid_metrics, "test": test_metrics}
    runs = []
    for method, entry in test_metrics["methods"].items():
        floor = entry["kind"] == "floor"
        for index, seed in enumerate(config.seeds):
            per_seed = {
                split: report["methods"][method]["per_seed"][index]
                for split, report in reports.items()
            }
            runs.append(
                SeedRun(
                    method=method,
                    seed=seed,
                    backbone=RANDOM if floor else config.model,
                    best_epoch=int(per_seed["test"]["best_epoch"]),
                    history=[] if floor else histories[method, seed],
                    final={split: item["metrics"] for split, item in per_seed.items()},
                    state_dicts=states.get(method, {}) if index == 0 else {},
                )
            )
    return runs


def _run_experiment(
    data: ComparisonData, config: ExperimentConfig
) -> tuple[RuleExperiment, list[SeedRun]]:
    """`run_rule_experiment` inside its thread setting; the experiment and its seed runs."""
    trainer = config.trainer.resolve_history_length(data.history_length)
    tensors, train_rows, valid, test, spec = (
        data.tensors, data.train_rows, data.valid, data.test, data.spec
    )
    train_feedback = data.train_feedback
    logger.info(
        "label-rule experiment: %d methods x %d seeds, %d train rows, %d valid / %d test users, "
        "history length %d",
        len(config.methods),
        len(config.seeds),
        len(train_rows),
        len(valid),
        len(test),
        trainer.history_length,
    )
    scores: dict[str, dict[str, list[torch.Tensor]]] = {"valid": {}, "test": {}}
    best_epochs: dict[str, list[int]] = {}
    history_rows: list[dict[str, Any]] = []
    histories: dict[tuple[str, int], list[dict[str, float | int]]] = {}
    states: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
    runs = tqdm(total=len(config.methods) * len(config.seeds), desc="label methods x seeds")
    for method in config.methods:
        fitted = fit_labels(method, train_feedback, config.rule_params)
        labels = torch.from_numpy(fitted(data.feedback))  # [N, H]
        for per_method in scores.values():
            per_method[method] = []
        best_epochs[method] = []
        for seed in config.seeds:
            result, test_scores = _train_and_score(
                method, seed, labels, tensors, train_rows, valid, test, spec, trainer, config
            )
            scores["valid"][method].append(result.best_scores)
            scores["test"][method].append(test_scores)
            best_epochs[method].append(result.best_epoch)
            histories[method, seed] = result.history
            if seed == config.seeds[0]:
                states[method] = {"model": state_copy(result.model)}
            history_rows += history_table_rows(method, seed, result.history, result.best_epoch)
            runs.update()
    runs.close()
    for name, eval_set in (("valid", valid), ("test", test)):
        scores[name][RANDOM] = [random_scores(eval_set.groups.mask, seed) for seed in config.seeds]
    used = dataclasses.replace(config, trainer=trainer)
    experiment = RuleExperiment(
        valid_metrics=split_report("valid", valid, scores["valid"], best_epochs, used),
        test_metrics=split_report("test", test, scores["test"], best_epochs, used),
        histories=pd.DataFrame(history_rows),
        test_scores=long_scores(test, scores["test"], config.seeds),
    )
    return experiment, seed_runs(
        experiment.valid_metrics, experiment.test_metrics, histories, states, config
    )
