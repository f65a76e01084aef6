"""AutoInt and AutoInt+ (Song et al., CIKM 2019): multi-head self-attention over the fields."""

from __future__ import annotations

import math
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
class AutoIntConfig:
    """AutoInt hyper-parameters (the keys accepted by ``build_model("autoint", ...)``).

    ``attention_dim`` is the width of one head: a layer outputs ``num_heads * attention_dim``
    per field (as in the paper; FuxiCTR's ``attention_dim`` is the total over the heads).
    ``use_scale`` divides the attention logits by ``sqrt(attention_dim)`` (the paper does not).
    ``dropout`` (train mode only) drops attention weights (and, in AutoInt+, deep-tower units).

    FuxiCTR's AutoInt defaults: embedding_dim 10, attention_layers 2, num_heads 1,
    attention_dim 8 (in total), use_scale False, residual True; the paper uses 3 layers of
    2 heads of 32. Chosen here: embedding_dim 12 (as DIN), 2 layers of 2 heads of 8 (16 per
    field), no scaling, residual connections, dropout 0.
    """

    embedding_dim: int = 12
    num_layers: int = 2
    num_heads: int = 2
    attention_dim: int = 8
    use_scale: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        """Check values."""
        check_positive_int(self, "embedding_dim")
        check_positive_int(self, "num_layers")
        check_positive_int(self, "num_heads")
        check_positive_int(self, "attention_dim")
        if not isinstance(self.use_scale, bool):
            raise ValueError(f"{type(self).__name__}.use_scale must be a bool, got "
                             f"{self.use_scale!r}")
        check_dropout(self)


@dataclass(frozen=True)
class AutoIntPlusConfig(AutoIntConfig):
    """AutoInt+ hyper-parameters (``build_model("autoint+", ...)``): AutoInt's plus the deep
    tower on the flattened field embeddings.

    FuxiCTR's AutoInt has a deep tower by default (dnn_hidden_units [64, 64, 64], ReLU); its
    Avazu config uses [400, 400]. Chosen here: ``mlp_hidden`` (200, 80) (as DIN), ReLU.
    """

    mlp_hidden: tuple[int, ...] = (200, 80)
    activation: str = "relu"

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        super().__post_init__()
        check_widths(self, "mlp_hidden")
        if not self.mlp_hidden:
            raise ValueError("AutoIntPlusConfig.mlp_hidden must not be empty (AutoInt+ without "
                             "a deep tower is AutoInt)")
        check_activation(self)


class MultiHeadSelfAttention(nn.Module):
    """One interacting layer of AutoInt: multi-head self-attention over the fields.

    Input ``x [B, F, D_in]``; per head h (width ``d' = head_dim``):
    ``Q_h = x W_q^h``, ``K_h = x W_k^h``, ``V_h = x W_v^h`` ``[B, F, d']``;
    ``A_h = softmax_over_fields(Q_h K_h^T [/ sqrt(d')])`` ``[B, F, F]``;
    the heads' ``A_h V_h`` concatenated ``[B, F, H*d']``; output
    ``relu(concat + x W_res)`` (``W_res`` only when ``D_in != H*d'``, else ``+ x``).
    The weights are bias-free linear layers ``query``, ``key``, ``value`` (``[H*d', D_in]``, head
    h in rows ``h*d' : (h+1)*d'``) and ``residual``.
    """

    def __init__(
        self,
        input_dim: int,
        head_dim: int,
        num_heads: int,
        use_scale: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.head_dim, self.num_heads = head_dim, num_heads
        self.output_dim = head_dim * num_heads
        self.scale = 1.0 / math.sqrt(head_dim) if use_scale else 1.0
        self.query = nn.Linear(input_dim, self.output_dim, bias=False)
        self.key = nn.Linear(input_dim, self.output_dim, bias=False)
        self.value = nn.Linear(input_dim, self.output_dim, bias=False)
        self.residual = (nn.Linear(input_dim, self.output_dim, bias=False)
                         if input_dim != self.output_dim else None)
        self.dropout = nn.Dropout(dropout) if dropout > 0.0 else None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, F, H*d'] -> [B, H, F, d']``."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(-3, -2)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights ``[B, H, F, F]`` of ``x [B, F, D_in]`` (each row sums to 1 over the
        attended fields, the last dimension)."""
        q, k = self._heads(self.query(x)), self._heads(self.key(x))
        return torch.softmax(q @ k.transpose(-2, -1) * self.scale, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, F, D_in] -> [B, F, H*d']``."""
        weights = self.attention(x)  # [B, H, F, F]
        if self.dropout is not None:
            weights = self.dropout(weights)
        heads = weights @ self._heads(self.value(x))  # [B, H, F, d']
        out = heads.transpose(-3, -2).flatten(-2)  # [B, F, H*d']
        return torch.relu(out + (x if self.residual is None else self.residual(x)))


@register_model("autoint")
class AutoInt(nn.Module):
    """AutoInt: the field matrix ``[B, F, D]`` through ``num_layers`` self-attention layers
    (`MultiHeadSelfAttention`, ``[B, F, H*d']`` each), flattened ``[B, F*H*d']``, a linear layer
    to ``n_heads`` logits, a sigmoid: one score in [0, 1] per label head.

    F = U user fields + I item fields + I mean-pooled history fields (`FieldEmbeddings`).
    """

    config_class: ClassVar[type] = AutoIntConfig

    def __init__(self, spec: ModelSpec, config: AutoIntConfig, n_heads: int = 1) -> None:
        super().__init__()
        check_n_heads(n_heads)
        self.spec, self.config, self.n_heads = spec, config, n_heads
        self.embeddings = FieldEmbeddings(spec, config.embedding_dim)
        width = config.embedding_dim
        layers: list[MultiHeadSelfAttention] = []
        for _ in range(config.num_layers):
            layers.append(MultiHeadSelfAttention(width, config.attention_dim, config.num_heads,
                                                 config.use_scale, config.dropout))
            width = layers[-1].output_dim
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(self.embeddings.n_fields() * width, n_heads)

    def logits(self, fields: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_heads]`` of the field matrix ``[B, F, D]``."""
        return self.head(self.layers(fields).flatten(1))

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """Per-head scores in [0, 1]: ``[B, n_heads]``."""
        return torch.sigmoid(self.logits(self.embeddings.field_matrix(batch)))


@register_model("autoint+")
class AutoIntPlus(AutoInt):
    """AutoInt+: AutoInt's logits plus those of a deep tower (``mlp_hidden``, then a linear
    layer to ``n_heads``) on the flattened field matrix ``[B, F*D]``, then a sigmoid."""

    config_class: ClassVar[type] = AutoIntPlusConfig

    def __init__(self, spec: ModelSpec, config: AutoIntPlusConfig, n_heads: int = 1) -> None:
        super().__init__(spec, config, n_heads)
        self.tower = DNNTower(self.embeddings.n_fields() * config.embedding_dim,
                              config.mlp_hidden, config.activation, config.dropout)
        self.tower_head = nn.Linear(self.tower.output_dim, n_heads)

    def logits(self, fields: torch.Tensor) -> torch.Tensor:
        """AutoInt's logits plus the deep tower's ``[B, n_heads]`` of ``fields [B, F, D]``."""
        return super().logits(fields) + self.tower_head(self.tower(fields.flatten(1)))
