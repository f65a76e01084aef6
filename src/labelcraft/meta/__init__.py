"""LabelCraft meta-learning: labeling model, OT soft top-k, upper objectives, bi-level step.

The soft top-k is imported from its module, ``labelcraft.meta.soft_topk``, whose name a
re-exported function would shadow.
"""

from labelcraft.meta.bilevel import MetaConfig, UpperLevel, ValidBatch, meta_step, upper_level
from labelcraft.meta.labeler import DEFAULT_INPUTS, SCALINGS, Labeler, LabelerConfig
from labelcraft.meta.objectives import (
    OBJECTIVES,
    OutcomeScales,
    balance_weights,
    objective_values,
)

__all__ = [
    "DEFAULT_INPUTS",
    "OBJECTIVES",
    "SCALINGS",
    "Labeler",
    "LabelerConfig",
    "MetaConfig",
    "OutcomeScales",
    "UpperLevel",
    "ValidBatch",
    "balance_weights",
    "meta_step",
    "objective_values",
    "upper_level",
]
