"""Summaries of per-seed evaluation reports: mean and std over seeds, interval over users.

A metric's entry holds `mean`, `mean_std`, `weighted_mean`, `weighted_mean_std` (mean and
sample std over seeds of the per-seed user means, `summarise_over_seeds`), `n_seeds`, and
`ci_low`, `ci_high`, `weighted_ci_low`, `weighted_ci_high`, `n_users`: the percentile bootstrap
interval over users of each user's metric averaged over the seeds (`summarise_users`), i.e.
the interval of the seed-averaged mean. AUC entries hold `value`, `value_std`, `n_seeds`,
`n_interactions`, `n_positive`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from labelcraft.evaluation import summarise_over_seeds, summarise_users

INTERVAL_KEYS = ("ci_low", "ci_high", "weighted_ci_low", "weighted_ci_high", "n_users")
AUC_COUNT_KEYS = ("n_interactions", "n_positive", "n_users", "n_skipped")


def summarise_seeds(
    per_seed: Sequence[Mapping[str, Mapping[str, float | int]]],
    per_user: Mapping[str, np.ndarray],
    weights: np.ndarray,
    *,
    n_boot: int,
    level: float,
    bootstrap_seed: int,
) -> dict[str, dict[str, float | int]]:
    """Combine one report per seed (`evaluate_rankings` format) into one entry per metric.

    per_user: metric -> per-user values `[S, G]` (seed s, user g) of every per-user metric of
    the reports; weights `[G]`: each user's interaction count.
    """
    summary = summarise_over_seeds(per_seed)
    for name, raw in per_user.items():
        values = np.asarray(raw, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] != len(per_seed):
            raise ValueError(
                f"{name}: per-user values of shape {values.shape}, expected "
                f"[{len(per_seed)} seeds, G users]"
            )
        pooled = summarise_users(
            values.mean(axis=0), weights, n_boot=n_boot, seed=bootstrap_seed, level=level
        )
        summary[name].update({key: pooled[key] for key in INTERVAL_KEYS})
    for name, entry in summary.items():
        for key in AUC_COUNT_KEYS:
            if key in per_seed[0][name]:
                entry[key] = per_seed[0][name][key]
    return summary
