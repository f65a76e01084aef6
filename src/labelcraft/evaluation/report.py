"""Evaluation report: top-k metrics and AUC summarised over users, seeds and a random floor.

Per-user metrics are summarised by their plain mean over users and their mean weighted by
each user's number of interactions in the split (real slots of the eval group), each with a
percentile bootstrap interval over users: one index matrix `[n_boot, G]` drawn from
`numpy.random.default_rng(seed)`, shared by every metric of a call (paired resamples).
Memory is O(n_boot * G).

AUC is computed once over all real interactions of the split (rank-based Mann-Whitney, ties
count one half); it has no per-user summary or interval, so its report entry is
{value, n_interactions, n_positive}. It is NaN, with a logged warning, when the target has
only one class. Report dicts hold Python floats and ints (NaN where undefined), ready for JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from labelcraft.evaluation.topk import Array, topk_metrics
from labelcraft.labels.rules import engagement_label, feedback_columns

logger = logging.getLogger(__name__)

SUMMARY_KEYS = (
    "mean",
    "weighted_mean",
    "ci_low",
    "ci_high",
    "weighted_ci_low",
    "weighted_ci_high",
    "n_users",
)
SEED_FIELDS = ("mean", "weighted_mean", "value")  # statistics averaged over seeds


def _numpy(values: Array) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def auc(scores: Array, target: Array, mask: Array | None = None) -> float:
    """ROC AUC of `scores` for a 0/1 `target` (same shape), over the `mask`ed-in entries.

    Mid-ranks for tied scores (a tie between a positive and a negative counts 1/2).
    NaN with a logged warning when the target has a single class.
    """
    s = _numpy(scores).astype(np.float64)
    t = _numpy(target)
    if s.shape != t.shape:
        raise ValueError(f"scores have shape {s.shape}, target has {t.shape}")
    if mask is not None:
        m = _numpy(mask).astype(bool)
        if m.shape != s.shape:
            raise ValueError(f"mask has shape {m.shape}, scores have {s.shape}")
        s, t = s[m], t[m]
    s, t = s.ravel(), t.ravel()
    if np.isnan(s).any():
        raise ValueError(f"{int(np.isnan(s).sum())} NaN score(s) among the evaluated entries")
    if not np.isin(t, (0, 1)).all():
        raise ValueError(f"target must be 0/1, found values {np.unique(t)[:5].tolist()}")
    positive = t == 1
    n_pos = int(positive.sum())
    n_neg = len(t) - n_pos
    if n_pos == 0 or n_neg == 0:
        logger.warning("AUC undefined: %d positive and %d negative entries", n_pos, n_neg)
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    mid_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based mean rank of each tie block
    rank_sum = mid_rank[inverse][positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def per_user_auc(scores: Array, target: Array, mask: Array) -> tuple[np.ndarray, np.ndarray]:
    """Each user's AUC on the user's real slots of ``[G, M]`` (mid-ranks for ties, as `auc`) and
    the user's number of real slots: (auc ``[G]``, NaN where a user's slots are all one class;
    counts ``[G]``). Vectorised: one sort of every real slot by (user, score)."""
    s, t = _numpy(scores).astype(np.float64), _numpy(target).astype(np.float64)
    m = _numpy(mask).astype(bool)
    if np.isnan(s[m]).any():
        raise ValueError(f"{int(np.isnan(s[m]).sum())} NaN score(s) among the evaluated entries")
    user = np.broadcast_to(np.arange(len(m))[:, None], m.shape)[m]
    score, positive = s[m], t[m] == 1
    counts = np.bincount(user, minlength=len(m))
    n_pos = np.bincount(user, weights=positive, minlength=len(m))
    order = np.lexsort((score, user))
    user, score, positive = user[order], score[order], positive[order]
    row_start = np.cumsum(counts) - counts  # index of each user's first slot in the sort
    new_block = np.ones(len(score), dtype=bool)
    new_block[1:] = (user[1:] != user[:-1]) | (score[1:] != score[:-1])
    block = np.cumsum(new_block) - 1
    block_start = np.flatnonzero(new_block)
    block_size = np.bincount(block) if len(block) else np.zeros(0, dtype=np.int64)
    # 1-based mid-rank of each slot within its user: the mean position of its tie block
    mid_rank = block_start[block] - row_start[user] + 1 + (block_size[block] - 1) / 2.0
    rank_sum = np.bincount(user, weights=mid_rank * positive, minlength=len(m))
    n_neg = counts - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    per_user[(n_pos == 0) | (n_neg == 0)] = np.nan
    return per_user, counts


def group_auc(scores: Array, target: Array, mask: Array) -> dict[str, float | int]:
    """gAUC over users: each user's AUC (`per_user_auc`) weighted by the user's number of real
    slots (impressions); users whose slots are all one class are skipped.
    {value (NaN when every user is skipped), n_users (counted), n_skipped}."""
    per_user, counts = per_user_auc(scores, target, mask)
    counted = ~np.isnan(per_user)
    if not counted.any():
        return {"value": float("nan"), "n_users": 0, "n_skipped": int(len(per_user))}
    weights = counts[counted].astype(np.float64)
    return {"value": float((per_user[counted] * weights).sum() / weights.sum()),
            "n_users": int(counted.sum()), "n_skipped": int(len(per_user) - counted.sum())}


def summarise_users(
    values: Array,
    weights: Array,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float | int]:
    """Mean and weighted mean of per-user `values` `[G]` (weights `[G]` > 0), bootstrap CIs.

    The interval is the (1 - level) / 2 and (1 + level) / 2 quantiles of the resampled means.
    """
    v = _numpy(values).astype(np.float64)
    w = _numpy(weights).astype(np.float64)
    if v.ndim != 1 or v.shape != w.shape or v.size == 0:
        raise ValueError(f"need values and weights of one shape [G], G > 0: {v.shape}, {w.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"non-finite per-user values at {np.flatnonzero(~np.isfinite(v))[:5]}")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ValueError(f"weights must be finite and > 0, bad at {np.flatnonzero(~(w > 0))[:5]}")
    if n_boot < 1 or not 0.0 < level < 1.0:
        raise ValueError(f"need n_boot >= 1 and 0 < level < 1, got {n_boot}, {level}")
    index = np.random.default_rng(seed).integers(0, v.size, size=(n_boot, v.size))
    boot_mean = v[index].mean(axis=1)
    boot_weighted = (v[index] * w[index]).sum(axis=1) / w[index].sum(axis=1)
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    ci_low, ci_high = np.quantile(boot_mean, tails)
    weighted_low, weighted_high = np.quantile(boot_weighted, tails)
    return {
        "mean": float(v.mean()),
        "weighted_mean": float((v * w).sum() / w.sum()),
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "weighted_ci_low": float(weighted_low),
        "weighted_ci_high": float(weighted_high),
        "n_users": int(v.size),
    }


def summarise_over_seeds(
    summaries: Sequence[Mapping[str, Mapping[str, float | int]]],
) -> dict[str, dict[str, float | int]]:
    """Mean and sample std (ddof = 1; NaN for one seed) over seeds of each metric's statistics.

    summaries: one `evaluate_rankings` dict per seed, all with the same metrics. For every field
    of SEED_FIELDS a metric has, the result holds `field` (mean over seeds) and `field_std`,
    plus `n_seeds`.
    """
    if not summaries:
        raise ValueError("no per-seed summaries given")
    metrics = set(summaries[0])
    for i, summary in enumerate(summaries):
        if set(summary) != metrics:
            raise ValueError(
                f"seed summary {i} has metrics {sorted(summary)}, seed 0 has {sorted(metrics)}"
            )
    result: dict[str, dict[str, float | int]] = {}
    for metric in summaries[0]:
        entry: dict[str, float | int] = {}
        for field in (f for f in SEED_FIELDS if f in summaries[0][metric]):
            per_seed = np.array([summary[metric][field] for summary in summaries], np.float64)
            entry[field] = float(per_seed.mean())
            entry[f"{field}_std"] = (
                float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan")
            )
        entry["n_seeds"] = len(summaries)
        result[metric] = entry
    return result


def random_scores(mask: Array, seed: int) -> torch.Tensor:
    """Uniform [0, 1) scores `[G, M]` float32 for the random-ranking floor (0 on padding)."""
    m = torch.as_tensor(mask, dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    return torch.where(m, torch.rand(m.shape, generator=generator), 0.0)


@dataclass(frozen=True)
class EvalOutcomes:
    """Observed outcomes of the eval groups' slots, each `[G, M]` float32 (0 on padding)."""

    watch_time: torch.Tensor
    ef: torch.Tensor
    duration_s: torch.Tensor
    long_view: torch.Tensor
    click: torch.Tensor | None = None  # when the feedback has a click column

    def targets(self) -> dict[str, torch.Tensor]:
        """The 0/1 targets of the ranking metrics (AUC, gAUC) by name: EF, long_view, click."""
        named = {"EF": self.ef, "long_view": self.long_view, "click": self.click}
        return {name: value for name, value in named.items() if value is not None}

    @classmethod
    def from_feedback(cls, rows: Array, mask: Array, feedback: pd.DataFrame) -> EvalOutcomes:
        """Gather the `feedback` rows `[G, M]` (e.g. `EvalGroups.rows`, `.mask`)."""
        play, duration, like, follow, comment, long_view = feedback_columns(
            feedback,
            ["play_time_s", "duration_s", "like", "follow", "comment", "long_view"],
        )
        real = _numpy(mask).astype(bool)
        index = np.where(real, _numpy(rows).astype(np.int64), 0)
        if real.any() and not 0 <= index[real].min() <= index[real].max() < len(feedback):
            raise IndexError(f"eval rows outside the feedback table of {len(feedback)} rows")

        def gather(column: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.where(real, column[index], 0.0).astype(np.float32))

        return cls(
            watch_time=gather(play),
            ef=gather(engagement_label(like, follow, comment)),
            duration_s=gather(duration),
            long_view=gather(long_view),
            click=(gather(feedback["click"].to_numpy(np.float64)) if "click" in feedback
                   else None),
        )


def evaluate_rankings(
    scores: Array,
    mask: Array,
    outcomes: EvalOutcomes,
    *,
    k: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, float | int]]:
    """JSON-able report of one ranking `scores` `[G, M]` over the eval groups.

    {f"NWTG@{k}", f"NEG@{k}", f"DS@{k}": SUMMARY_KEYS (weights = real items per user),
     "AUC_EF", "AUC_long_view", "AUC_click": {value, n_interactions, n_positive},
     "gAUC_EF", "gAUC_long_view", "gAUC_click": `group_auc`} (click: when the outcomes have it).
    """
    m = torch.as_tensor(mask, dtype=torch.bool)
    per_user = topk_metrics(scores, m, outcomes.watch_time, outcomes.ef, outcomes.duration_s, k=k)
    weights = m.sum(dim=1)
    report: dict[str, dict[str, float | int]] = {
        name: summarise_users(values, weights, n_boot=n_boot, seed=seed, level=level)
        for name, values in per_user.items()
    }
    targets = outcomes.targets()
    for name, target in targets.items():
        report[f"AUC_{name}"] = {
            "value": auc(scores, target, m),
            "n_interactions": int(m.sum()),
            "n_positive": int(target[m].sum()),
        }
    for name, target in targets.items():
        report[f"gAUC_{name}"] = group_auc(scores, target, m)
    return report
