"""Recommender backbones behind a name-keyed registry, with their batch and losses.

Importing this package registers every backbone: din, dnn, dcnv2, autoint, autoint+, finalmlp,
fcn, feedback_aware.
"""

from labelcraft.models import (  # noqa: F401 (registers the backbones)
    autoint,
    dcnv2,
    dnn,
    fcn,
    feedback_aware,
    finalmlp,
)
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
