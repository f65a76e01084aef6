"""The one training loop: epochs until the validation metric stops improving, best state kept.

Both the rule trainer (`train_model`) and LabelCraft's meta-training run their epochs through
`train_until_stale`; they differ only in what an epoch does and what a validation adds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from labelcraft.recommender.config import TrainConfig

logger = logging.getLogger(__name__)

EpochFn = Callable[[int], dict[str, float | int]]
"""Runs training epoch ``e`` (1-based); returns its history entries (``train_loss`` at least)."""
ValidateFn = Callable[[], tuple[torch.Tensor, dict[str, float]]]
"""Scores the validation users ``[G, M]``; returns them and entries ``valid_<metric>`` ...."""


def state_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of every tensor of the state dict (parameters and buffers)."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


@dataclass
class Stopped:
    """What `train_until_stale` leaves: the per-epoch history and the best epoch.

    history: one dict per epoch: epoch, the epoch function's entries, train_seconds, the
    validation entries, seconds. best_scores: the validation scores ``[G, M]`` of the best epoch,
    whose module states are loaded back.
    """

    history: list[dict[str, float | int]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("-inf")
    best_scores: torch.Tensor | None = None


def train_until_stale(
    modules: Mapping[str, nn.Module],
    run_epoch: EpochFn,
    validate: ValidateFn,
    config: TrainConfig,
    description: str,
) -> Stopped:
    """Run epochs 1..``config.max_epochs``; stop after ``config.patience`` without improvement.

    After each epoch ``validate`` gives the scores and ``valid_<config.eval_metric>``; an epoch
    improves when that exceeds the best so far by more than ``config.min_delta``, and then every
    module of ``modules`` (name -> module, e.g. the recommender and a labeler) has its state
    copied. At the end the best states are loaded back and the modules put in eval mode. A
    RuntimeError when the metric was never a number (every epoch NaN).
    """
    result = Stopped()
    best_states: dict[str, dict[str, torch.Tensor]] = {}
    key = f"valid_{config.eval_metric}"
    stale = 0
    for epoch in range(1, config.max_epochs + 1):
        started = time.perf_counter()
        entry: dict[str, float | int] = {"epoch": epoch, **run_epoch(epoch)}
        entry["train_seconds"] = time.perf_counter() - started
        scores, metrics = validate()
        entry.update(metrics)
        entry["seconds"] = time.perf_counter() - started
        result.history.append(entry)
        current = float(metrics[key])
        improved = current > result.best_metric + config.min_delta
        logger.info("%s epoch %d: loss %.5f, valid %s %.4f%s (%.1f s)", description, epoch,
                    entry["train_loss"], config.eval_metric, current,
                    " (best)" if improved else "", entry["seconds"])
        if improved:
            result.best_epoch, result.best_metric, result.best_scores = epoch, current, scores
            best_states = {name: state_copy(module) for name, module in modules.items()}
            stale = 0
        else:
            stale += 1
            if stale >= config.patience:
                logger.info("%s: early stop after epoch %d (best epoch %d)", description, epoch,
                            result.best_epoch)
                break
    if result.best_scores is None:
        raise RuntimeError(f"{description}: the validation {config.eval_metric} was never a "
                           "number")
    for name, module in modules.items():
        module.load_state_dict(best_states[name])
        module.eval()
    return result
