"""Training of any registry recommender on a label matrix, with batched top-k validation."""

from labelcraft.training.config import EVAL_METRICS, TrainConfig
from labelcraft.training.scoring import EvalSet, epoch_metrics, score_groups
from labelcraft.training.trainer import (
    TrainResult,
    build_seeded_model,
    state_copy,
    torch_threads,
    train_model,
)

__all__ = [
    "EVAL_METRICS",
    "EvalSet",
    "TrainConfig",
    "TrainResult",
    "build_seeded_model",
    "epoch_metrics",
    "score_groups",
    "state_copy",
    "torch_threads",
    "train_model",
]
