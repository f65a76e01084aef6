"""Mini-batch training of a recommender on a label matrix, early-stopped on validation top-k."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from labelcraft.features.tensors import InteractionTensors
from labelcraft.models import ModelSpec, build_model, label_loss, make_batch
from labelcraft.training.config import TrainConfig
from labelcraft.training.scoring import EvalSet, epoch_metrics, score_groups

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained model (best validation state restored) and its per-epoch history.

    history: one dict per epoch: epoch, train_loss (mean over the epoch's batches), seconds and
    valid_<metric> for NWTG@k, NEG@k, DS@k. best_scores: the validation scores `[G, M]` of the
    best epoch, i.e. of the returned model.
    """

    model: nn.Module
    history: list[dict[str, float | int]] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float = float("-inf")
    best_scores: torch.Tensor | None = None


@contextmanager
def torch_threads(num_threads: int) -> Iterator[None]:
    """Run the block with `num_threads` intra-op threads (0 = unchanged), then restore."""
    previous = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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


def state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of every tensor of the state dict (parameters and buffers)."""
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    tensors: InteractionTensors,
    labels: torch.Tensor,
    order: torch.Tensor,
    config: TrainConfig,
    history_length: int,
    description: str,
) -> float:
    """One pass over the rows `order [T]` in mini-batches; the mean batch loss."""
    model.train()
    n_batches = -(-len(order) // config.batch_size)
    total = torch.zeros((), dtype=torch.float64)
    bar = tqdm(range(n_batches), desc=description, leave=False, mininterval=1.0)
    for step in bar:
        rows = order[step * config.batch_size : (step + 1) * config.batch_size]
        pred = model(make_batch(tensors, rows, history_length))
        loss = label_loss(pred, labels[rows], config.loss)  # type: ignore[arg-type]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{float(total) / (step + 1):.4f}", refresh=False)
    bar.close()
    return float(total) / n_batches


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
    description: str = "train",
) -> TrainResult:
    """Train `model` (forward: RecBatch -> `[B, H]` in [0, 1]) on `labels [N, H]` at `train_rows`.

    Each epoch visits the train rows `[T]` once in an order drawn from a `torch.Generator`
    seeded with `seed`, in mini-batches of `config.batch_size` (Adam, `config.loss`), then
    scores the validation groups (eval mode) and computes NWTG@k, NEG@k, DS@k. The state with
    the best `config.eval_metric` is kept (tensor copies) and loaded back at the end; training
    stops after `config.patience` epochs without improvement. On CPU, the same seed, model
    initialisation and thread count give the same numbers.
    """
    history_length = config.history_length
    if history_length is None:
        raise ValueError("config.history_length is None: call resolve_history_length first")
    if labels.dim() != 2 or labels.shape[0] != len(tensors):
        raise ValueError(
            f"labels must be [N, H] with N = {len(tensors)} rows, got {tuple(labels.shape)}"
        )
    train_rows = torch.as_tensor(train_rows, dtype=torch.long)
    if len(train_rows) == 0:
        raise ValueError("no train rows to train on")
    if len(valid) == 0:
        raise ValueError("no validation users: early stopping needs at least one eval group")
    labels = labels.to(torch.float32)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    result = TrainResult(model=model)
    best_state: dict[str, torch.Tensor] = {}
    stale = 0
    with torch_threads(config.num_threads):
        for epoch in range(1, config.max_epochs + 1):
            started = time.perf_counter()
            order = train_rows[torch.randperm(len(train_rows), generator=generator)]
            train_loss = _train_epoch(
                model,
                optimizer,
                tensors,
                labels,
                order,
                config,
                history_length,
                f"{description} epoch {epoch}",
            )
            scores = score_groups(
                model,
                tensors,
                valid.groups,
                history_length,
                batch_users=config.eval_batch_users,
                head_weights=head_weights,
            )
            metrics = epoch_metrics(scores, valid, config.k)
            entry: dict[str, float | int] = {
                "epoch": epoch,
                "train_loss": train_loss,
                **{f"valid_{name}": value for name, value in metrics.items()},
                "seconds": time.perf_counter() - started,
            }
            result.history.append(entry)
            current = metrics[config.eval_metric]
            improved = current > result.best_metric + config.min_delta
            logger.info(
                "%s epoch %d: loss %.5f, valid %s %.4f%s (%.1f s)",
                description,
                epoch,
                entry["train_loss"],
                config.eval_metric,
                current,
                " (best)" if improved else "",
                entry["seconds"],
            )
            if improved:
                result.best_epoch, result.best_metric = epoch, current
                result.best_scores = scores
                best_state = state_copy(model)
                stale = 0
            else:
                stale += 1
                if stale >= config.patience:
                    logger.info(
                        "%s: early stop after epoch %d (best epoch %d)",
                        description,
                        epoch,
                        result.best_epoch,
                    )
                    break
    if result.best_scores is None:
        raise RuntimeError(f"{description}: the validation {config.eval_metric} was never a number")
    model.load_state_dict(best_state)
    model.eval()
    return result
