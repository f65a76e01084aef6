"""Recommender backbones (DIN first) behind a name-keyed registry, with their batch and losses."""

from labelcraft.models.batch import ModelSpec, RecBatch, make_batch
from labelcraft.models.din import DIN, DINConfig
from labelcraft.models.layers import MLP, Dice, TargetAttention
from labelcraft.models.losses import label_loss
from labelcraft.models.registry import MODEL_REGISTRY, build_model, register_model

__all__ = [
    "DIN",
    "MLP",
    "MODEL_REGISTRY",
    "DINConfig",
    "Dice",
    "ModelSpec",
    "RecBatch",
    "TargetAttention",
    "build_model",
    "label_loss",
    "make_batch",
    "register_model",
]
