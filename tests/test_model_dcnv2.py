"""The DCN-V2 backbone (``build_model("dcnv2", ...)``): config checks, shapes, a seeded value,
both cross layers against their formulas computed by hand, and both structures."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jvp

from labelcraft.models import MODEL_REGISTRY, build_model, label_loss
from labelcraft.models.dcnv2 import (  # importing registers "dcnv2"
    CrossLayer,
    DCNv2,
    DCNv2Config,
    LowRankMixtureCrossLayer,
)
from tests.synthetic_features import four_field_spec, random_batch

SPEC = four_field_spec(5, 12, 5, 6)  # U = 1 user field, I = 3 item fields: F = 1 + 2*3 = 7
SMALL = {"embedding_dim": 3, "mlp_hidden": [5, 4], "num_cross_layers": 2}


def seeded(params: dict | None = None, n_heads: int = 1, seed: int = 0) -> DCNv2:
    torch.manual_seed(seed)
    model = build_model("dcnv2", SPEC, params or {}, n_heads=n_heads)
    assert isinstance(model, DCNv2)
    return model


def test_registered_with_its_config() -> None:
    assert MODEL_REGISTRY["dcnv2"] is DCNv2 and DCNv2.config_class is DCNv2Config


def test_config_rejects_bad_values_and_unknown_keys() -> None:
    typo = r"'num_cross_layer' \(did you mean 'num_cross_layers'\?\).*valid keys are: "
    with pytest.raises(ValueError, match=typo):
        build_model("dcnv2", SPEC, {"num_cross_layer": 2})
    for key, value, message in [
        ("structure", "serial", "structure must be one of parallel, stacked, got 'serial'"),
        ("low_rank", 0, r"low_rank must be None \(full rank\) or an int >= 1, got 0"),
        ("low_rank", 2.5, r"'low_rank' \(.*\) must be an integer, got 2.5"),
        ("num_experts", 0, "num_experts must be an int >= 1, got 0"),
        ("num_cross_layers", 0, "num_cross_layers must be an int >= 1, got 0"),
        ("embedding_dim", -1, "embedding_dim must be an int >= 1, got -1"),
        ("mlp_hidden", [8, -2], r"mlp_hidden must be positive ints, got \[8, -2\]"),
        ("activation", "tanh", "activation must be one of dice, relu, got 'tanh'"),
        ("dropout", -0.1, r"dropout must be in \[0, 1\), got -0.1"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_model("dcnv2", SPEC, {key: value})
    with pytest.raises(ValueError, match="n_heads must be >= 1"):
        build_model("dcnv2", SPEC, {}, n_heads=0)
    assert DCNv2Config(mlp_hidden=[6]).mlp_hidden == (6,)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_heads", [1, 2])
@pytest.mark.parametrize("structure", ["stacked", "parallel"])
@pytest.mark.parametrize("low_rank", [None, 2])
def test_output_shape(n_heads: int, structure: str, low_rank: int | None) -> None:
    model = seeded({**SMALL, "structure": structure, "low_rank": low_rank}, n_heads=n_heads)
    out = model(random_batch(SPEC, 6, 4, seed=1))
    assert out.shape == (6, n_heads)
    assert bool(((out > 0) & (out < 1)).all())


@pytest.mark.parametrize(("params", "expected"), [
    ({}, [[0.547517, 0.390536], [0.247153, 0.399895], [0.49196, 0.435569],
          [0.492607, 0.470207]]),
    ({"low_rank": 4, "structure": "stacked"},
     [[0.517332, 0.504745], [0.537121, 0.521388], [0.513187, 0.522571],
      [0.529451, 0.494994]]),
])
def test_seeded_value(params: dict, expected: list[list[float]]) -> None:
    """Default config (full rank, parallel) and low rank 4 stacked; 2 heads,
    ``torch.manual_seed(0)``, eval mode, on ``random_batch(SPEC, 4, 3, seed=0)``: the scores
    computed once with this implementation (atol 1e-5)."""
    model = seeded(params, n_heads=2).eval()
    torch.testing.assert_close(model(random_batch(SPEC, 4, 3, seed=0)), torch.tensor(expected),
                               rtol=0, atol=1e-5)


def test_full_rank_cross_layer_is_the_formula_by_hand() -> None:
    """``x_{l+1}[i] = x0[i] * (sum_j W[i, j] x_l[j] + b[i]) + x_l[i]``, element by element."""
    torch.manual_seed(0)
    layer = CrossLayer(3)
    x0 = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    x = torch.tensor([[0.3, 0.1, -0.7], [2.0, -1.0, 0.25]])
    w, b = layer.linear.weight.tolist(), layer.linear.bias.tolist()
    expected = [[float(x0[n, i]) * (sum(w[i][j] * float(x[n, j]) for j in range(3)) + b[i])
                 + float(x[n, i]) for i in range(3)] for n in range(2)]
    torch.testing.assert_close(layer(x0, x), torch.tensor(expected))


def test_low_rank_mixture_cross_layer_is_the_formula_by_hand() -> None:
    """Per candidate: ``E_i = x0 * (U_i tanh(C_i tanh(V_i^T x_l)) + b)``, gate
    ``G = softmax(W_g x_l)``, ``x_{l+1} = sum_i G_i E_i + x_l`` (matrix-vector products)."""
    torch.manual_seed(0)
    layer = LowRankMixtureCrossLayer(3, rank=2, num_experts=2)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))  # non-zero, to check it enters
    x0 = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    x = torch.tensor([[0.3, 0.1, -0.7], [2.0, -1.0, 0.25]])
    assert layer.gate is not None
    rows = []
    with torch.no_grad():
        for n in range(2):
            logits = [float(layer.gate.weight[i] @ x[n]) for i in range(2)]
            gate = [math.exp(v) / sum(math.exp(u) for u in logits) for v in logits]
            row = x[n].clone()
            for i in range(2):
                z = torch.tanh(layer.v[i].T @ x[n])  # [r]
                z = torch.tanh(layer.c[i] @ z)  # [r]
                row = row + gate[i] * x0[n] * (layer.u[i] @ z + layer.bias)
            rows.append(row)
    torch.testing.assert_close(layer(x0, x), torch.stack(rows))
    assert layer.experts(x0, x).shape == (2, 2, 3)
    torch.testing.assert_close(layer.gate_weights(x).sum(-1), torch.ones(2))


def test_one_expert_has_no_gate() -> None:
    torch.manual_seed(0)
    layer = LowRankMixtureCrossLayer(4, rank=3, num_experts=1)
    assert layer.gate is None
    x0, x = torch.randn(5, 4), torch.randn(5, 4)
    torch.testing.assert_close(layer(x0, x), layer.experts(x0, x)[:, 0] + x)


@pytest.mark.parametrize("low_rank", [None, 3])
def test_stacked_and_parallel_structures(low_rank: int | None) -> None:
    batch = random_batch(SPEC, 6, 3, seed=4)
    stacked = seeded({**SMALL, "structure": "stacked", "low_rank": low_rank}).eval()
    parallel = seeded({**SMALL, "structure": "parallel", "low_rank": low_rank}).eval()
    d = 7 * 3  # F*D
    assert stacked.tower is not None and parallel.tower is not None
    assert stacked.tower.input_dim == d and parallel.tower.input_dim == d
    assert stacked.head.in_features == 4  # tower(x_L)
    assert parallel.head.in_features == d + 4  # concat(x_L, tower(x0))
    assert len(stacked.cross) == 2
    expected_type = CrossLayer if low_rank is None else LowRankMixtureCrossLayer
    assert all(isinstance(layer, expected_type) for layer in stacked.cross)
    x0 = stacked.embeddings.field_matrix(batch).flatten(1)
    torch.testing.assert_close(
        stacked(batch), torch.sigmoid(stacked.head(stacked.tower(stacked.cross_network(x0)))))
    x0 = parallel.embeddings.field_matrix(batch).flatten(1)
    hidden = torch.cat([parallel.cross_network(x0), parallel.tower(x0)], dim=-1)
    torch.testing.assert_close(parallel(batch), torch.sigmoid(parallel.head(hidden)))
    # without hidden widths both are the cross network then the linear layer
    bare = seeded({**SMALL, "mlp_hidden": [], "low_rank": low_rank})
    assert bare.tower is None and bare.head.in_features == d


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_low_rank_variant_gradients_and_forward_ad(structure: str) -> None:
    """Every parameter of the low-rank mixture model gets a gradient through
    ``functional_call``, and its forward-mode derivative (``jvp``) along a random parameter
    direction matches a central finite difference in float64."""
    model = seeded({**SMALL, "structure": structure, "low_rank": 2, "num_experts": 3},
                   n_heads=2).double()
    batch = random_batch(SPEC, 10, 4, seed=5)
    params = dict(model.named_parameters())
    labels = torch.rand(10, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    loss = label_loss(functional_call(model, params, (batch,)), labels, kind="bce")
    grads = torch.autograd.grad(loss, list(params.values()))
    for key, grad in zip(params, grads, strict=True):
        assert grad.abs().max() > 0, f"no gradient reaches {key}"
    model.eval()
    detached = {k: v.detach() for k, v in params.items()}
    g = torch.Generator().manual_seed(1)
    direction = {k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in detached.items()}

    def scores(values: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(model, values, (batch,))

    _, tangent = jvp(scores, (detached,), (direction,))
    step = 1e-6
    plus = scores({k: v + step * direction[k] for k, v in detached.items()})
    minus = scores({k: v - step * direction[k] for k, v in detached.items()})
    torch.testing.assert_close(tangent, (plus - minus) / (2 * step), rtol=1e-6, atol=1e-8)


def test_dropout_is_in_the_tower_only() -> None:
    model = seeded({**SMALL, "dropout": 0.3})
    assert model.tower is not None
    assert sum(isinstance(m, nn.Dropout) for m in model.tower.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 2
