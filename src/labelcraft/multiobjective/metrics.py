"""Per-task metrics of multi-head predictions on the evaluation users.

Binary tasks: ``AUC_<task>`` over every real slot (`labelcraft.evaluation.auc`) and
``gAUC_<task>``, the per-user AUC weighted by the user's impressions (users with one class
skipped). Watch time: ``MAE_watch_time`` in seconds (impression-weighted, i.e. over every slot)
and ``XAUC_watch_time``, the share of same-user item pairs with different watch times that the
prediction orders like the truth (a prediction tie counts 1/2), pooled over users (each user
weighted by its number of pairs). Over seeds: the mean and sample std of each seed's value, and
for the per-user metrics a percentile bootstrap interval over users of the user's value averaged
over seeds (one resample matrix per call, as `labelcraft.evaluation.summarise_users`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from labelcraft.evaluation import auc, per_user_auc
from labelcraft.multiobjective.tasks import REGRESSION_TASKS

PAIR_BUDGET = 4_000_000  # compared pairs per chunk of users in `per_user_xauc`


def per_user_xauc(pred: torch.Tensor, truth: torch.Tensor,
                  mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each user's share of correctly ordered pairs and its number of pairs ``[G]`` (NaN where
    a user has no pair with different truths); ``pred``, ``truth``, ``mask`` ``[G, M]``."""
    g, m = mask.shape
    correct, pairs = np.zeros(g), np.zeros(g)
    step = max(1, PAIR_BUDGET // max(m * m, 1))
    for start in range(0, g, step):
        p, t, real = (x[start : start + step].to(torch.float64) if x.dtype != torch.bool
                      else x[start : start + step] for x in (pred, truth, mask))
        ordered = (real.unsqueeze(2) & real.unsqueeze(1)
                   & (t.unsqueeze(2) > t.unsqueeze(1)))  # [g, M, M]: i watched longer than j
        agree = (p.unsqueeze(2) > p.unsqueeze(1)).double() + 0.5 * (
            p.unsqueeze(2) == p.unsqueeze(1)).double()
        correct[start : start + step] = (agree * ordered).sum(dim=(1, 2)).numpy()
        pairs[start : start + step] = ordered.sum(dim=(1, 2)).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(pairs > 0, correct / pairs, np.nan)
    return values, pairs


def _per_user(task: str, pred: torch.Tensor, truth: torch.Tensor,
              mask: torch.Tensor) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """metric name -> (per-user values ``[G]``, NaN where undefined; weights ``[G]``)."""
    if task in REGRESSION_TASKS:
        error = torch.where(mask, (pred - truth).abs(), 0.0).sum(dim=1).numpy()
        counts = mask.sum(dim=1).numpy().astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mae = np.where(counts > 0, error / counts, np.nan)
        return {f"MAE_{task}": (mae, counts), f"XAUC_{task}": per_user_xauc(pred, truth, mask)}
    values, counts = per_user_auc(pred, truth, mask)
    return {f"gAUC_{task}": (values, counts.astype(np.float64))}


def _pooled(values: np.ndarray, weights: np.ndarray) -> float:
    """The weighted mean of the defined per-user values (NaN when none is)."""
    defined = ~np.isnan(values)
    if not defined.any():
        return float("nan")
    return float((values[defined] * weights[defined]).sum() / weights[defined].sum())


def task_metrics(
    predictions: Sequence[Mapping[str, torch.Tensor]],
    truths: Mapping[str, torch.Tensor],
    mask: torch.Tensor,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[list[dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Per-seed metrics and their summary over seeds for predictions of every task.

    predictions: one dict per seed, task -> ``[G, M]`` predictions (probabilities; watch time in
    seconds); truths: task -> ``[G, M]`` outcomes (0/1; watch time in seconds); mask ``[G, M]``.
    Returns (per seed: metric -> {value, n}), summary: metric -> {value, value_std, ci_low,
    ci_high, n_seeds} (no interval for the global AUCs).
    """
    per_seed: list[dict[str, dict[str, Any]]] = []
    users: dict[str, list[np.ndarray]] = {}
    weights: dict[str, np.ndarray] = {}
    for seed_predictions in predictions:
        metrics: dict[str, dict[str, Any]] = {}
        for task, pred in seed_predictions.items():
            truth = truths[task]
            if task not in REGRESSION_TASKS:
                metrics[f"AUC_{task}"] = {"value": auc(pred, truth, mask),
                                          "n": int(truth[mask].sum())}
            for name, (values, w) in _per_user(task, pred, truth, mask).items():
                metrics[name] = {"value": _pooled(values, w),
                                 "n": int((~np.isnan(values)).sum())}
                users.setdefault(name, []).append(values)
                weights[name] = w
        per_seed.append(metrics)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(mask), size=(n_boot, len(mask))) if len(mask) else None
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    summary: dict[str, dict[str, Any]] = {}
    for name in per_seed[0]:
        values = np.array([metrics[name]["value"] for metrics in per_seed], np.float64)
        entry: dict[str, Any] = {
            "value": float(values.mean()),
            "value_std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
            "n_seeds": len(values),
        }
        if name in users and index is not None:
            averaged = np.mean(users[name], axis=0)  # [G]; a user's definedness is seed-free
            w = np.where(np.isnan(averaged), 0.0, weights[name])
            v = np.nan_to_num(averaged)
            with np.errstate(invalid="ignore", divide="ignore"):
                boot = (v[index] * w[index]).sum(axis=1) / w[index].sum(axis=1)
            low, high = np.nanquantile(boot, tails) if np.isfinite(boot).any() else (np.nan,) * 2
            entry |= {"ci_low": float(low), "ci_high": float(high)}
        summary[name] = entry
    return per_seed, summary
