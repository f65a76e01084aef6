"""Trainer hyper-parameters, checked on construction (unknown keys are an error)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labelcraft.config import from_params
from labelcraft.models.losses import LOSS_KINDS

EVAL_METRICS = ("NWTG", "NEG", "DS")  # per-user top-k metrics of labelcraft.evaluation


@dataclass(frozen=True)
class TrainConfig:
    """How a recommender is trained on a label matrix and early-stopped on validation.

    history_length: L history items per target; None = take the features' `history_length`
    (resolved by the caller with `resolve_history_length`). eval_metric: the validation metric
    that drives early stopping, one of f"{name}@{k}" for name in EVAL_METRICS, as a plain mean
    over validation users (higher is better). An epoch improves on the best so far when its
    metric exceeds it by more than `min_delta`; training stops after `patience` epochs without
    improvement. Torch threads are the caller's (a Kedro run sets them once, ``runtime``).
    """

    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 3
    patience: int = 1
    min_delta: float = 0.0
    loss: str = "mse"
    history_length: int | None = None
    k: int = 10
    eval_metric: str = "NWTG@10"
    eval_batch_users: int = 256

    def __post_init__(self) -> None:
        """Check ranges and the loss / metric names."""
        for name in ("batch_size", "max_epochs", "patience", "k", "eval_batch_users"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value}")
        if self.history_length is not None and self.history_length < 1:
            raise ValueError(f"TrainConfig.history_length must be >= 1, got {self.history_length}")
        if not self.lr > 0 or self.weight_decay < 0 or self.min_delta < 0:
            raise ValueError(
                "TrainConfig needs lr > 0, weight_decay >= 0 and min_delta >= 0, got "
                f"{self.lr}, {self.weight_decay}, {self.min_delta}"
            )
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"TrainConfig.loss must be one of {LOSS_KINDS}, got {self.loss!r}")
        valid = [f"{name}@{self.k}" for name in EVAL_METRICS]
        if self.eval_metric not in valid:
            raise ValueError(
                f"TrainConfig.eval_metric must be one of {valid} (k = {self.k}), "
                f"got {self.eval_metric!r}"
            )

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> TrainConfig:
        """Build from a parameters mapping; unknown keys raise a ValueError listing valid ones."""
        return from_params(cls, params, "trainer parameter")

    def resolve_history_length(self, default: int) -> TrainConfig:
        """Copy with `history_length` set to `default` when it is None."""
        if self.history_length is not None:
            return self
        return dataclasses.replace(self, history_length=int(default))
