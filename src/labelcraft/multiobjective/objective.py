"""The multi-objective model's settings, its training loss, ESMM's chaining and the ranking fusion.

Settings (``params:multi_objective``): the tasks, their loss weights, the fusion weights of the
ranking score, the watch-time scale, and the variants (cells of the grid: the model, its tasks,
ESMM or not, backbone overrides such as ``towers: mmoe`` or ``history_feedback: false``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labelcraft.config import from_params
from labelcraft.models import MODEL_REGISTRY, RecBatch
from labelcraft.multiobjective.tasks import (
    NEGATIVE_TASKS,
    REGRESSION_TASKS,
    TASKS,
    WatchTimeScale,
    check_tasks,
)

DEFAULT_TASKS: tuple[str, ...] = ("skip", "long_view", "watch_time", "EF", "hate")
ESMM_CHAIN: tuple[str, str] = ("long_view", "click")
"""ESMM's funnel: p(long view) = p(click) x p(long view | click)."""
MIN_PROBABILITY = 1e-6  # floor of every factor of the fused score (log of 0)


@dataclass(frozen=True)
class Variant:
    """One multi-objective cell: report name ``name`` on backbone ``backbone``.

    tasks: its heads (None = the settings' ``tasks``); esmm: chain ``long_view`` on ``click``
    (``click`` is added as the first head when missing); backbone_params: overrides of
    ``params:backbones.<backbone>``.
    """

    name: str
    backbone: str
    tasks: tuple[str, ...] | None = None
    esmm: bool = False
    backbone_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the backbone, tasks and the ESMM funnel."""
        where = f"multi_objective variant {self.name!r}"
        if self.backbone not in MODEL_REGISTRY:
            raise ValueError(f"{where}: unknown backbone {self.backbone!r}; registered: "
                             f"{', '.join(sorted(MODEL_REGISTRY))}")
        if self.tasks is not None:
            object.__setattr__(self, "tasks", check_tasks(self.tasks, where))
        if self.esmm and self.tasks is not None and "long_view" not in self.tasks:
            raise ValueError(f"{where}: esmm needs the task long_view, got {list(self.tasks)}")
        object.__setattr__(self, "backbone_params", dict(self.backbone_params or {}))


@dataclass(frozen=True)
class MultiObjectiveConfig:
    """``params:multi_objective``.

    tasks: the default heads of a variant (`TASKS` names); task_weights: loss weight per task
    (missing tasks: 1); fusion: exponent of each task's factor in the ranking score
    (`fuse_heads`; missing: 0; a single-task variant ranks by its task whatever the weights);
    watch_time_quantile: the train quantile of play time capping the watch-time scale;
    variants: the cells (`Variant`), none by default.
    """

    tasks: tuple[str, ...] = DEFAULT_TASKS
    task_weights: Mapping[str, float] = field(default_factory=dict)
    fusion: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(DEFAULT_TASKS,
                                                                                1.0))
    watch_time_quantile: float = 0.999
    variants: tuple[Variant, ...] = ()

    def __post_init__(self) -> None:
        """Check the tasks and weights; parse the variants; names unique per backbone."""
        object.__setattr__(self, "tasks", check_tasks(self.tasks, "multi_objective"))
        for name in ("task_weights", "fusion"):
            weights = dict(getattr(self, name) or {})
            bad = {task: w for task, w in weights.items()
                   if task not in TASKS or not isinstance(w, int | float) or w < 0}
            if bad:
                raise ValueError(f"multi_objective.{name}: need non-negative numbers for tasks "
                                 f"among {list(TASKS)}, got {bad}")
            object.__setattr__(self, name, weights)
        if not 0.0 < self.watch_time_quantile <= 1.0:
            raise ValueError(f"multi_objective.watch_time_quantile must be in (0, 1], got "
                             f"{self.watch_time_quantile}")
        variants = tuple(v if isinstance(v, Variant) else from_params(
            Variant, v, "multi_objective variant parameter") for v in self.variants)
        keys = [(v.backbone, v.name) for v in variants]
        if len(set(keys)) != len(keys):
            raise ValueError(f"multi_objective.variants: a (backbone, name) twice: {keys}")
        object.__setattr__(self, "variants", variants)

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> MultiObjectiveConfig:
        """From ``params:multi_objective``; unknown keys raise."""
        return from_params(cls, params, "multi_objective parameter")

    def variant(self, backbone: str, name: str) -> Variant:
        """The variant ``name`` of ``backbone``."""
        for variant in self.variants:
            if (variant.backbone, variant.name) == (backbone, name):
                return variant
        raise KeyError(f"no multi_objective variant {name!r} on {backbone!r}")

    def tasks_of(self, variant: Variant) -> tuple[str, ...]:
        """The variant's tasks (with the ESMM parent ``click`` first when it chains)."""
        tasks = variant.tasks or self.tasks
        if variant.esmm and "click" not in tasks:
            tasks = ("click", *tasks)
        if variant.esmm and "long_view" not in tasks:
            raise ValueError(f"variant {variant.name!r}: esmm needs the task long_view")
        return tasks


def task_loss(pred: torch.Tensor, target: torch.Tensor, tasks: Sequence[str],
              weights: Mapping[str, float]) -> torch.Tensor:
    """Weighted mean over tasks of each task's mean loss: BCE for the binary tasks, squared
    error for the regression (watch time); ``pred``, ``target`` ``[B, T]`` in [0, 1]. Twice
    differentiable; missing weights are 1."""
    if pred.shape != target.shape or pred.shape[-1] != len(tasks):
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must be "
                         f"[B, {len(tasks)}] for tasks {list(tasks)}")
    target = target.to(pred.dtype)
    regression = torch.tensor([task in REGRESSION_TASKS for task in tasks])
    # PyTorch's BCE clamps the log terms at -100 and its gradient stays finite when a score
    # saturates at 0 or 1 (a hand-written clamp(log p) gives 0 * inf = NaN there)
    bce = F.binary_cross_entropy(pred, target, reduction="none")
    per_task = torch.where(regression, (pred - target).square(), bce).mean(dim=0)  # [T]
    w = torch.tensor([float(weights.get(task, 1.0)) for task in tasks], dtype=pred.dtype)
    if w.sum() <= 0:
        raise ValueError(f"task weights of {list(tasks)} sum to 0")
    return (per_task * w).sum() / w.sum()


class EntireSpaceChain(nn.Module):
    """ESMM (Ma et al., SIGIR 2018) over any backbone: ``[B, T]`` head scores where the child
    head ``long_view`` becomes p(click) x p(long view | click), the backbone's child head being
    the conditional; both losses then run over every impression (no biased subset)."""

    def __init__(self, backbone: nn.Module, tasks: Sequence[str]) -> None:
        super().__init__()
        self.backbone = backbone
        self.child, self.parent = (list(tasks).index(name) for name in ESMM_CHAIN)

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """``[B, T]`` scores in [0, 1], the long-view column chained on the click column."""
        heads = self.backbone(batch)
        factor = torch.ones_like(heads).index_copy(1, torch.tensor([self.child]),
                                                   heads[:, self.parent : self.parent + 1])
        return heads * factor


def fuse_heads(heads: torch.Tensor, tasks: Sequence[str], fusion: Mapping[str, float],
               scale: WatchTimeScale) -> torch.Tensor:
    """Ranking score ``[...]`` of head scores ``[..., T]``: the weighted product
    ``prod_t q_t ** fusion[t]`` with q = p for a positive task, 1 - p for skip and hate, and the
    expected watch time over the scale's cap for watch time (each floored at 1e-6); a
    single-task model ranks by its task's q. A ValueError when every weight is 0."""
    weights = ([1.0] if len(tasks) == 1 else
               [float(fusion.get(task, 0.0)) for task in tasks])
    if sum(weights) <= 0:
        raise ValueError(f"multi_objective.fusion gives every task of {list(tasks)} weight 0")
    log_score = torch.zeros(heads.shape[:-1], dtype=heads.dtype)
    for index, (task, weight) in enumerate(zip(tasks, weights, strict=True)):
        if weight == 0:
            continue
        p = heads[..., index]
        if task in NEGATIVE_TASKS:
            q = 1.0 - p
        elif task == "watch_time":
            q = scale.seconds(p) / scale.cap_s
        else:
            q = p
        log_score = log_score + weight * q.clamp(min=MIN_PROBABILITY).log()
    return log_score.exp()
