"""FinalMLP (Mao et al., AAAI 2023): two gated MLP streams fused by multi-head bilinear
interaction.

Defaults, FuxiCTR (``model_zoo/FinalMLP``) versus here. FuxiCTR's class defaults are
embedding_dim 10, both streams [64, 64, 64], gate hidden [64], one fusion head, empty gate
contexts; its ``FinalMLP_default`` template uses embedding_dim 16, streams [1024, 512] and
[1024, 512, 256], gate hidden [1024, 512] and 2 fusion heads; ReLU and no dropout throughout.
Here: embedding_dim 12 (as DIN), streams [200, 80] and [200, 80] (one epoch on ~70k rows stays
cheap on a CPU), gate hidden [64] (class default), 2 fusion heads (template), ReLU, dropout 0,
and gate contexts "user" / "item" (the FinalMLP paper's suggestion of a user-side and an
item-side gate; FuxiCTR's empty context is available as "none").
"""

from __future__ import annotations

import logging
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
from labelcraft.models.layers import MLP, DNNTower, FieldEmbeddings
from labelcraft.models.registry import register_model

logger = logging.getLogger(__name__)

CONTEXTS = ("user", "item", "all", "none")
"""Gate contexts: the user fields, the item + pooled history fields, every field, or none (a
learned constant vector of size D, FuxiCTR's empty context)."""


@dataclass(frozen=True)
class FinalMLPConfig:
    """FinalMLP hyper-parameters (the keys accepted by ``build_model("finalmlp", ...)``).

    ``mlp1_hidden`` / ``mlp2_hidden``: widths of the two streams (each layer ``Linear ->
    activation -> dropout``; the stream output is its last hidden layer); ``gate_hidden``: ReLU
    hidden widths of each feature-selection gate (may be empty); ``num_heads``: fusion heads,
    which must divide the last width of both streams; ``stream1_context`` / ``stream2_context``:
    one of `CONTEXTS`; ``dropout``: after every stream activation (0 = none).
    """

    embedding_dim: int = 12
    mlp1_hidden: tuple[int, ...] = (200, 80)
    mlp2_hidden: tuple[int, ...] = (200, 80)
    gate_hidden: tuple[int, ...] = (64,)
    num_heads: int = 2
    stream1_context: str = "user"
    stream2_context: str = "item"
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        if self.embedding_dim < 1:
            raise ValueError(f"FinalMLPConfig.embedding_dim must be >= 1, got "
                             f"{self.embedding_dim}")
        for name in ("mlp1_hidden", "mlp2_hidden", "gate_hidden"):
            check_widths(self, name)
        check_positive_int(self, "num_heads")
        for name in ("mlp1_hidden", "mlp2_hidden"):
            widths = getattr(self, name)
            if not widths:
                raise ValueError(f"FinalMLPConfig.{name} needs at least one width")
            if widths[-1] % self.num_heads:
                raise ValueError(f"FinalMLPConfig.{name}[-1] = {widths[-1]} must be divisible "
                                 f"by num_heads = {self.num_heads}")
        for name in ("stream1_context", "stream2_context"):
            if getattr(self, name) not in CONTEXTS:
                raise ValueError(f"FinalMLPConfig.{name} must be one of {', '.join(CONTEXTS)}, "
                                 f"got {getattr(self, name)!r}")
        check_activation(self)
        check_dropout(self)


class FeatureGate(nn.Module):
    """Feature selection of FinalMLP: ``gate = 2 * sigmoid(MLP(context))``, in (0, 2).

    ``context [B, C] -> [B, output_dim]``; the MLP has ReLU hidden layers ``hidden_dims`` (as
    FuxiCTR's, whatever the streams use) and a linear output. A gate at 1 leaves an embedding
    coordinate unchanged (the initial value for a zero MLP output).
    """

    def __init__(self, context_dim: int, hidden_dims: tuple[int, ...], output_dim: int) -> None:
        super().__init__()
        self.mlp = MLP(context_dim, hidden_dims, output_dim, activation="relu")

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """``context [B, C] -> gate [B, output_dim]`` in (0, 2)."""
        return 2.0 * torch.sigmoid(self.mlp(context))


class BilinearFusion(nn.Module):
    """Multi-head bilinear fusion of two stream outputs into ``n_outputs`` logits.

    The streams ``o1 [B, d1]`` and ``o2 [B, d2]`` are split into ``num_heads`` consecutive
    chunks ``o1_h [d1/H]``, ``o2_h [d2/H]``; output ``k`` is
    ``bias_k + w1_k . o1 + w2_k . o2 + sum_h o1_h^T W_{h,k} o2_h``. Every output (label head)
    has its own ``w1_k``, ``w2_k``, ``W_{., k}`` and ``bias_k``; the streams are shared.
    Parameters: ``w1 [n_outputs, d1]``, ``w2 [n_outputs, d2]``, ``bilinear [H, d1/H, d2/H,
    n_outputs]``, ``bias [n_outputs]`` (one bias where FuxiCTR has two redundant ones).
    """

    def __init__(self, dim1: int, dim2: int, num_heads: int, n_outputs: int) -> None:
        super().__init__()
        if dim1 % num_heads or dim2 % num_heads:
            raise ValueError(f"BilinearFusion: dims {dim1} and {dim2} must be divisible by "
                             f"num_heads = {num_heads}")
        self.num_heads = num_heads
        self.w1 = nn.Linear(dim1, n_outputs, bias=False)
        self.w2 = nn.Linear(dim2, n_outputs, bias=False)
        head1, head2 = dim1 // num_heads, dim2 // num_heads
        self.bilinear = nn.Parameter(torch.empty(num_heads, head1, head2, n_outputs))
        # Xavier-normal over the [H * d1/H * d2/H, n_outputs] matrix the heads form
        std = math.sqrt(2.0 / (num_heads * head1 * head2 + n_outputs))
        nn.init.normal_(self.bilinear, mean=0.0, std=std)
        self.bias = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, o1: torch.Tensor, o2: torch.Tensor) -> torch.Tensor:
        """``o1 [B, d1]``, ``o2 [B, d2]`` -> logits ``[B, n_outputs]``."""
        heads1 = o1.unflatten(-1, (self.num_heads, -1))  # [B, H, d1/H]
        heads2 = o2.unflatten(-1, (self.num_heads, -1))  # [B, H, d2/H]
        pairwise = torch.einsum("bhi,hijk,bhj->bk", heads1, self.bilinear, heads2)  # [B, K]
        return self.w1(o1) + self.w2(o2) + pairwise + self.bias


@register_model("finalmlp")
class FinalMLP(nn.Module):
    """FinalMLP: two MLP streams over the gated, flattened field matrix, bilinear fusion.

    With F fields (U user, I item, I pooled history; `FieldEmbeddings.field_matrix`) of
    dimension D, the input is ``e = field_matrix [B, F, D]`` flattened to ``[B, F*D]``. Stream
    ``s`` reads ``e * gate_s(context_s)`` (``gate_s [B, F*D]`` in (0, 2), `FeatureGate`) and
    returns its last hidden layer ``o_s [B, d_s]``; `BilinearFusion` maps ``(o1, o2)`` to
    ``n_heads`` logits and the model returns their sigmoid ``[B, n_heads]``.

    Gate contexts (``stream1_context`` / ``stream2_context``): "user" = the user fields
    ``[B, U*D]``, "item" = item + pooled history fields ``[B, 2I*D]``, "all" = ``[B, F*D]``,
    "none" = a learned vector ``[D]`` shared by all candidates (N(0, 1) at start, where
    FuxiCTR starts at zeros, which give the gate's first layer no gradient). The contexts
    read the same embeddings as the streams (FuxiCTR gives each gate context its own tables;
    here every embedding comes from the one `FieldEmbeddings`, so a new field needs no change).
    """

    config_class: ClassVar[type] = FinalMLPConfig

    def __init__(self, spec: ModelSpec, config: FinalMLPConfig, n_heads: int = 1) -> None:
        super().__init__()
        check_n_heads(n_heads)
        d = config.embedding_dim
        self.spec, self.config, self.n_heads = spec, config, n_heads
        self.embeddings = FieldEmbeddings(spec, d)
        flat = self.embeddings.n_fields() * d
        n_user, n_item = len(spec.user_fields), len(spec.item_fields)
        widths = {"user": n_user * d, "item": 2 * n_item * d, "all": flat, "none": d}
        self.context_bias = nn.ParameterDict()
        gates = []
        for stream, context in enumerate((config.stream1_context, config.stream2_context), 1):
            if widths[context] == 0:
                raise ValueError(f"FinalMLP: stream{stream}_context {context!r} has no fields "
                                 f"in this spec ({list(spec.vocab_sizes)})")
            if context == "none":
                # N(0, 1) like an embedding row: FuxiCTR's zeros would leave the gate's first
                # layer without a gradient at the start
                self.context_bias[f"stream{stream}"] = nn.Parameter(torch.randn(d))
            gates.append(FeatureGate(widths[context], config.gate_hidden, flat))
        self.gate1, self.gate2 = gates
        self.mlp1 = DNNTower(flat, config.mlp1_hidden, config.activation, config.dropout)
        self.mlp2 = DNNTower(flat, config.mlp2_hidden, config.activation, config.dropout)
        self.fusion = BilinearFusion(config.mlp1_hidden[-1], config.mlp2_hidden[-1],
                                     config.num_heads, n_heads)
        logger.debug("FinalMLP: %d fields x %d dims, contexts %s / %s", flat // d, d,
                     config.stream1_context, config.stream2_context)

    def context(self, stream: int, fields: torch.Tensor) -> torch.Tensor:
        """Gate context of stream 1 or 2 from ``fields = field_matrix [B, F, D]``: ``[B, C]``."""
        which = self.config.stream1_context if stream == 1 else self.config.stream2_context
        n_user = len(self.spec.user_fields)
        if which == "user":
            return fields[:, :n_user].flatten(1)
        if which == "item":
            return fields[:, n_user:].flatten(1)
        if which == "all":
            return fields.flatten(1)
        return self.context_bias[f"stream{stream}"].expand(fields.shape[0], -1)

    def gates(self, batch: RecBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The two feature-selection gates ``[B, F*D]`` each, in (0, 2)."""
        fields = self.embeddings.field_matrix(batch)
        return self.gate1(self.context(1, fields)), self.gate2(self.context(2, fields))

    def forward(self, batch: RecBatch) -> torch.Tensor:
        """Per-head scores in [0, 1]: ``[B, n_heads]``."""
        fields = self.embeddings.field_matrix(batch)  # [B, F, D]
        flat = fields.flatten(1)  # [B, F*D]
        o1 = self.mlp1(flat * self.gate1(self.context(1, fields)))  # [B, d1]
        o2 = self.mlp2(flat * self.gate2(self.context(2, fields)))  # [B, d2]
        return torch.sigmoid(self.fusion(o1, o2))
