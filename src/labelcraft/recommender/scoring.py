"""Batched eval-mode scoring of padded evaluation groups, and their per-epoch metrics."""

from __future__ import annotations

from collections.abc import Sequence
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


def score_groups(
    model: nn.Module,
    tensors: InteractionTensors,
    groups: EvalGroups,
    history_length: int,
    *,
    batch_users: int = 256,
    head_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Ranking scores `[G, M]` float32 of every real slot of the groups (0 on padding).

    The model runs in eval mode without gradients (its mode is restored afterwards), so a
    row's score does not depend on the other rows of the batch. Users are taken `batch_users`
    at a time; each user batch is cut to its own longest group and only its real rows go
    through one forward pass, so padding never reaches the model. Multi-head outputs `[B, H]`
    are mixed into one score by `mix_heads(·, head_weights)` (default: mean of the heads).
    """
    if batch_users < 1:
        raise ValueError(f"batch_users must be >= 1, got {batch_users}")
    scores = torch.zeros(groups.mask.shape, dtype=torch.float32)
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
                heads = model(make_batch(tensors, rows, history_length))  # [R, H]
                block = scores[start : start + batch_users, :width]
                block[mask] = mix_heads(heads, head_weights).to(torch.float32)
    finally:
        model.train(was_training)
    return scores


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
