"""Training losses of the recommender against (soft) labels in [0, 1]."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

LOSS_KINDS = ("mse", "bce")


def label_loss(
    pred: torch.Tensor, labels: torch.Tensor, kind: Literal["mse", "bce"] = "mse"
) -> torch.Tensor:
    """Mean loss over all entries of ``pred [B, H]`` (scores in [0, 1]) vs ``labels [B, H]``.

    ``"mse"``: mean squared error; ``"bce"``: binary cross-entropy with soft labels (log terms
    clamped at -100 by PyTorch when a score saturates at 0 or 1). Twice differentiable in both
    arguments, as the virtual step needs.
    """
    if pred.shape != labels.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and labels {tuple(labels.shape)} "
                         f"must have the same shape")
    labels = labels.to(pred.dtype)
    if kind == "mse":
        return F.mse_loss(pred, labels)
    if kind == "bce":
        return F.binary_cross_entropy(pred, labels)
    raise ValueError(f"unknown loss kind {kind!r}; valid: {', '.join(LOSS_KINDS)}")
