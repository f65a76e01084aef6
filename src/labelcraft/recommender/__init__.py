"""Training of any registry recommender on a label matrix, with batched top-k validation."""

from labelcraft.recommender.config import EVAL_METRICS, TrainConfig
from labelcraft.recommender.early_stopping import Stopped, state_copy, train_until_stale
from labelcraft.recommender.scoring import (
    EvalSet,
    Ranking,
    epoch_metrics,
    predict_groups,
    rank_heads,
    score_groups,
)
from labelcraft.recommender.trainer import (
    Objective,
    TrainResult,
    build_seeded_model,
    check_training_inputs,
    plain_step,
    train_model,
)

__all__ = [
    "EVAL_METRICS",
    "EvalSet",
    "Objective",
    "Ranking",
    "Stopped",
    "TrainConfig",
    "TrainResult",
    "build_seeded_model",
    "check_training_inputs",
    "epoch_metrics",
    "plain_step",
    "predict_groups",
    "rank_heads",
    "score_groups",
    "state_copy",
    "train_model",
    "train_until_stale",
]
