"""The LabelCraft meta-training loop: recommender and labeler trained together, early-stopped.

Each epoch visits the train rows once in shuffled mini-batches (order from a generator seeded
with ``seed``). Every ``meta_every``-th batch (the first of each epoch included) runs a bi-level
``meta_step``; the other batches are plain recommender steps on the current labeler's labels (no
graph to phi). ``meta_every = 1`` is the paper. The upper gradient dM/dtheta' of a meta step
(``upper_gradient``: a virtual step and the scoring of a fresh sample of ``valid_sample_ratio``
of the validation users, drawn from a second seeded generator) is recomputed on every
``upper_every``-th meta step (the first of each epoch included) and reused by the meta steps
between, which then cost one forward with a tangent and one backward through the train batch
(``labelcraft.meta.bilevel``). ``upper_every = 1`` is exact.

After each epoch the validation users are scored with the recommender in eval mode and ranked
by HARD top-k (``labelcraft.recommender.score_groups`` / ``epoch_metrics``); the epoch with the
best ``trainer.eval_metric`` (NWTG@10 by default) keeps tensor copies of both the recommender
and the labeler, training stops after ``trainer.patience`` epochs without improvement, and both
best states are loaded back. The soft upper objective on the same scores (all validation users,
no virtual step) is logged as well, so its rise can be followed, and so are the statistics of
the labels on the train rows (``label_statistics``): their mean, std and correlations with the
raw outcomes, from epoch 0 (the labeler before meta-learning).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from labelcraft.config import from_params
from labelcraft.features.tensors import InteractionTensors
from labelcraft.labels import LABEL_RULES, fit_labels
from labelcraft.meta.bilevel import (
    MetaConfig,
    UpperGradient,
    ValidBatch,
    meta_step,
    upper_gradient,
    upper_objective,
)
from labelcraft.meta.labeler import Labeler, LabelerConfig, fit_to_labels, label_statistics
from labelcraft.meta.objectives import OBJECTIVES, OutcomeScales
from labelcraft.models import ModelSpec, make_batch
from labelcraft.recommender import (
    EvalSet,
    TrainConfig,
    build_seeded_model,
    check_training_inputs,
    epoch_metrics,
    plain_step,
    score_groups,
    train_until_stale,
)

logger = logging.getLogger(__name__)

LABEL_OPTIMIZERS = ("sgd", "adam", "none")
META_CURVES: tuple[str, ...] = (
    "virtual_loss", "meta_grad_norm", "objective", *OBJECTIVES,
    *(f"weight_{name}" for name in OBJECTIVES))
"""Keys of a history entry that are means over the epoch's meta steps (the objective, its
values and weights over the steps that recomputed the upper gradient)."""
_NESTED = {"meta": MetaConfig, "labeler": LabelerConfig, "trainer": TrainConfig}


@dataclass(frozen=True)
class LabelCraftConfig:
    """Everything of one LabelCraft run.

    meta: the bi-level step (``MetaConfig``); its ``loss`` is also the loss of the plain steps
    and must equal ``trainer.loss``. labeler: g_phi (``LabelerConfig``). trainer: batch_size,
    lr / weight_decay (the recommender's Adam), max_epochs, patience, min_delta,
    history_length, k, eval_metric, eval_batch_users (``TrainConfig``).
    valid_sample_ratio: share of the validation users sampled per meta step (at least one).
    meta_every: a meta step every m-th train batch, plain steps on the current labels between.
    upper_every: the upper gradient (virtual step + sampled validation users) recomputed every
    u-th meta step and reused by the meta steps between (1 = exact).
    label_optimizer: "sgd" (plain ascent with ``meta.lr_label``) or "adam" (same rate); "none"
    runs no meta step at all, so the labeler keeps its initial weights: the control that shows
    what meta-learning adds over a recommender trained on the initial labeler's labels.
    warm_start: None (the paper: the labeler starts at its seeded random weights) or the name of
    a single label rule (``labelcraft.labels.LABEL_RULES``, e.g. "WT") the labeler is first
    regressed on over the train rows, ``warm_start_steps`` Adam steps at 1e-3 on batches of
    1024: meta-learning then starts from the rule it should beat.
    """

    meta: MetaConfig = field(default_factory=MetaConfig)
    labeler: LabelerConfig = field(default_factory=LabelerConfig)
    trainer: TrainConfig = field(default_factory=TrainConfig)
    valid_sample_ratio: float = 0.5
    meta_every: int = 1
    upper_every: int = 1
    label_optimizer: str = "sgd"
    warm_start: str | None = None
    warm_start_steps: int = 500

    def __post_init__(self) -> None:
        """Check ranges, names and the loss agreement."""
        if not 0 < self.valid_sample_ratio <= 1:
            raise ValueError(f"LabelCraftConfig.valid_sample_ratio must be in (0, 1], got "
                             f"{self.valid_sample_ratio}")
        for name in ("meta_every", "upper_every"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"LabelCraftConfig.{name} must be a positive integer, got "
                                 f"{value}")
        if self.warm_start is not None and self.warm_start not in LABEL_RULES:
            raise ValueError(f"LabelCraftConfig.warm_start must be null or one of "
                             f"{list(LABEL_RULES)}, got {self.warm_start!r}")
        if int(self.warm_start_steps) != self.warm_start_steps or self.warm_start_steps < 0:
            raise ValueError(f"LabelCraftConfig.warm_start_steps must be an integer >= 0, got "
                             f"{self.warm_start_steps}")
        if self.label_optimizer not in LABEL_OPTIMIZERS:
            raise ValueError(f"LabelCraftConfig.label_optimizer must be one of "
                             f"{LABEL_OPTIMIZERS}, got {self.label_optimizer!r}")
        if self.meta.loss != self.trainer.loss:
            raise ValueError(f"meta.loss ({self.meta.loss!r}) and trainer.loss "
                             f"({self.trainer.loss!r}) must agree: both train the recommender")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> LabelCraftConfig:
        """Build from a parameters mapping with nested ``meta`` / ``labeler`` / ``trainer``.

        Unknown keys at any level raise a ValueError listing the valid ones.
        """
        params = dict(params or {})
        for key, nested in _NESTED.items():
            if key in params:
                params[key] = nested.from_dict(params[key])
        return from_params(cls, params, "labelcraft parameter")

    def with_history_length(self, default: int) -> LabelCraftConfig:
        """Copy whose trainer's ``history_length`` None is resolved to ``default``."""
        return dataclasses.replace(self, trainer=self.trainer.resolve_history_length(default))


@dataclass
class LabelCraftResult:
    """A meta-trained recommender and labeler (best validation states restored).

    history: one dict per epoch: epoch, train_loss (mean real-step loss over all batches),
    meta_steps, upper_refreshes, virtual_loss and meta_grad_norm (means over the meta steps),
    objective, one per objective (``usage_time``, ``engagement``, ``duration_spread``) and
    ``weight_<name>`` (means over the upper-gradient refreshes), valid_<metric> for NWTG@k,
    NEG@k, DS@k (hard top-k), valid_objective and valid_<objective> (soft top-k on all
    validation users), label_mean, label_std, label_corr_<outcome> (``label_statistics`` of the
    labeler on the train rows after the epoch), train_seconds, seconds. start: the same valid_*
    and label_* entries for the initial model and labeler. labels: ``[T]`` float32 labels of the
    best labeler for ``train_rows [T]``. best_scores: validation scores ``[G, M]`` of the best
    epoch.
    """

    model: nn.Module
    labeler: Labeler
    train_rows: torch.Tensor
    labels: torch.Tensor
    history: list[dict[str, float | int]]
    start: dict[str, float]
    best_epoch: int
    best_metric: float
    best_scores: torch.Tensor


def validation_objective(scores: torch.Tensor, valid: EvalSet, meta: MetaConfig,
                         scales: OutcomeScales) -> dict[str, float]:
    """Soft upper objective of validation scores ``[G, M]``: ``objective`` and M1..M3 by name.

    Soft top-k of every user, the enabled objectives weighted by their detached balancing
    weights, as in the meta step (without the virtual step).
    """
    with torch.no_grad():
        upper = upper_objective(scores.to(torch.float64), valid.groups.mask, valid.outcomes,
                                scales, meta)
    return {"objective": float(upper.objective),
            **{name: float(upper.values[name]) for name in OBJECTIVES}}


def _validate(model: nn.Module, tensors: InteractionTensors, valid: EvalSet,
              config: LabelCraftConfig, scales: OutcomeScales,
              history_length: int) -> tuple[torch.Tensor, dict[str, float]]:
    """Validation scores ``[G, M]`` and their valid_* hard metrics and soft objectives."""
    trainer = config.trainer
    scores = score_groups(model, tensors, valid.groups, history_length,
                          batch_users=trainer.eval_batch_users)
    metrics = epoch_metrics(scores, valid, trainer.k)
    soft = validation_objective(scores, valid, config.meta, scales)
    return scores, {**{f"valid_{name}": value for name, value in metrics.items()},
                    **{f"valid_{name}": value for name, value in soft.items()}}


@dataclass
class _Loop:
    """The mutable pieces of one run that every epoch uses."""

    model: nn.Module
    labeler: Labeler
    tensors: InteractionTensors
    valid: EvalSet
    scales: OutcomeScales
    config: LabelCraftConfig
    history_length: int
    rec_optimizer: torch.optim.Optimizer
    label_optimizer: torch.optim.Optimizer | None
    order_generator: torch.Generator
    valid_generator: torch.Generator

    def epoch(self, train_rows: torch.Tensor, description: str) -> dict[str, float | int]:
        """One pass over the shuffled train rows; the epoch's train entries of the history."""
        config, trainer = self.config, self.config.trainer
        order = train_rows[torch.randperm(len(train_rows), generator=self.order_generator)]
        n_batches = -(-len(order) // trainer.batch_size)
        n_users = len(self.valid)
        n_sample = max(1, round(config.valid_sample_ratio * n_users))
        sums: dict[str, float] = defaultdict(float)
        loss_sum, meta_steps, refreshes = 0.0, 0, 0
        upper: UpperGradient | None = None
        self.model.train()
        bar = tqdm(range(n_batches), desc=description, leave=False, mininterval=1.0)
        for step in bar:
            rows = order[step * trainer.batch_size : (step + 1) * trainer.batch_size]
            batch = make_batch(self.tensors, rows, self.history_length)
            feedback = self.tensors.feedback[rows]
            if config.label_optimizer != "none" and step % config.meta_every == 0:
                if upper is None or meta_steps % config.upper_every == 0:
                    users = torch.randperm(n_users, generator=self.valid_generator)[:n_sample]
                    valid = ValidBatch.from_groups(self.tensors, self.valid.groups,
                                                   self.valid.outcomes, users,
                                                   self.history_length)
                    upper = upper_gradient(self.model, self.labeler, batch, feedback, valid,
                                           config.meta, self.scales)
                    refreshes += 1
                    sums["objective"] += upper.objective
                    for name in OBJECTIVES:
                        sums[name] += upper.values[name]
                        sums[f"weight_{name}"] += upper.weights[name]
                logged = meta_step(self.model, self.labeler, batch, feedback, upper, config.meta,
                                   self.rec_optimizer, self.label_optimizer)
                loss = logged["loss"]
                sums["virtual_loss"] += logged["virtual_loss"]
                sums["meta_grad_norm"] += logged["meta_grad_norm"]
                meta_steps += 1
            else:
                with torch.no_grad():
                    labels = self.labeler(feedback).unsqueeze(1).to(torch.float32)
                loss = plain_step(self.model, self.rec_optimizer, batch, labels,
                                  config.meta.loss)
            loss_sum += loss
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss_sum / (step + 1):.4f}", refresh=False)
        bar.close()
        per_step = ("virtual_loss", "meta_grad_norm")
        return {"train_loss": loss_sum / n_batches, "meta_steps": meta_steps,
                "upper_refreshes": refreshes,
                **{name: value / (meta_steps if name in per_step else refreshes)
                   for name, value in sums.items()}}


def initial_labeler(config: LabelCraftConfig, train_feedback: torch.Tensor,
                    columns: Sequence[str], seed: int,
                    rule_params: Mapping[str, Mapping[str, Any]] | None = None,
                    description: str = "labelcraft") -> Labeler:
    """The labeler before meta-learning: weights drawn from ``seed``, input scaling fitted on the
    train feedback ``[T, F]`` (columns ``columns``), then the warm start if configured."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        labeler = Labeler(config.labeler, columns).fit_scaling(train_feedback)
    if config.warm_start is not None:
        frame = pd.DataFrame(train_feedback.numpy(), columns=list(columns))
        rule = config.warm_start
        params = {name: value for name, value in (rule_params or {}).items() if name == rule}
        targets = torch.from_numpy(fit_labels(rule, frame, params)(frame)[:, 0])
        error = fit_to_labels(labeler, train_feedback, targets, config.warm_start_steps,
                              torch.Generator().manual_seed(seed + 2))
        logger.info("%s: labeler warm-started on %s labels (%d steps, MSE %.5f)", description,
                    rule, config.warm_start_steps, error)
    return labeler


def train_labelcraft(
    tensors: InteractionTensors,
    train_rows: torch.Tensor,
    valid: EvalSet,
    *,
    model_name: str,
    model_params: Mapping[str, Any] | None,
    spec: ModelSpec,
    config: LabelCraftConfig,
    seed: int,
    description: str = "labelcraft",
    rule_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> LabelCraftResult:
    """Meta-train a one-head registry recommender and a labeler on ``train_rows [T]``.

    Args:
        tensors: every interaction's row tensors (``InteractionTensors``).
        train_rows: ``[T]`` rows to train on; valid: the validation users (meta steps, stopping).
        model_name, model_params: the backbone, ``build_seeded_model(..., 1, seed)``.
        spec: vocabulary sizes of the features.
        config: the run; ``config.trainer.history_length`` must be resolved (not None).
        seed: model and labeler initialisation; shuffling and validation sampling use their own
            generators seeded from it: on CPU the same seed and thread count give the same
            numbers.
        description: prefix of log lines and progress bars.
        rule_params: the rules' fit parameters, for the warm start (``initial_labeler``).

    The epochs run through ``labelcraft.recommender.train_until_stale`` (the rule trainer's
    loop) with the recommender and the labeler as the modules whose best states are kept.
    """
    trainer = config.trainer
    history_length = trainer.history_length
    train_rows = check_training_inputs(train_rows, valid, history_length)
    columns = list(tensors.feedback_columns)
    train_feedback = tensors.feedback[train_rows]
    scales = OutcomeScales.fit(train_feedback[:, columns.index("play_time_s")].numpy(),
                               train_feedback[:, columns.index("duration_s")].numpy())
    model = build_seeded_model(model_name, spec, model_params, 1, seed)
    labeler = initial_labeler(config, train_feedback, columns, seed, rule_params, description)
    label_optimizer = (torch.optim.Adam(labeler.parameters(), lr=config.meta.lr_label)
                       if config.label_optimizer == "adam" else None)
    loop = _Loop(
        model=model, labeler=labeler, tensors=tensors, valid=valid, scales=scales,
        config=config, history_length=history_length,
        rec_optimizer=torch.optim.Adam(model.parameters(), lr=trainer.lr,
                                       weight_decay=trainer.weight_decay),
        label_optimizer=label_optimizer,
        order_generator=torch.Generator().manual_seed(seed),
        valid_generator=torch.Generator().manual_seed(seed + 1),
    )

    def validate() -> tuple[torch.Tensor, dict[str, float]]:
        scores, metrics = _validate(model, tensors, valid, config, scales, history_length)
        with torch.no_grad():
            metrics |= label_statistics(labeler(train_feedback), train_feedback, columns)
        logger.info("%s: valid objective %.4f, labels %.3f +- %.3f", description,
                    metrics["valid_objective"], metrics["label_mean"], metrics["label_std"])
        return scores, metrics

    _, start = validate()
    stopped = train_until_stale(
        {"model": model, "labeler": labeler},
        lambda epoch: loop.epoch(train_rows, f"{description} epoch {epoch}"),
        validate, trainer, description)
    with torch.no_grad():
        labels = labeler(train_feedback).to(torch.float32)
    return LabelCraftResult(model=model, labeler=labeler, train_rows=train_rows, labels=labels,
                            history=stopped.history, start=start, best_epoch=stopped.best_epoch,
                            best_metric=stopped.best_metric,
                            best_scores=stopped.best_scores)  # type: ignore[arg-type]
