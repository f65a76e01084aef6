"""Batched eval-mode scoring of padded evaluation groups, and their per-epoch metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from labelcraft.evaluation import EvalOutcomes, topk_metrics
from labelcraft.features.tensors import EvalGroups, InteractionTensors
from labelcraft.labels import mix_heads
from labelcraft.models import make_batch


@dataclass(frozen=True)
class EvalSet:
    """One split's evaluation users: padded groups `[G, M]` and their observed outcomes."""

    groups: EvalGroups
    outcomes: EvalOutcomes

    @classmethod
    def from_frames(cls, eval_groups: pd.DataFrame, feedback: pd.DataFrame) -> EvalSet:
        """From a features `eval_groups_<split>` table and the row-aligned `feedback` table."""
        groups = EvalGroups.from_frame(eval_groups)
        return cls(groups, EvalOutcomes.from_feedback(groups.rows, groups.mask, feedback))

    def __len__(self) -> int:
        """Number of users G."""
        return len(self.groups.user_idx)


Ranking = Callable[[torch.Tensor], torch.Tensor]
"""How a model's head scores ``[..., H]`` become one ranking score ``[...]``."""


def predict_groups(
    model: nn.Module,
    tensors: InteractionTensors,
    groups: EvalGroups,
    history_length: int,
    *,
    batch_users: int = 256,
) -> torch.Tensor:
    """Head scores `[G, M, H]` float32 of every real slot of the groups (0 on padding).

    The model runs in eval mode without gradients (its mode is restored afterwards), so a
    row's score does not depend on the other rows of the batch. Users are taken `batch_users`
    at a time; each user batch is cut to its own longest group and only its real rows go
    through one forward pass, so padding never reaches the model.
    """
    if batch_users < 1:
        raise ValueError(f"batch_users must be >= 1, got {batch_users}")
    heads: torch.Tensor | None = None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(groups.mask), batch_users):
                mask = groups.mask[start : start + batch_users]
                width = int(mask.sum(dim=1).max()) if len(mask) else 0
                if width == 0:
                    continue
                mask = mask[:, :width]
                rows = groups.rows[start : start + batch_users, :width][mask]
                out = model(make_batch(tensors, rows, history_length))  # [R, H]
                if heads is None:
                    heads = torch.zeros((*groups.mask.shape, out.shape[-1]), dtype=torch.float32)
                block = heads[start : start + batch_users, :width]
                block[mask] = out.to(torch.float32)
    finally:
        model.train(was_training)
    return heads if heads is not None else torch.zeros((*groups.mask.shape, 1))


def rank_heads(heads: torch.Tensor, mask: torch.Tensor, *,
               head_weights: Sequence[float] | None = None,
               ranking: Ranking | None = None) -> torch.Tensor:
    """Ranking scores `[G, M]` (0 on padding) of head scores `[G, M, H]`: ``ranking`` of the
    heads, or their mean weighted by ``head_weights`` (`mix_heads`; default: plain mean)."""
    scores = ranking(heads) if ranking is not None else mix_heads(heads, head_weights)
    return torch.where(mask, scores.to(torch.float32), 0.0)


def score_groups(
    model: nn.Module,
    tensors: InteractionTensors,
    groups: EvalGroups,
    history_length: int,
    *,
    batch_users: int = 256,
    head_weights: Sequence[float] | None = None,
    ranking: Ranking | None = None,
) -> torch.Tensor:
    """Ranking scores `[G, M]` float32 of every real slot (0 on padding): `predict_groups`
    then `rank_heads` (multi-head outputs mixed by ``ranking`` or ``head_weights``)."""
    heads = predict_groups(model, tensors, groups, history_length, batch_users=batch_users)
    return rank_heads(heads, groups.mask, head_weights=head_weights, ranking=ranking)


def epoch_metrics(scores: torch.Tensor, eval_set: EvalSet, k: int) -> dict[str, float]:
    """Plain means over users of NWTG@k, NEG@k and DS@k for scores `[G, M]`."""
    outcomes = eval_set.outcomes
    per_user = topk_metrics(
        scores,
        eval_set.groups.mask,
        outcomes.watch_time,
        outcomes.ef,
        outcomes.duration_s,
        k=k,
    )
    return {name: float(values.mean()) for name, values in per_user.items()}
