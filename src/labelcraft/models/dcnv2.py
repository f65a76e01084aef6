"""DCN-V2 (Wang et al., WWW 2021): explicit cross layers over the flattened field embeddings,
full-rank or a mixture of low-rank experts, stacked with or parallel to a deep tower."""

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
    is_positive_int,
)
from labelcraft.models.layers import DNNTower, FieldEmbeddings
from labelcraft.models.registry import register_model

STRUCTURES = ("parallel", "stacked")


@dataclass(frozen=True)
class DCNv2Config:
    """DCN-V2 hyper-parameters (the keys accepted by ``build_model("dcnv2", ...)``).

    ``low_rank`` None: full-rank cross layers ``[d, d]``; an int r: each layer a mixture of
    ``num_experts`` low-rank experts of rank r (``num_experts`` only matters then).
    ``structure`` "stacked": cross layers then the deep tower; "parallel": both on the input,
    outputs concatenated. An empty ``mlp_hidden`` means no deep tower (the cross network only).
    ``dropout`` (train mode only) is applied in the deep tower.

    FuxiCTR's ``DCNv2_default``: embedding_dim 40, model_structure parallel,
    use_low_rank_mixture False (low_rank 32, num_experts 4), num_cross_layers 3, DNN hidden units
    [500, 500, 500], ReLU, net_dropout 0. Chosen here: the same except embedding_dim 12 (as DIN)
    and ``mlp_hidden`` (200, 80), to keep an epoch on ~70k rows cheap on a CPU.
    """

    embedding_dim: int = 12
    num_cross_layers: int = 3
    low_rank: int | None = None
    num_experts: int = 4
    structure: str = "parallel"
    mlp_hidden: tuple[int, ...] = (200, 80)
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        check_positive_int(self, "embedding_dim")
        check_positive_int(self, "num_cross_layers")
        check_positive_int(self, "num_experts")
        if self.low_rank is not None and not is_positive_int(self.low_rank):
            raise ValueError(f"DCNv2Config.low_rank must be None (full rank) or an int >= 1, "
                             f"got {self.low_rank!r}")
        if self.structure not in STRUCTURES:
            raise ValueError(f"DCNv2Config.structure must be one of {', '.join(STRUCTURES)}, "
                             f"got {self.structure!r}")
        check_widths(self, "mlp_hidden")
        check_activation(self)
        check_dropout(self)


class CrossLayer(nn.Module):
    """Full-rank cross layer: ``x_{l+1} = x0 * (W x_l + b) + x_l`` with ``W [d, d]``, ``b [d]``
    (``self.linear``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    def forward(self, x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x0 [B, d]``, ``x_l [B, d]`` -> ``x_{l+1} [B, d]``."""
        return x0 * self.linear(x) + x


class LowRankMixtureCrossLayer(nn.Module):
    """Cross layer as a mixture of low-rank experts (DCN-V2, Eq. 4 of the paper).

    Expert i: ``E_i(x_l) = x0 * (U_i g(C_i g(V_i^T x_l)) + b)`` with ``V_i, U_i [d, r]``,
    ``C_i [r, r]``, the layer's bias ``b [d]`` shared by the experts and ``g = tanh``; the layer is
    ``x_{l+1} = sum_i G_i(x_l) E_i(x_l) + x_l`` with the softmax gate ``G(x_l) =
    softmax(W_g x_l)``, ``W_g [E, d]``. Stored as ``v [E, d, r]``, ``c [E, r, r]``, ``u [E, d, r]``
    (``self.bias`` starts at 0). One expert has no gate (its weight is 1; a gate parameter
    would get no gradient).
    """

    def __init__(self, dim: int, rank: int, num_experts: int) -> None:
        super().__init__()
        self.dim, self.rank, self.num_experts = dim, rank, num_experts
        self.v = nn.Parameter(self._uniform((num_experts, dim, rank), dim))
        self.c = nn.Parameter(self._uniform((num_experts, rank, rank), rank))
        self.u = nn.Parameter(self._uniform((num_experts, dim, rank), rank))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.gate = nn.Linear(dim, num_experts, bias=False) if num_experts > 1 else None

    @staticmethod
    def _uniform(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
        """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the scale of `nn.Linear`'s default init."""
        bound = 1.0 / math.sqrt(fan_in)
        return torch.empty(shape).uniform_(-bound, bound)

    def experts(self, x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Expert outputs ``E_i(x_l)``: ``x0 [B, d]``, ``x_l [B, d]`` -> ``[B, E, d]``."""
        z = torch.tanh(torch.einsum("edr,bd->ber", self.v, x))  # g(V_i^T x_l) [B, E, r]
        z = torch.tanh(torch.einsum("ers,bes->ber", self.c, z))  # g(C_i z) [B, E, r]
        return x0.unsqueeze(1) * (torch.einsum("edr,ber->bed", self.u, z) + self.bias)

    def gate_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax gate over the experts ``[B, E]`` (ones for one expert)."""
        if self.gate is None:
            return x.new_ones(x.shape[0], 1)
        return torch.softmax(self.gate(x), dim=-1)

    def forward(self, x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x0 [B, d]``, ``x_l [B, d]`` -> ``x_{l+1} [B, d]``."""
        mixed = (self.gate_weights(x).unsqueeze(-1) * self.experts(x0, x)).sum(dim=1)
        return mixed + x


@register_model("dcnv2")
class DCNv2(nn.Module):
    """DCN-V2 over the field matrix ``[B, F, D]`` flattened to ``x0 [B, d]``, d = F*D.

    ``num_cross_layers`` cross layers map ``x0`` to ``x_L [B, d]``. Stacked: the deep tower on
    ``x_L`` then a linear layer; parallel: the linear layer on concat(``x_L``, tower(``x0``))
    ``[B, d + h]`` (h the last hidden width). Without hidden widths: the linear layer on ``x_L``.
    It gives ``n_heads`` logits, passed through a sigmoid: one score in [0, 1] per label head.
    """

    config_class: ClassVar[type] = DCNv2Config

    def __init__(self, spec: ModelSpec, config: DCNv2Config, n_heads: int = 1) -> None:
        super().__init__()
        check_n_heads(n_heads)
        self.spec, self.config, self.n_heads = spec, config, n_heads
        self.embeddings = FieldEmbeddings(spec, config.embedding_dim)
        dim = self.embeddings.n_fields() * config.embedding_dim
        rank = config.low_rank
        self.cross = nn.ModuleList(
            CrossLayer(dim) if rank is None
            else LowRankMixtureCrossLayer(dim, rank, config.num_experts)
            for _ in range(config.num_cross_layers))
        self.tower = (DNNTower(dim, config.mlp_hidden, config.activation, config.dropout)
                      if config.mlp_hidden else None)
        if self.tower is None or config.structure == "stacked":
            head_dim = dim if self.tower is None else self.tower.output_dim
        else:
            head_dim = dim + self.tower.output_dim
        self.head = nn.Linear(head_dim, n_heads)

    def cross_network(self, x0: torch.Tensor) -> torch.Tensor:
        """The cross layers: ``x0 [B, d] -> x_L [B, d]``."""
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        return x

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """Per-head scores in [0, 1]: ``[B, n_heads]``."""
        x0 = self.embeddings.field_matrix(batch).flatten(1)  # [B, d]
        crossed = self.cross_network(x0)  # [B, d]
        if self.tower is None:
            hidden = crossed
        elif self.config.structure == "stacked":
            hidden = self.tower(crossed)  # [B, h]
        else:
            hidden = torch.cat([crossed, self.tower(x0)], dim=-1)  # [B, d + h]
        return torch.sigmoid(self.head(hidden))
