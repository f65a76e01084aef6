"""The prediction part of a backbone: a shared bottom or MMoE over H heads (logits).

``shared_bottom`` is one MLP whose last layer has one logit per head (every backbone's default,
the heads share every hidden layer). ``mmoe`` (Ma et al., KDD 2018) has ``num_experts`` expert
towers over the same input, one softmax gate per head mixing the experts' outputs, and a small
tower per head to its logit, so tasks that disagree can use different experts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from labelcraft.models.layers import MLP, DNNTower

TOWERS = ("shared_bottom", "mmoe")


class MMoE(nn.Module):
    """Multi-gate mixture of experts: ``x [B, input_dim] -> [B, n_heads]`` logits.

    Experts: `DNNTower` (``hidden_dims``, ``activation``) each ``[B, E]``; gates: one linear
    layer to ``num_experts`` softmax weights per head; head h's tower: a `MLP` of
    ``tower_hidden`` from its mixture ``[B, E]`` to one logit.
    """

    def __init__(self, input_dim: int, hidden_dims: Sequence[int], n_heads: int, *,
                 num_experts: int, tower_hidden: Sequence[int], activation: str) -> None:
        super().__init__()
        self.experts = nn.ModuleList(DNNTower(input_dim, hidden_dims, activation)
                                     for _ in range(num_experts))
        width = self.experts[0].output_dim
        self.gates = nn.Linear(input_dim, n_heads * num_experts)
        self.towers = nn.ModuleList(MLP(width, tower_hidden, 1, activation)
                                    for _ in range(n_heads))
        self.n_heads, self.num_experts = n_heads, num_experts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, input_dim] -> [B, n_heads]`` logits."""
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)  # [B, X, E]
        gates = self.gates(x).view(len(x), self.n_heads, self.num_experts).softmax(dim=-1)
        mixed = gates @ experts  # [B, H, E]
        return torch.cat([tower(mixed[:, h]) for h, tower in enumerate(self.towers)], dim=-1)


def task_towers(input_dim: int, hidden_dims: Sequence[int], n_heads: int, *, towers: str,
                activation: str, num_experts: int = 4,
                tower_hidden: Sequence[int] = (32,)) -> nn.Module:
    """The prediction part ``[B, input_dim] -> [B, n_heads]`` logits: ``"shared_bottom"`` (one
    `MLP` of ``hidden_dims``) or ``"mmoe"`` (`MMoE`, experts of ``hidden_dims``)."""
    if towers == "shared_bottom":
        return MLP(input_dim, hidden_dims, n_heads, activation)
    if towers == "mmoe":
        return MMoE(input_dim, hidden_dims, n_heads, num_experts=num_experts,
                    tower_hidden=tower_hidden, activation=activation)
    raise ValueError(f"unknown towers {towers!r}; valid: {', '.join(TOWERS)}")
