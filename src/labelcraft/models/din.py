"""Deep Interest Network (Zhou et al., KDD 2018), the recommender of LabelCraft."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from labelcraft.models.batch import ModelSpec, RecBatch
from labelcraft.models.config_checks import (
    check_activation,
    check_n_heads,
    check_positive_int,
    check_towers,
    check_widths,
)
from labelcraft.models.layers import FieldEmbeddings, TargetAttention
from labelcraft.models.registry import register_model
from labelcraft.models.task_towers import task_towers


@dataclass(frozen=True)
class DINConfig:
    """DIN hyper-parameters (the keys accepted by ``build_model("din", ...)``)."""

    embedding_dim: int = 12
    attention_hidden: tuple[int, ...] = (36,)
    mlp_hidden: tuple[int, ...] = (200, 80)
    activation: str = "dice"
    towers: str = "shared_bottom"
    num_experts: int = 4
    tower_hidden: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        check_positive_int(self, "embedding_dim")
        check_widths(self, "attention_hidden")
        check_widths(self, "mlp_hidden")
        check_activation(self)
        check_towers(self)


@register_model("din")
class DIN(nn.Module):
    """DIN: candidate-item attention over the user's history, then an MLP.

    With U user and I item fields (``spec``) and embedding dimension D: the item representation
    is the concatenation of its field embeddings ``[I*D]``; the MLP input is concat(user fields
    ``[U*D]``, candidate item ``[I*D]``, attention-pooled history ``[I*D]``); the MLP
    (``mlp_hidden`` with the configured activation) ends in ``n_heads`` logits, passed through
    a sigmoid: one score in [0, 1] per label head. With ``towers: mmoe`` the MLP is an `MMoE`
    whose experts have the ``mlp_hidden`` widths (multi-objective heads).
    """

    config_class: ClassVar[type] = DINConfig

    def __init__(self, spec: ModelSpec, config: DINConfig, n_heads: int = 1) -> None:
        super().__init__()
        check_n_heads(n_heads)
        d = config.embedding_dim
        self.spec, self.config, self.n_heads = spec, config, n_heads
        self.embeddings = FieldEmbeddings(spec, d)
        item = len(spec.item_fields) * d
        self.attention = TargetAttention(item, config.attention_hidden, config.activation)
        self.mlp = task_towers(len(spec.user_fields) * d + 2 * item, config.mlp_hidden, n_heads,
                               towers=config.towers, activation=config.activation,
                               num_experts=config.num_experts, tower_hidden=config.tower_hidden)

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """Per-head scores in [0, 1]: ``[B, n_heads]``."""
        candidate = self.embeddings.items(batch).flatten(-2)  # [B, I*D]
        history = self.embeddings.history(batch).flatten(-2)  # [B, L, I*D]
        pooled = self.attention(candidate, history, batch.history_mask)  # [B, I*D]
        user = self.embeddings.users(batch).flatten(-2)  # [B, U*D]
        return torch.sigmoid(self.mlp(torch.cat([user, candidate, pooled], dim=-1)))
