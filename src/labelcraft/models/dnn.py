"""Plain deep network over the field embeddings (the floor of the deep CTR models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from labelcraft.models.batch import ModelSpec, RecBatch
from labelcraft.models.config_checks import (
    check_activation,
    check_dropout,
    check_n_heads,
    check_positive_int,
    check_widths,
)
from labelcraft.models.layers import DNNTower, FieldEmbeddings
from labelcraft.models.registry import register_model


@dataclass(frozen=True)
class DNNConfig:
    """DNN hyper-parameters (the keys accepted by ``build_model("dnn", ...)``).

    FuxiCTR's ``DNN_default``: embedding_dim 40, hidden_units [500, 500, 500], ReLU,
    net_dropout 0. Chosen here: embedding_dim 12 (as DIN) and ``mlp_hidden`` (200, 80) (as
    DIN's MLP), which keeps an epoch on ~70k rows cheap on a CPU; ReLU, dropout 0.
    """

    embedding_dim: int = 12
    mlp_hidden: tuple[int, ...] = (200, 80)
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        check_positive_int(self, "embedding_dim")
        check_widths(self, "mlp_hidden")
        check_activation(self)
        check_dropout(self)


@register_model("dnn")
class DNN(nn.Module):
    """DNN: the field matrix ``[B, F, D]`` flattened to ``[B, F*D]``, a deep tower, a linear
    layer to ``n_heads`` logits, a sigmoid: one score in [0, 1] per label head.

    F = U user fields + I item fields + I mean-pooled history fields (`FieldEmbeddings`).
    """

    config_class: ClassVar[type] = DNNConfig

    def __init__(self, spec: ModelSpec, config: DNNConfig, n_heads: int = 1) -> None:
        super().__init__()
        check_n_heads(n_heads)
        self.spec, self.config, self.n_heads = spec, config, n_heads
        self.embeddings = FieldEmbeddings(spec, config.embedding_dim)
        self.tower = DNNTower(self.embeddings.n_fields() * config.embedding_dim,
                              config.mlp_hidden, config.activation, config.dropout)
        self.head = nn.Linear(self.tower.output_dim, n_heads)

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """Per-head scores in [0, 1]: ``[B, n_heads]``."""
        x = self.embeddings.field_matrix(batch).flatten(1)  # [B, F*D]
        return torch.sigmoid(self.head(self.tower(x)))  # [B, n_heads]
