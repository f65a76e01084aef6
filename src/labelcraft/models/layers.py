"""Building blocks of the CTR backbones: Dice activation, MLP, DIN target attention and the
per-field embedding tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from labelcraft.models.batch import ModelSpec, RecBatch

ACTIVATIONS = ("dice", "relu")


class Dice(nn.Module):
    """Data-adaptive activation of DIN (Zhou et al., KDD 2018).

    ``p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps))`` and ``f(s) = p*s + (1-p)*alpha*s``,
    per feature, with a learnable ``alpha`` (initialised to 0). The moments are the batch's
    (biased variance, over every leading dimension) in training mode and the running
    estimates in eval mode, like ``BatchNorm1d(affine=False)``.

    Running statistics are buffers updated in place during a training-mode forward (exponential
    average with ``momentum``, unbiased variance, skipped when the batch has fewer than 2 rows).
    Under ``torch.func.functional_call`` the update lands on whichever buffer tensors the call
    uses: the ones passed in the dictionary, or the module's own when only parameters are passed.
    Pass clones of the buffers to keep a virtual step from touching the real running statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-8, momentum: float = 0.1) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"Dice needs num_features >= 1, got {num_features}")
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"Dice momentum must be in (0, 1], got {momentum}")
        self.eps = eps
        self.momentum = momentum
        self.alpha = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., F] -> [..., F]``; statistics over all leading dimensions."""
        if self.training:
            flat = x.reshape(-1, x.shape[-1])
            n = flat.shape[0]
            mean = flat.sum(dim=0) / max(n, 1)  # an empty batch gives 0, not NaN
            var = (flat - mean).square().sum(dim=0) / max(n, 1)
            if n > 1:
                with torch.no_grad():
                    unbiased = var.detach() * (n / (n - 1))
                    self.running_mean.mul_(1.0 - self.momentum).add_(self.momentum * mean.detach())
                    self.running_var.mul_(1.0 - self.momentum).add_(self.momentum * unbiased)
        else:
            mean, var = self.running_mean, self.running_var
        p = torch.sigmoid((x - mean) * torch.rsqrt(var + self.eps))
        return x * (p + (1.0 - p) * self.alpha)


def make_activation(name: str, num_features: int) -> nn.Module:
    """Activation module by name (``"dice"`` or ``"relu"``) for ``num_features`` features."""
    if name == "dice":
        return Dice(num_features)
    if name == "relu":
        return nn.ReLU()
    raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")


class DNNTower(nn.Module):
    """Hidden layers of a deep tower: ``Linear -> activation -> Dropout`` per width.

    ``x [..., input_dim] -> [..., output_dim]`` with ``output_dim`` the last hidden width (the
    tower is the identity, ``output_dim == input_dim``, without hidden widths). Dropout (rate
    ``dropout``, only in train mode) follows each activation, as FuxiCTR's ``MLP_Block``; with
    ``dropout == 0`` no dropout module is created.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int],
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), make_activation(activation, hidden)]
            if dropout > 0.0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        self.input_dim, self.output_dim = input_dim, width
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., input_dim] -> [..., output_dim]``."""
        return self.net(x)


class MLP(nn.Module):
    """A `DNNTower` of the hidden widths, then a plain ``Linear`` to ``output_dim``.

    ``x [..., input_dim] -> [..., output_dim]`` (no output activation).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int],
        output_dim: int,
        activation: str = "dice",
    ) -> None:
        super().__init__()
        tower = DNNTower(input_dim, hidden_dims, activation)
        self.net = nn.Sequential(*tower.net, nn.Linear(tower.output_dim, output_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., input_dim] -> [..., output_dim]``."""
        return self.net(x)


class TargetAttention(nn.Module):
    """DIN local activation unit with weighted-sum pooling (no softmax, as in DIN).

    Each real history item ``k`` gets the weight ``MLP([q, k, q - k, q * k])`` (hidden widths
    ``hidden_dims``, default one layer of 36 with Dice) and the output is
    ``sum_l w_l * k_l`` over real items. Padded items get weight 0: the unit only runs on the
    real items (gathered with the mask), so padded slots never enter the result nor Dice's batch
    statistics, in training as in eval mode.
    """

    def __init__(
        self, dim: int, hidden_dims: Sequence[int] = (36,), activation: str = "dice"
    ) -> None:
        super().__init__()
        self.unit = MLP(4 * dim, hidden_dims, 1, activation)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``query [B, D]``, ``keys [B, L, D]``, ``mask [B, L]`` (True = real) -> ``[B, D]``."""
        batch_index = mask.nonzero(as_tuple=True)[0]  # [N] batch row of each real item
        k = keys[mask]  # [N, D]
        q = query.index_select(0, batch_index)  # [N, D]
        weights = self.unit(torch.cat([q, k, q - k, q * k], dim=-1))  # [N, 1]
        return query.new_zeros(query.shape).index_add(0, batch_index, weights * k)


class FieldEmbeddings(nn.Module):
    """One embedding table per field of a `ModelSpec` (dimension D, index 0 = padding).

    Tables are created in the spec's field order (user fields, then item fields, as
    `ID_FIELDS` declares them), so a seeded model draws the same initial weights for the same
    fields.
    """

    def __init__(self, spec: ModelSpec, dim: int) -> None:
        super().__init__()
        self.spec, self.dim = spec, dim
        self.tables = nn.ModuleDict({name: nn.Embedding(size, dim, padding_idx=0)
                                     for name, size in spec.vocab_sizes.items()})

    def fields(self, ids: Mapping[str, torch.Tensor], names: tuple[str, ...]) -> torch.Tensor:
        """Embeddings of fields ``names`` stacked: ids ``[...]`` -> ``[..., len(names), D]``."""
        return torch.stack([self.tables[name](ids[name]) for name in names], dim=-2)

    def users(self, batch: RecBatch) -> torch.Tensor:
        """User fields of the candidates ``[B, U, D]``."""
        return self.fields(batch.ids, self.spec.user_fields)

    def items(self, batch: RecBatch) -> torch.Tensor:
        """Item fields of the candidates ``[B, I, D]``."""
        return self.fields(batch.ids, self.spec.item_fields)

    def history(self, batch: RecBatch) -> torch.Tensor:
        """Item fields of the history ``[B, L, I, D]`` (padding rows are the zero vectors)."""
        return self.fields(batch.history, self.spec.item_fields)

    def pooled_history(self, batch: RecBatch) -> torch.Tensor:
        """Mean over the real history items of each item field ``[B, I, D]`` (zeros for an empty
        history): the pooled history fields of the non-sequential backbones."""
        mask = batch.history_mask.unsqueeze(-1).unsqueeze(-1).to(self.tables[
            self.spec.item_fields[0]].weight.dtype)  # [B, L, 1, 1]
        total = (self.history(batch) * mask).sum(dim=1)  # [B, I, D]
        return total / mask.sum(dim=1).clamp(min=1.0)

    def field_matrix(self, batch: RecBatch) -> torch.Tensor:
        """Every field of a candidate as one row ``[B, F, D]``, F = U + 2I: the user fields, the
        item fields, the pooled history fields (the input of the non-sequential backbones)."""
        return torch.cat([self.users(batch), self.items(batch), self.pooled_history(batch)],
                         dim=1)

    def n_fields(self) -> int:
        """F of `field_matrix`."""
        return len(self.spec.user_fields) + 2 * len(self.spec.item_fields)
