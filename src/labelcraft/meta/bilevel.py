"""One LabelCraft meta step: virtual step, upper objective, labeler step, real step.

1. Virtual step: ``theta' = theta - lr_rec * grad_theta L(f_theta(x), g_phi(y))`` with the
   graph kept (``create_graph=True``), through ``torch.func.functional_call`` so any registry
   backbone works unchanged. The forward runs in training mode on *clones* of the buffers: the
   real running statistics (DIN's Dice) do not move.
2. Upper objective: the sampled validation users' real items are scored with theta' in one
   forward pass in eval mode (``model.eval()`` around ``functional_call``: Dice uses its running
   statistics, so an item's score does not depend on the other items; eval mode does not stop
   gradients, which flow to theta' and on to phi). The buffers used are the clones after the
   virtual forward, i.e. the state the model would have after that step. Then the batched soft
   top-k, the three objectives and their detached balancing weights
   (``labelcraft.meta.objectives``).
3. Labeler step: phi moves up the gradient of the weighted objective: plain ascent with
   ``lr_label``, or any torch optimizer given (it receives the negated gradient).
4. Real step: labels recomputed with the new phi (no graph); theta is updated on them by the
   recommender's optimizer. The training-mode forward of step 1 (same theta, same batch) is
   reused instead of run again, and its running statistics are copied into the model's
   buffers, which is exactly what a separate forward would have done.

No model copy and no loop over users: one train forward with a double backward, one
validation forward and backward, one soft top-k.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from labelcraft.config import from_params
from labelcraft.evaluation import EvalOutcomes
from labelcraft.features.tensors import EvalGroups, InteractionTensors
from labelcraft.meta.objectives import (
    OBJECTIVES,
    OutcomeScales,
    balance_weights,
    check_objectives,
    objective_values,
)
from labelcraft.meta.soft_topk import soft_topk
from labelcraft.models import RecBatch, label_loss, make_batch
from labelcraft.models.losses import LOSS_KINDS


@dataclass(frozen=True)
class MetaConfig:
    """Hyper-parameters of one meta step.

    lr_rec: step size of the virtual SGD step (the authors' default 0.1). lr_label: step size of
    the labeler's plain gradient ascent (ignored when an optimizer is given); the authors use
    1e-4 on objectives *summed* over about 400 sampled users, i.e. about 0.04 on the means used
    here. k, epsilon, topk_iters: soft top-k (``labelcraft.meta.soft_topk``). tau, objectives:
    balancing temperature and enabled objectives. loss: the recommender's label loss.
    """

    lr_rec: float = 0.1
    lr_label: float = 0.04
    loss: str = "mse"
    k: int = 10
    epsilon: float = 1e-3
    topk_iters: int = 30
    tau: float = 0.5
    objectives: tuple[str, ...] = OBJECTIVES

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        object.__setattr__(self, "objectives", check_objectives(self.objectives))
        if not (self.lr_rec > 0 and self.lr_label > 0 and self.epsilon > 0 and self.tau >= 0):
            raise ValueError(f"MetaConfig needs lr_rec, lr_label, epsilon > 0 and tau >= 0, got "
                             f"{self.lr_rec}, {self.lr_label}, {self.epsilon}, {self.tau}")
        for name in ("k", "topk_iters"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"MetaConfig.{name} must be a positive integer, got {value}")
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"MetaConfig.loss must be one of {LOSS_KINDS}, got {self.loss!r}")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> MetaConfig:
        """Build from a parameters mapping; unknown keys raise a ValueError listing valid ones."""
        return from_params(cls, params, "meta parameter")


@dataclass(frozen=True)
class ValidBatch:
    """Sampled validation users: mask ``[G, M]``, the batch of their real slots, outcomes.

    ``batch`` holds the real slots in mask order (row-major), so its scores fill ``mask``.
    """

    mask: torch.Tensor
    batch: RecBatch
    outcomes: EvalOutcomes

    @classmethod
    def from_groups(cls, tensors: InteractionTensors, groups: EvalGroups, outcomes: EvalOutcomes,
                    users: torch.Tensor, history_length: int) -> ValidBatch:
        """The users ``[G]`` (indices into ``groups``), cut to their longest item list."""
        users = torch.as_tensor(users, dtype=torch.long)
        mask = groups.mask[users]
        width = int(mask.sum(dim=1).max()) if len(users) else 0
        mask = mask[:, :width]
        rows = groups.rows[users, :width][mask]
        cut = EvalOutcomes(*(getattr(outcomes, field.name)[users, :width]
                             for field in dataclasses.fields(EvalOutcomes)))
        return cls(mask, make_batch(tensors, rows, history_length), cut)


@dataclass(frozen=True)
class UpperLevel:
    """The upper objective after a virtual step, with what the real step reuses.

    objective: scalar ``sum_m w_m M_m`` (graph to phi); values, weights: per objective (weights
    detached, 0 when disabled); virtual_loss: the label loss at theta; pred: ``[B, 1]`` the
    training-mode train forward at theta (graph to theta); buffers: the buffer clones after it.
    """

    objective: torch.Tensor
    values: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor]
    virtual_loss: torch.Tensor
    pred: torch.Tensor
    buffers: dict[str, torch.Tensor]


@contextmanager
def _mode(model: nn.Module, training: bool) -> Iterator[None]:
    """Run the block with ``model`` in training or eval mode, then restore its mode."""
    was_training = model.training
    model.train(training)
    try:
        yield
    finally:
        model.train(was_training)


def _single_head(output: torch.Tensor, rows: int) -> torch.Tensor:
    if output.shape != (rows, 1):
        raise ValueError(f"the recommender must output one head [B, 1] for meta-learning, got "
                         f"{tuple(output.shape)} for {rows} rows")
    return output


def _loss(pred: torch.Tensor, labels: torch.Tensor, config: MetaConfig) -> torch.Tensor:
    """Label loss of predictions ``[B, 1]`` against labels ``[B]``."""
    return label_loss(pred, labels.unsqueeze(1).to(pred.dtype), config.loss)  # type: ignore[arg-type]


def upper_level(model: nn.Module, labeler: nn.Module, train_batch: RecBatch,
                train_feedback: torch.Tensor, valid: ValidBatch, config: MetaConfig,
                scales: OutcomeScales) -> UpperLevel:
    """Virtual step on the train batch ``[B]`` (feedback ``[B, F]``) and upper objective.

    Nothing is updated: the model's parameters, buffers and mode are left as they were.
    """
    params = dict(model.named_parameters())
    buffers = {name: value.detach().clone() for name, value in model.named_buffers()}
    labels = labeler(train_feedback)
    with _mode(model, True):
        pred = _single_head(functional_call(model, (params, buffers), (train_batch,)),
                            len(train_batch))
    virtual_loss = _loss(pred, labels, config)
    trained = [name for name, value in params.items() if value.requires_grad]
    grads = torch.autograd.grad(virtual_loss, [params[name] for name in trained],
                                create_graph=True, allow_unused=True)
    updated = dict(params)
    for name, grad in zip(trained, grads, strict=True):
        if grad is not None:
            updated[name] = params[name] - config.lr_rec * grad
    with _mode(model, False):
        out = _single_head(functional_call(model, (updated, buffers), (valid.batch,)),
                           len(valid.batch))
    scores = out.new_zeros(valid.mask.shape).masked_scatter(valid.mask, out[:, 0])
    alpha = soft_topk(scores, valid.mask, config.k, epsilon=config.epsilon,
                      n_iters=config.topk_iters)
    values = objective_values(alpha, valid.mask, valid.outcomes, scales, config.k)
    weights = balance_weights(values, config.objectives, config.tau)
    objective = torch.stack([weights[name] * values[name] for name in config.objectives]).sum()
    return UpperLevel(objective, values, weights, virtual_loss, pred, buffers)


def meta_step(model: nn.Module, labeler: nn.Module, train_batch: RecBatch,
              train_feedback: torch.Tensor, valid: ValidBatch, config: MetaConfig,
              scales: OutcomeScales, rec_optimizer: torch.optim.Optimizer,
              label_optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
    """One bi-level step; updates the labeler, then the recommender. Returns floats to log.

    Keys: loss (real step, labels of the new phi), virtual_loss, objective, one per objective
    (M1..M3 by name) and ``weight_<name>``.
    """
    upper = upper_level(model, labeler, train_batch, train_feedback, valid, config, scales)
    phi = [p for p in labeler.parameters() if p.requires_grad]
    grads = torch.autograd.grad(upper.objective, phi, retain_graph=True, allow_unused=True)
    grads = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(phi, grads, strict=True))
    if label_optimizer is None:
        with torch.no_grad():
            for p, g in zip(phi, grads, strict=True):
                p.add_(g, alpha=config.lr_label)
    else:
        label_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(phi, grads, strict=True):
            p.grad = -g  # optimizers minimise: ascend the objective
        label_optimizer.step()
    with torch.no_grad():
        labels = labeler(train_feedback)
    loss = _loss(upper.pred, labels, config)
    rec_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    rec_optimizer.step()
    with torch.no_grad():
        for name, value in model.named_buffers():
            value.copy_(upper.buffers[name])
    return {
        "loss": float(loss.detach()),
        "virtual_loss": float(upper.virtual_loss.detach()),
        "objective": float(upper.objective.detach()),
        **{name: float(value.detach()) for name, value in upper.values.items()},
        **{f"weight_{name}": float(value) for name, value in upper.weights.items()},
    }
