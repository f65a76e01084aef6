"""Ranking evaluation: per-user top-k metrics, AUC and gAUC, summaries over users and seeds."""

from labelcraft.evaluation.report import (
    SEED_FIELDS,
    SUMMARY_KEYS,
    EvalOutcomes,
    auc,
    evaluate_rankings,
    group_auc,
    per_user_auc,
    random_scores,
    summarise_over_seeds,
    summarise_users,
)
from labelcraft.evaluation.topk import (
    duration_std_at_k,
    normalised_gain_at_k,
    rank_order,
    topk_metrics,
)

__all__ = [
    "SEED_FIELDS",
    "SUMMARY_KEYS",
    "EvalOutcomes",
    "auc",
    "duration_std_at_k",
    "evaluate_rankings",
    "group_auc",
    "per_user_auc",
    "normalised_gain_at_k",
    "random_scores",
    "rank_order",
    "summarise_over_seeds",
    "summarise_users",
    "topk_metrics",
]
