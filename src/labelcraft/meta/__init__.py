"""LabelCraft meta-learning: labeling model, OT soft top-k, upper objectives, bi-level step.

The soft top-k is imported from its module, ``labelcraft.meta.soft_topk``, whose name a
re-exported function would shadow.
"""

from labelcraft.meta.bilevel import (
    MetaConfig,
    MetaGradient,
    UpperGradient,
    UpperObjective,
    ValidBatch,
    meta_gradient,
    meta_step,
    upper_gradient,
    upper_objective,
)
from labelcraft.meta.labeler import (
    DEFAULT_INPUTS,
    LABEL_CORRELATES,
    SCALINGS,
    Labeler,
    LabelerConfig,
    label_statistics,
)
from labelcraft.meta.objectives import (
    OBJECTIVE_SETS,
    OBJECTIVES,
    OutcomeScales,
    balance_weights,
    metric_objectives,
    paper_objectives,
)

__all__ = [
    "DEFAULT_INPUTS",
    "LABEL_CORRELATES",
    "OBJECTIVES",
    "OBJECTIVE_SETS",
    "SCALINGS",
    "Labeler",
    "LabelerConfig",
    "MetaConfig",
    "MetaGradient",
    "OutcomeScales",
    "UpperGradient",
    "UpperObjective",
    "ValidBatch",
    "balance_weights",
    "label_statistics",
    "meta_gradient",
    "meta_step",
    "metric_objectives",
    "paper_objectives",
    "upper_gradient",
    "upper_objective",
]
