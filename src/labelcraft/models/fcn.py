"""FCN / DCNv3 (Li et al. 2024, "FCN: Fusing Exponential and Linear Cross Network"): an
exponential and a linear cross network over the flattened field matrix, logits averaged.

Cross layer (as the authors' FuxiCTR code implements the paper's Self-Mask). For an input
``x0 [B, d]`` (d = F*D) and a layer input ``c [B, d]``:

- ``h = W c`` with ``W [k, d]``, k = ceil(d/2), no bias;
- ``g = h[:, :d-k]`` and ``Mask(g) = g * ReLU(LN(g))``: LayerNorm over the candidate's own
  ``d - k`` values (learned scale and shift when ``layer_norm``, else ``Mask(g) = g * ReLU(g)``);
  about half of the entries are zeroed and the rest are scaled by their normalised value;
- ``z = concat(h, Mask(g)) + b`` (``b [d]``): half of the units are linear, half self-masked
  (for an even d exactly FuxiCTR's ``concat(H, H * ReLU(LN(H)))``; for an odd d the masked half
  has one unit less); the bias is added after the mask, as in the authors' code (the paper
  writes ``Mask(W c + b)``), and starts uniform in [0, 1);
- LCN: ``c' = x0 * z + c`` (order +1 per layer); ECN: ``c' = c * z + c`` (order doubles).

The mask is a deterministic function of the candidate's own vector (no batch statistics) and is
differentiable almost everywhere (ReLU), so forward-mode AD and ``functional_call`` see standard
ops only. Dropout (if any) follows every cross layer, as in FuxiCTR. Each network ends in its
own ``Linear(d, n_heads)``; the model's logits are their mean.

Not implemented: DCNv3's ``num_heads`` (a split of the embedding into sub-vectors; with one head
its input is our flattened field matrix up to a fixed permutation of coordinates) and its
optional batch norm. The Tri-BCE loss (the BCE of the fused prediction plus each sub-network's
BCE weighted by ``max(0, BCE_sub - BCE_fused)``) needs the two sub-network logits, available
from `FCN.sub_logits`; it is **not** wired into the trainer (models hold no loss), which trains
on the fused output only.

Defaults, FuxiCTR (``model_zoo/DCNv3``) versus here: FuxiCTR's class defaults are
embedding_dim 10, 4 deep (ECN) and 4 shallow (LCN) cross layers, deep dropout 0.1, shallow
dropout 0.3, layer norm on, batch norm off (its tuned configs use embedding_dim 16). Here:
embedding_dim 12 (as DIN), 4 and 4 layers, layer norm on, one ``dropout`` for both networks
with default 0 (the backbone contract compares train-mode outputs), and embeddings that start
at std 0.01 (``embedding_std``; FuxiCTR: 1e-4 for every model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from labelcraft.models.batch import ModelSpec, RecBatch
from labelcraft.models.config_checks import check_dropout, check_n_heads, check_positive_int
from labelcraft.models.layers import FieldEmbeddings
from labelcraft.models.registry import register_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FCNConfig:
    """FCN hyper-parameters (the keys accepted by ``build_model("fcn", ...)``).

    ``num_deep_cross_layers``: layers of the exponential cross network (ECN);
    ``num_shallow_cross_layers``: layers of the linear cross network (LCN); ``dropout``: after
    every cross layer of both (0 = none); ``layer_norm``: LayerNorm inside the Self-Mask;
    ``embedding_std``: the embeddings start N(0, std^2) (padding rows 0) instead of
    `FieldEmbeddings`' N(0, 1), with which the ECN's degree-2^L products saturate the sigmoid at
    initialisation (logits of order 1e3 with 4 layers; FuxiCTR starts every embedding at std
    1e-4, which would leave the LayerNorm of the Self-Mask dominated by its epsilon).
    """

    embedding_dim: int = 12
    num_deep_cross_layers: int = 4
    num_shallow_cross_layers: int = 4
    dropout: float = 0.0
    layer_norm: bool = True
    embedding_std: float = 0.01

    def __post_init__(self) -> None:
        """Check values."""
        if self.embedding_dim < 1:
            raise ValueError(f"FCNConfig.embedding_dim must be >= 1, got {self.embedding_dim}")
        if not self.embedding_std > 0:
            raise ValueError(f"FCNConfig.embedding_std must be > 0, got {self.embedding_std}")
        for name in ("num_deep_cross_layers", "num_shallow_cross_layers"):
            check_positive_int(self, name)
        check_dropout(self)
        if not isinstance(self.layer_norm, bool):
            raise ValueError(f"FCNConfig.layer_norm must be true or false, got "
                             f"{self.layer_norm!r}")


class CrossLayer(nn.Module):
    """One FCN cross layer on ``[B, d]`` vectors (the module docstring has the formulas).

    ``weight``: ``Linear(d, ceil(d/2), bias=False)``; ``norm``: ``LayerNorm(floor(d/2))`` or
    None; ``bias [d]`` (uniform in [0, 1) at start, as FuxiCTR).
    """

    def __init__(self, dim: int, layer_norm: bool) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"CrossLayer needs dim >= 2, got {dim}")
        self.dim = dim
        self.kept = (dim + 1) // 2  # linear units (rows of W)
        self.masked = dim - self.kept  # self-masked units
        self.weight = nn.Linear(dim, self.kept, bias=False)
        self.norm = nn.LayerNorm(self.masked) if layer_norm else None
        self.bias = nn.Parameter(torch.rand(dim))

    def self_mask(self, g: torch.Tensor) -> torch.Tensor:
        """``Mask(g) = g * ReLU(LN(g))`` (``g * ReLU(g)`` without layer norm): ``[B, m]``."""
        return g * torch.relu(self.norm(g) if self.norm is not None else g)

    def gate(self, c: torch.Tensor) -> torch.Tensor:
        """``z = concat(W c, Mask((W c)[:, :m])) + b``: ``[B, d] -> [B, d]``."""
        h = self.weight(c)  # [B, k]
        return torch.cat([h, self.self_mask(h[:, :self.masked])], dim=-1) + self.bias

    def forward(self, base: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``base * z(c) + c`` with ``base = x0`` (LCN) or ``c`` (ECN): ``[B, d]``."""
        return base * self.gate(c) + c


class CrossNetwork(nn.Module):
    """A stack of `CrossLayer` (ECN if ``exponential`` else LCN) and a ``Linear(d, n_heads)``.

    ``x0 [B, d] -> logits [B, n_heads]``.
    """

    def __init__(
        self, dim: int, n_layers: int, exponential: bool, layer_norm: bool, dropout: float,
        n_heads: int,
    ) -> None:
        super().__init__()
        self.exponential = exponential
        self.layers = nn.ModuleList(CrossLayer(dim, layer_norm) for _ in range(n_layers))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(dim, n_heads)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``x0 [B, d] -> logits [B, n_heads]``."""
        c = x0
        for layer in self.layers:
            c = self.dropout(layer(c if self.exponential else x0, c))
        return self.head(c)


@register_model("fcn")
class FCN(nn.Module):
    """FCN (DCNv3): ECN and LCN over ``x0 = field_matrix`` flattened ``[B, F*D]``.

    F fields (U user, I item, I pooled history; `FieldEmbeddings.field_matrix`) of dimension D.
    `sub_logits` gives the ECN and LCN logits ``[B, n_heads]`` each; the output is
    ``sigmoid((ecn + lcn) / 2)`` ``[B, n_heads]``.
    """

    config_class: ClassVar[type] = FCNConfig

    def __init__(self, spec: ModelSpec, config: FCNConfig, n_heads: int = 1) -> None:
        super().__init__()
        check_n_heads(n_heads)
        self.spec, self.config, self.n_heads = spec, config, n_heads
        self.embeddings = FieldEmbeddings(spec, config.embedding_dim)
        with torch.no_grad():
            for table in self.embeddings.tables.values():
                table.weight.normal_(0.0, config.embedding_std)
                table.weight[0].zero_()  # the padding row, as nn.Embedding leaves it
        dim = self.embeddings.n_fields() * config.embedding_dim
        self.ecn = CrossNetwork(dim, config.num_deep_cross_layers, True, config.layer_norm,
                                config.dropout, n_heads)
        self.lcn = CrossNetwork(dim, config.num_shallow_cross_layers, False, config.layer_norm,
                                config.dropout, n_heads)
        logger.debug("FCN: input %d, %d ECN and %d LCN layers", dim,
                     config.num_deep_cross_layers, config.num_shallow_cross_layers)

    def sub_logits(self, batch: RecBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The ECN and the LCN logits, ``[B, n_heads]`` each (for a Tri-BCE loss)."""
        x0 = self.embeddings.field_matrix(batch).flatten(1)  # [B, F*D]
        return self.ecn(x0), self.lcn(x0)

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """Per-head scores in [0, 1]: ``[B, n_heads]``."""
        ecn, lcn = self.sub_logits(batch)
        return torch.sigmoid(0.5 * (ecn + lcn))
