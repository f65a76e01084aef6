"""One LabelCraft meta step: upper gradient, meta-gradient through the train batch, steps.

The meta-gradient of the one-step look-ahead ``theta' = theta - lr_rec * grad_theta L(theta, phi)``
with ``L = mean_i l(p_i(theta), y_i(phi))`` (predictions p ``[B]``, labels y = g_phi(feedback)):

    dM(theta')/dphi = -lr_rec * sum_i  v_i * d/dphi [dl/dp (p_i, y_i(phi))] / B,
    v_i = <grad_theta p_i(theta), g>,   g = dM/dtheta' at theta'.

This is exact (no approximation: the mixed second derivative of L factors through the
predictions), and splits a step into two cheap parts:

1. ``upper_gradient``: the virtual step (first order: theta' is a constant of phi's gradient
   here), then the sampled validation users' real items scored with theta' in one forward pass
   in eval mode (``model.eval()`` around ``functional_call``, so an item's score does not
   depend on the other items; the buffers are clones after the virtual training-mode forward),
   the upper objective (``upper_objective``: soft top-k, objective set, detached balancing
   weights) and its first-order backward to theta': ``g``. No graph is kept.
2. ``meta_step``: one training-mode forward of the train batch with forward-mode tangent ``g``
   on the parameters (``torch.autograd.forward_ad``), which yields both the predictions (with
   their reverse-mode graph to theta, reused by the real step) and ``v [B]``; the labeler's
   gradient is then a backward through the labeler only. The labeler moves up it (plain ascent
   with ``lr_label``, or a torch optimizer), then the recommender takes its real step on the new
   labels, and the running statistics of that forward are copied into the model's buffers.

``g`` may be reused for several train batches (``LabelCraftConfig.upper_every``): each step
then costs one forward with a tangent and one backward, instead of a validation pass; the
staleness is measured against the exact meta-gradient (``benchmarks/meta_gradient_fidelity.py``).
Any registry backbone works unchanged through ``torch.func.functional_call``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.autograd.forward_ad as fwad
from torch import nn
from torch.func import functional_call

from labelcraft.config import from_params
from labelcraft.evaluation import EvalOutcomes
from labelcraft.features.tensors import EvalGroups, InteractionTensors
from labelcraft.meta.objectives import (
    OBJECTIVE_SETS,
    OBJECTIVES,
    OutcomeScales,
    balance_weights,
    check_objectives,
    metric_objectives,
    paper_objectives,
)
from labelcraft.meta.soft_topk import soft_ranks
from labelcraft.models import RecBatch, label_loss, make_batch
from labelcraft.models.losses import LOSS_KINDS


@dataclass(frozen=True)
class MetaConfig:
    """Hyper-parameters of one meta step.

    lr_rec: step size of the virtual SGD step (the authors' default 0.1). lr_label: step size of
    the labeler's plain gradient ascent (ignored when an optimizer is given); the authors use
    1e-4 on objectives *summed* over about 400 sampled users, i.e. about 0.04 on the means used
    here. k, epsilon, topk_iters: soft top-k (``labelcraft.meta.soft_topk``). tau, objectives:
    balancing temperature and enabled objectives. objective_set: ``paper`` (M1-M3) or
    ``metrics`` (soft NWTG@k, NEG@k, DS@k; ``labelcraft.meta.objectives``). loss: the
    recommender's label loss. center: remove from the meta-gradient the part that moves every
    label of the train batch by the same amount (its per-label gradient minus its batch mean;
    the ranking metrics do not change when all labels shift alike), so the labeler learns how
    interactions compare, not a drift of the mean label; False is the exact meta-gradient.
    valid_chunk: the sampled validation items are scored with theta' in chunks of at most this
    many (exact: a no-grad pass gives the scores and dM/dscores, then each chunk is recomputed
    with its graph and back-propagated alone), so the memory of the upper level no longer grows
    with the number of sampled items; one pass when they fit in a chunk.
    """

    lr_rec: float = 0.1
    lr_label: float = 0.04
    loss: str = "mse"
    k: int = 10
    epsilon: float = 1e-3
    topk_iters: int = 30
    tau: float = 0.5
    objectives: tuple[str, ...] = OBJECTIVES
    objective_set: str = "paper"
    center: bool = False
    valid_chunk: int = 2048

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        object.__setattr__(self, "objectives", check_objectives(self.objectives))
        if self.objective_set not in OBJECTIVE_SETS:
            raise ValueError(f"MetaConfig.objective_set must be one of {OBJECTIVE_SETS}, got "
                             f"{self.objective_set!r}")
        if not (self.lr_rec > 0 and self.lr_label > 0 and self.epsilon > 0 and self.tau >= 0):
            raise ValueError(f"MetaConfig needs lr_rec, lr_label, epsilon > 0 and tau >= 0, got "
                             f"{self.lr_rec}, {self.lr_label}, {self.epsilon}, {self.tau}")
        for name in ("k", "topk_iters", "valid_chunk"):
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
        cut = EvalOutcomes(*(None if getattr(outcomes, field.name) is None
                             else getattr(outcomes, field.name)[users, :width]
                             for field in dataclasses.fields(EvalOutcomes)))
        return cls(mask, make_batch(tensors, rows, history_length), cut)


@dataclass(frozen=True)
class UpperObjective:
    """The weighted upper objective ``sum_m w_m M_m`` (scalar) with its parts.

    values: per objective name, scalars (graph to the scores); weights: detached, 0 when
    disabled.
    """

    objective: torch.Tensor
    values: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor]


def upper_objective(scores: torch.Tensor, mask: torch.Tensor, outcomes: EvalOutcomes,
                    scales: OutcomeScales, config: MetaConfig) -> UpperObjective:
    """Soft top-k of scores ``[G, M]`` (mask ``[G, M]``), the configured objective set, weights."""
    ranks = soft_ranks(scores, mask, config.k, epsilon=config.epsilon, n_iters=config.topk_iters)
    if config.objective_set == "metrics":
        values = metric_objectives(ranks, mask, outcomes, scales)
    else:
        alpha = ranks.sum(dim=2).clamp(0.0, 1.0).to(scores.dtype)
        values = paper_objectives(alpha, mask, outcomes, scales, config.k)
    weights = balance_weights(values, config.objectives, config.tau)
    objective = torch.stack([weights[name] * values[name] for name in config.objectives]).sum()
    return UpperObjective(objective, values, weights)


@dataclass(frozen=True)
class UpperGradient:
    """``g = dM/dtheta'`` after a virtual step, and the objective it is the gradient of.

    tangent: per trained parameter name, a detached tensor of the parameter's shape (parameters
    without a gradient are absent); objective, values, weights: as ``UpperObjective``, detached.
    """

    tangent: dict[str, torch.Tensor]
    objective: float
    values: dict[str, float]
    weights: dict[str, float]


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


def _trained(model: nn.Module) -> dict[str, nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def upper_gradient(model: nn.Module, labeler: nn.Module, train_batch: RecBatch,
                   train_feedback: torch.Tensor, valid: ValidBatch, config: MetaConfig,
                   scales: OutcomeScales) -> UpperGradient:
    """Virtual step on the train batch ``[B]`` (feedback ``[B, F]``), then ``g`` on ``valid``.

    Nothing is updated: the model's parameters, buffers and mode are left as they were.
    """
    trained = _trained(model)
    params = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: value.detach().clone() for name, value in model.named_buffers()}
    leaves = {name: params[name].clone().requires_grad_() for name in trained}
    with torch.no_grad():
        labels = labeler(train_feedback)
    with _mode(model, True):
        pred = _single_head(functional_call(model, ({**params, **leaves}, buffers),
                                            (train_batch,)), len(train_batch))
    grads = torch.autograd.grad(_loss(pred, labels, config), list(leaves.values()),
                                allow_unused=True)
    updated = {name: (leaves[name].detach() - config.lr_rec * grad
                      if grad is not None else leaves[name].detach()).requires_grad_()
               for name, grad in zip(leaves, grads, strict=True)}
    with _mode(model, False):
        tangent, upper = _valid_tangent(model, {**params, **updated}, buffers, list(updated),
                                        valid, config, scales)
    return UpperGradient(
        tangent=tangent,
        objective=float(upper.objective.detach()),
        values={name: float(value.detach()) for name, value in upper.values.items()},
        weights={name: float(value) for name, value in upper.weights.items()},
    )


def _valid_tangent(model: nn.Module, params: dict[str, torch.Tensor],
                   buffers: dict[str, torch.Tensor], trained: list[str], valid: ValidBatch,
                   config: MetaConfig, scales: OutcomeScales
                   ) -> tuple[dict[str, torch.Tensor], UpperObjective]:
    """``dM/dtheta'`` for the ``trained`` parameters of ``params`` (theta'), and M.

    The model must be in eval mode. At most ``config.valid_chunk`` items are in one forward
    with a graph; with more, the scores ``[G, M]`` come from a no-grad pass, the objective gives
    ``dM/dscores``, and each chunk is recomputed and back-propagated with its part of it.
    """
    n_items, chunk = len(valid.batch), config.valid_chunk
    leaves = [params[name] for name in trained]

    def forward(start: int, stop: int) -> torch.Tensor:
        return _single_head(functional_call(model, (params, buffers),
                                            (valid.batch.slice(start, stop),)), stop - start)

    if n_items <= chunk:
        out = forward(0, n_items)
        scores = out.new_zeros(valid.mask.shape).masked_scatter(valid.mask, out[:, 0])
        upper = upper_objective(scores, valid.mask, valid.outcomes, scales, config)
        grads = torch.autograd.grad(upper.objective, leaves, allow_unused=True)
    else:
        starts = range(0, n_items, chunk)
        with torch.no_grad():
            out = torch.cat([forward(a, min(a + chunk, n_items)) for a in starts])
        scores = out.new_zeros(valid.mask.shape).masked_scatter(valid.mask, out[:, 0])
        scores.requires_grad_()
        upper = upper_objective(scores, valid.mask, valid.outcomes, scales, config)
        (d_scores,) = torch.autograd.grad(upper.objective, scores)
        d_out = d_scores[valid.mask]  # [n_items], in batch order
        sums: list[torch.Tensor | None] = [None] * len(leaves)
        for a in starts:
            b = min(a + chunk, n_items)
            part = torch.autograd.grad(forward(a, b)[:, 0], leaves, grad_outputs=d_out[a:b],
                                       allow_unused=True)
            sums = [g if s is None else (s if g is None else s + g)
                    for s, g in zip(sums, part, strict=True)]
        grads = tuple(sums)
    tangent = {name: g for name, g in zip(trained, grads, strict=True) if g is not None}
    return tangent, upper


@dataclass(frozen=True)
class MetaGradient:
    """d objective / d phi of one train batch, with the forward the real step reuses.

    grads: one tensor per labeler parameter (``labeler.parameters()`` order); pred: ``[B, 1]``
    training-mode predictions at theta (reverse-mode graph to theta); buffers: the buffer clones
    after that forward; virtual_loss: the label loss at theta with the labels before the step.
    """

    grads: tuple[torch.Tensor, ...]
    pred: torch.Tensor
    buffers: dict[str, torch.Tensor]
    virtual_loss: torch.Tensor


def meta_gradient(model: nn.Module, labeler: nn.Module, train_batch: RecBatch,
                  train_feedback: torch.Tensor, upper: UpperGradient,
                  config: MetaConfig) -> MetaGradient:
    """The meta-gradient of the train batch ``[B]`` (feedback ``[B, F]``) for the tangent ``g``.

    One training-mode forward with the tangent (``v [B]``), then a backward through the
    labeler: ``-lr_rec * d/dphi sum_i v_i * dL/dp_i`` (L the batch mean loss), through the
    per-label gradient ``[B]``, centred on its batch mean when ``config.center``.
    """
    params = dict(model.named_parameters())
    buffers = {name: value.detach().clone() for name, value in model.named_buffers()}
    with fwad.dual_level():
        dual = {name: fwad.make_dual(p, upper.tangent[name]) if name in upper.tangent else p
                for name, p in params.items()}
        with _mode(model, True):
            out = functional_call(model, (dual, buffers), (train_batch,))
        pred, tangent = fwad.unpack_dual(out)
        buffers = {name: fwad.unpack_dual(value).primal for name, value in buffers.items()}
    pred = _single_head(pred, len(train_batch))
    if tangent is None:  # no parameter reaches the output: the labels cannot matter
        tangent = torch.zeros_like(pred)
    labels = labeler(train_feedback)
    point = pred.detach().requires_grad_()
    slope = torch.autograd.grad(_loss(point, labels, config), point, create_graph=True)[0]
    meta = -config.lr_rec * (slope * tangent.detach()).sum()
    # d objective / d label [B]: what each label of the batch should do
    (per_label,) = torch.autograd.grad(meta, labels, retain_graph=True)
    if config.center:
        per_label = per_label - per_label.mean()
    phi = [p for p in labeler.parameters() if p.requires_grad]
    grads = torch.autograd.grad(labels, phi, grad_outputs=per_label, allow_unused=True)
    return MetaGradient(
        grads=tuple(torch.zeros_like(p) if g is None else g for p, g in zip(phi, grads,
                                                                           strict=True)),
        pred=pred, buffers=buffers, virtual_loss=_loss(pred.detach(), labels.detach(), config))


def meta_step(model: nn.Module, labeler: nn.Module, train_batch: RecBatch,
              train_feedback: torch.Tensor, upper: UpperGradient, config: MetaConfig,
              rec_optimizer: torch.optim.Optimizer,
              label_optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
    """One bi-level step with the upper gradient ``upper``; updates the labeler, then theta.

    Returns floats to log: loss (real step, labels of the new phi), virtual_loss, meta_grad_norm
    (L2 norm of d objective / d phi), and ``upper``'s objective, values and weights
    (``weight_<name>``).
    """
    step = meta_gradient(model, labeler, train_batch, train_feedback, upper, config)
    phi = [p for p in labeler.parameters() if p.requires_grad]
    if label_optimizer is None:
        with torch.no_grad():
            for p, g in zip(phi, step.grads, strict=True):
                p.add_(g, alpha=config.lr_label)
    else:
        label_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(phi, step.grads, strict=True):
            p.grad = -g  # optimizers minimise: ascend the objective
        label_optimizer.step()
    with torch.no_grad():
        labels = labeler(train_feedback)
    loss = _loss(step.pred, labels, config)
    rec_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    rec_optimizer.step()
    with torch.no_grad():
        for name, value in model.named_buffers():
            value.copy_(step.buffers[name])
    return {
        "loss": float(loss.detach()),
        "virtual_loss": float(step.virtual_loss),
        "meta_grad_norm": float(torch.sqrt(sum(g.square().sum() for g in step.grads))),
        "objective": upper.objective,
        **upper.values,
        **{f"weight_{name}": value for name, value in upper.weights.items()},
    }
