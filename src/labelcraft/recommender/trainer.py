"""Mini-batch training of a recommender on a label matrix, early-stopped on validation top-k."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from labelcraft.features.tensors import InteractionTensors
from labelcraft.models import ModelSpec, RecBatch, build_model, label_loss, make_batch
from labelcraft.recommender.config import TrainConfig
from labelcraft.recommender.early_stopping import train_until_stale
from labelcraft.recommender.scoring import (
    EvalSet,
    Ranking,
    epoch_metrics,
    predict_groups,
    rank_heads,
)

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained model (best validation state restored) and its per-epoch history.

    history: one dict per epoch: epoch, train_loss (mean over the epoch's batches),
    train_seconds, valid_<metric> for NWTG@k, NEG@k, DS@k, seconds. best_scores: the validation
    scores `[G, M]` of the best epoch, i.e. of the returned model.
    """

    model: nn.Module
    history: list[dict[str, float | int]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("-inf")
    best_scores: torch.Tensor | None = None


def build_seeded_model(
    name: str,
    spec: ModelSpec,
    params: Mapping[str, Any] | None,
    n_heads: int,
    seed: int,
) -> nn.Module:
    """`build_model(...)` with its initial weights drawn from `seed` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(name, spec, params, n_heads=n_heads)


Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A training loss of head scores ``[B, H]`` against targets ``[B, H]`` (a scalar)."""


def plain_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: RecBatch,
               labels: torch.Tensor, loss: str | Objective) -> float:
    """One optimiser step of ``model`` on ``batch`` against ``labels [B, H]``; the batch loss
    (``loss``: a `label_loss` kind, or an `Objective`)."""
    objective = loss if callable(loss) else partial(label_loss, kind=loss)
    value = objective(model(batch), labels)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
    return float(value.detach())


def check_training_inputs(train_rows: torch.Tensor, valid: EvalSet,
                          history_length: int | None) -> torch.Tensor:
    """``train_rows`` as a long tensor ``[T]``; a ValueError when there is nothing to train on,
    no validation user to stop on, or an unresolved history length."""
    if history_length is None:
        raise ValueError("config.history_length is None: call resolve_history_length first")
    train_rows = torch.as_tensor(train_rows, dtype=torch.long)
    if len(train_rows) == 0:
        raise ValueError("no train rows to train on")
    if len(valid) == 0:
        raise ValueError("no validation users: early stopping needs at least one eval group")
    return train_rows


def train_model(
    model: nn.Module,
    tensors: InteractionTensors,
    labels: torch.Tensor,
    train_rows: torch.Tensor,
    valid: EvalSet,
    config: TrainConfig,
    *,
    seed: int,
    head_weights: Sequence[float] | None = None,
    objective: Objective | None = None,
    ranking: Ranking | None = None,
    head_metrics: Callable[[torch.Tensor], dict[str, float]] | None = None,
    description: str = "train",
) -> TrainResult:
    """Train `model` (forward: RecBatch -> `[B, H]` in [0, 1]) on `labels [N, H]` at `train_rows`.

    Args:
        model: a registry recommender with H heads (trained in place; best state restored).
        tensors: every interaction's row tensors; labels: `[N, H]` targets of every row.
        train_rows: `[T]` rows to train on; valid: the validation users (early stopping).
        config: the trainer; `config.history_length` must be resolved.
        seed: the batch order's generator.
        head_weights: how the heads mix into the validation ranking score (None: their mean).
        objective: the training loss (None: `label_loss` of ``config.loss``).
        ranking: the validation ranking score of the heads (None: mixed by ``head_weights``).
        head_metrics: extra per-epoch validation metrics of the head scores ``[G, M, H]``
            (logged as ``valid_<name>``).
        description: prefix of log lines and progress bars.

    Each epoch visits the train rows `[T]` once in an order drawn from a `torch.Generator`
    seeded with `seed`, in mini-batches of `config.batch_size` (Adam, `config.loss`), then
    scores the validation groups (eval mode; multi-head scores mixed by `head_weights`) for
    `train_until_stale`. On CPU, the same seed, initialisation and thread count give the same
    numbers.
    """
    history_length = config.history_length
    train_rows = check_training_inputs(train_rows, valid, history_length)
    if labels.dim() != 2 or labels.shape[0] != len(tensors):
        raise ValueError(
            f"labels must be [N, H] with N = {len(tensors)} rows, got {tuple(labels.shape)}"
        )
    labels = labels.to(torch.float32)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def run_epoch(epoch: int) -> dict[str, float | int]:
        model.train()
        order = train_rows[torch.randperm(len(train_rows), generator=generator)]
        n_batches = -(-len(order) // config.batch_size)
        total = 0.0
        bar = tqdm(range(n_batches), desc=f"{description} epoch {epoch}", leave=False,
                   mininterval=1.0)
        for step in bar:
            rows = order[step * config.batch_size : (step + 1) * config.batch_size]
            total += plain_step(model, optimizer, make_batch(tensors, rows, history_length),
                                labels[rows], objective or config.loss)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{total / (step + 1):.4f}", refresh=False)
        bar.close()
        return {"train_loss": total / n_batches}

    def validate() -> tuple[torch.Tensor, dict[str, float]]:
        heads = predict_groups(model, tensors, valid.groups, history_length,
                               batch_users=config.eval_batch_users)  # [G, M, H]
        scores = rank_heads(heads, valid.groups.mask, head_weights=head_weights, ranking=ranking)
        metrics = epoch_metrics(scores, valid, config.k)
        if head_metrics is not None:
            metrics |= head_metrics(heads)
        return scores, {f"valid_{name}": value for name, value in metrics.items()}

    stopped = train_until_stale({"model": model}, run_epoch, validate, config, description)
    return TrainResult(model=model, history=stopped.history, best_epoch=stopped.best_epoch,
                       best_metric=stopped.best_metric, best_scores=stopped.best_scores)
