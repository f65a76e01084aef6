"""The upper-level objectives of LabelCraft on a batch of validation users, and their balance.

Two sets of three objectives share the names ``usage_time``, ``engagement`` and
``duration_spread`` (so the ablations and the logged curves mean the same part in both):
``paper`` (M1-M3 below, the faithful reproduction) and ``metrics`` (``metric_objectives``:
soft versions of the reported NWTG@k, NEG@k and DS@k themselves).

Paper set. For G users with padded items ``[G, M]`` (mask), soft top-k memberships
``alpha [G, M]`` (0 on padding) and observed outcomes, each objective is a mean over users
(higher is better):

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
from labelcraft.evaluation.topk import rank_discounts
from labelcraft.labels.scaling import PiecewiseScale, fit_piecewise

OBJECTIVES = ("usage_time", "engagement", "duration_spread")


OBJECTIVE_SETS = ("paper", "metrics")


@dataclass(frozen=True)
class OutcomeScales:
    """Scales fitted on train rows: piecewise watch time (M1) and duration (M3) for the paper
    set; ``duration_std`` (seconds, population std of the train durations) divides soft DS@k
    in the metrics set, so that all three objectives are O(1) for the balancing softmax."""

    watch_time: PiecewiseScale
    duration: PiecewiseScale
    duration_std: float = 1.0

    @classmethod
    def fit(cls, play_time_s: np.ndarray, duration_s: np.ndarray, b_quantile: float = 0.5,
            max_quantile: float = 0.99) -> OutcomeScales:
        """Fit the scales on the train watch times and durations (seconds, ``[N]`` each)."""
        spread = float(np.std(np.asarray(duration_s, dtype=np.float64)))
        return cls(fit_piecewise(play_time_s, b_quantile, max_quantile),
                   fit_piecewise(duration_s, b_quantile, max_quantile),
                   spread if spread > 0 else 1.0)


def check_objectives(names: Sequence[str]) -> tuple[str, ...]:
    """Validated tuple of enabled objective names (non-empty, known, no repeats)."""
    names = tuple(names)
    unknown = sorted(set(names) - set(OBJECTIVES))
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"objectives must be distinct names among {', '.join(OBJECTIVES)}, "
                         f"at least one; got {list(names)}")
    return names


def paper_objectives(alpha: torch.Tensor, mask: torch.Tensor, outcomes: EvalOutcomes,
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
    std = _safe_sqrt(variance)
    return {
        "usage_time": (alpha * watch).sum(dim=1).mean() / k,
        "engagement": (alpha * ef).sum(dim=1).mean() / k,
        "duration_spread": std.mean(),
    }


def _safe_sqrt(variance: torch.Tensor) -> torch.Tensor:
    """sqrt with value and gradient 0 where the variance is 0 (sqrt's slope is infinite there)."""
    positive = variance > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, variance, 1.0)), 0.0)


def _soft_normalised_gain(ranks: torch.Tensor, mask: torch.Tensor,
                          gains: torch.Tensor) -> torch.Tensor:
    """Soft DCG@k / IDCG@k ``[G]``: ``sum_ij P_ij gain_i / log2(j + 2)`` over the hard ideal.

    ranks ``[G, M, k]``, gains ``[G, M]``. A user whose ideal DCG is 0 scores 1 (constant), as in
    the hard metric (``labelcraft.evaluation.topk.normalised_gain_at_k``).
    """
    k = ranks.shape[2]
    discount = rank_discounts(k).to(ranks.dtype)
    real = torch.where(mask, gains.to(ranks.dtype), 0.0)
    dcg = ((ranks * discount).sum(dim=2) * real).sum(dim=1)
    ideal = torch.sort(real, dim=1, descending=True).values[:, :k]
    idcg = (ideal * discount[: ideal.shape[1]]).sum(dim=1)
    return torch.where(idcg > 0, dcg / torch.where(idcg > 0, idcg, 1.0), 1.0)


def metric_objectives(ranks: torch.Tensor, mask: torch.Tensor, outcomes: EvalOutcomes,
                      scales: OutcomeScales) -> dict[str, torch.Tensor]:
    """Soft NWTG@k, NEG@k and DS@k / duration_std (means over users), keyed by ``OBJECTIVES``.

    ranks ``[G, M, k]``: soft rank weights (``labelcraft.meta.soft_topk.soft_ranks``). NWTG and
    NEG use raw watch time (s) and EF as gains, position-discounted by the soft ranks and divided
    by the user's hard ideal DCG. DS is the standard deviation of the durations (s) weighted by
    the soft memberships ``alpha_i = sum_j P_ij`` (normalised to sum 1), divided by the train
    duration std. With one-hot ranks (epsilon -> 0) each equals its hard metric (DS divided).
    """
    if ranks.shape[:2] != mask.shape or outcomes.watch_time.shape != mask.shape:
        raise ValueError(f"ranks {tuple(ranks.shape)}, mask {tuple(mask.shape)} and outcomes "
                         f"{tuple(outcomes.watch_time.shape)} must be [G, M, k], [G, M], [G, M]")
    dtype = ranks.dtype
    alpha = torch.where(mask, ranks.sum(dim=2), 0.0)
    share = alpha / alpha.sum(dim=1, keepdim=True)
    duration = torch.where(mask, outcomes.duration_s.to(dtype), 0.0)
    mean = (share * duration).sum(dim=1, keepdim=True)
    variance = (share * (duration - mean).square()).sum(dim=1)
    return {
        "usage_time": _soft_normalised_gain(ranks, mask, outcomes.watch_time).mean(),
        "engagement": _soft_normalised_gain(ranks, mask, outcomes.ef).mean(),
        "duration_spread": _safe_sqrt(variance).mean() / scales.duration_std,
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
