"""The upper-level objectives of LabelCraft on a batch of validation users, and their balance.

For G users with padded items ``[G, M]`` (mask), soft top-k memberships ``alpha [G, M]`` (0 on
padding) and observed outcomes, each objective is a mean over users (higher is better):

- ``usage_time`` (M1): ``sum_i alpha_i / k * scale_w(watch time_i)``;
- ``engagement`` (M2): ``sum_i alpha_i / k * EF_i`` (EF = like or follow or comment);
- ``duration_spread`` (M3): population standard deviation (ddof = 0) over the user's real
  items of ``alpha_i * scale_d(duration_i)`` (as in the authors' code, items outside the top k
  count as 0; they use ddof = 1 over the same items).

``scale_w`` and ``scale_d`` are piecewise scales (``labelcraft.labels.scaling``) fitted on the
train watch times and durations. The authors' release sums over users; the mean used here makes
the objectives, and so the labeler's step, independent of the number of sampled users.

Adaptive balancing: weights ``softmax(-tau * M)`` over the enabled objectives (0 for disabled
ones; tau = 0 gives equal weights). They are constants of the labeler's update (detached), as in
the paper and the authors' code, which move phi along ``sum_m w_m grad M_m``: the weights
choose the direction, they are not themselves optimised (a gradient through them would only push
the objectives towards each other). Unlike the authors' code, the objective values are not
multiplied by 10 until the smallest exceeds 1 before the softmax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from labelcraft.evaluation import EvalOutcomes
from labelcraft.labels.scaling import PiecewiseScale, fit_piecewise

OBJECTIVES = ("usage_time", "engagement", "duration_spread")


@dataclass(frozen=True)
class OutcomeScales:
    """Piecewise scales of watch time (M1) and duration (M3), fitted on train rows."""

    watch_time: PiecewiseScale
    duration: PiecewiseScale

    @classmethod
    def fit(cls, play_time_s: np.ndarray, duration_s: np.ndarray, b_quantile: float = 0.5,
            max_quantile: float = 0.99) -> OutcomeScales:
        """Fit both scales on the train watch times and durations (seconds, ``[N]`` each)."""
        return cls(fit_piecewise(play_time_s, b_quantile, max_quantile),
                   fit_piecewise(duration_s, b_quantile, max_quantile))


def check_objectives(names: Sequence[str]) -> tuple[str, ...]:
    """Validated tuple of enabled objective names (non-empty, known, no repeats)."""
    names = tuple(names)
    unknown = sorted(set(names) - set(OBJECTIVES))
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"objectives must be distinct names among {', '.join(OBJECTIVES)}, "
                         f"at least one; got {list(names)}")
    return names


def objective_values(alpha: torch.Tensor, mask: torch.Tensor, outcomes: EvalOutcomes,
                     scales: OutcomeScales, k: int) -> dict[str, torch.Tensor]:
    """M1, M2, M3 (scalars, differentiable in ``alpha [G, M]``) keyed by ``OBJECTIVES``."""
    if alpha.shape != mask.shape or outcomes.watch_time.shape != mask.shape:
        raise ValueError(f"alpha {tuple(alpha.shape)}, mask {tuple(mask.shape)} and outcomes "
                         f"{tuple(outcomes.watch_time.shape)} must all be [G, M]")
    dtype = alpha.dtype
    alpha = torch.where(mask, alpha, 0.0)
    watch = scales.watch_time(outcomes.watch_time.to(dtype))
    ef = outcomes.ef.to(dtype)
    spread = alpha * torch.where(mask, scales.duration(outcomes.duration_s.to(dtype)), 0.0)
    count = mask.sum(dim=1).to(dtype)
    mean = spread.sum(dim=1) / count
    variance = (torch.where(mask, spread - mean.unsqueeze(1), 0.0).square()).sum(dim=1) / count
    # sqrt has an infinite slope at 0: a user whose product is constant contributes 0, grad 0
    positive = variance > 0
    std = torch.where(positive, torch.sqrt(torch.where(positive, variance, 1.0)), 0.0)
    return {
        "usage_time": (alpha * watch).sum(dim=1).mean() / k,
        "engagement": (alpha * ef).sum(dim=1).mean() / k,
        "duration_spread": std.mean(),
    }


def balance_weights(values: Mapping[str, torch.Tensor], enabled: Sequence[str],
                    tau: float) -> dict[str, torch.Tensor]:
    """Detached weights ``softmax(-tau * M)`` over the enabled objectives, 0 for the others."""
    enabled = check_objectives(enabled)
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    stacked = torch.stack([values[name].detach() for name in enabled])
    weights = dict(zip(enabled, torch.softmax(-tau * stacked, dim=0), strict=True))
    return {name: weights.get(name, torch.zeros_like(stacked[0])) for name in OBJECTIVES}
