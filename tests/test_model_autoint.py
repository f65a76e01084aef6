"""The AutoInt and AutoInt+ backbones (``build_model("autoint" | "autoint+", ...)``): config
checks, shapes, seeded values, the self-attention layer against a hand computation, and the
AutoInt+ deep tower on top of AutoInt."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labelcraft.models import MODEL_REGISTRY, build_model
from labelcraft.models.autoint import (  # importing registers "autoint" and "autoint+"
    AutoInt,
    AutoIntConfig,
    AutoIntPlus,
    AutoIntPlusConfig,
    MultiHeadSelfAttention,
)
from tests.synthetic_features import four_field_spec, random_batch

SPEC = four_field_spec(5, 12, 5, 6)  # U = 1 user field, I = 3 item fields: F = 1 + 2*3 = 7
NAMES = ["autoint", "autoint+"]


def seeded(name: str, params: dict | None = None, n_heads: int = 1, seed: int = 0) -> AutoInt:
    torch.manual_seed(seed)
    model = build_model(name, SPEC, params or {}, n_heads=n_heads)
    assert isinstance(model, AutoInt)
    return model


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered_with_their_configs() -> None:
    assert MODEL_REGISTRY["autoint"] is AutoInt and AutoInt.config_class is AutoIntConfig
    assert MODEL_REGISTRY["autoint+"] is AutoIntPlus
    assert AutoIntPlus.config_class is AutoIntPlusConfig


@pytest.mark.parametrize("name", NAMES)
def test_config_rejects_bad_values_and_unknown_keys(name: str) -> None:
    typo = r"'num_head' \(did you mean 'num_heads'\?\).*valid keys are: embedding_dim, "
    with pytest.raises(ValueError, match=typo):
        build_model(name, SPEC, {"num_head": 2})
    for key, value, message in [
        ("num_layers", 0, "num_layers must be an int >= 1, got 0"),
        ("num_heads", 0, "num_heads must be an int >= 1, got 0"),
        ("attention_dim", 1.5, r"'attention_dim' \(.*\) must be an integer, got 1.5"),
        ("embedding_dim", 0, "embedding_dim must be an int >= 1, got 0"),
        ("use_scale", "yes", r"'use_scale' \(.*\) must be true or false, got 'yes'"),
        ("dropout", 1.5, r"dropout must be in \[0, 1\), got 1.5"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_model(name, SPEC, {key: value})
    with pytest.raises(ValueError, match="n_heads must be >= 1"):
        build_model(name, SPEC, {}, n_heads=0)


def test_the_deep_tower_keys_belong_to_autoint_plus_only() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter of model 'autoint'.*'mlp_hidden'"):
        build_model("autoint", SPEC, {"mlp_hidden": [4]})
    with pytest.raises(ValueError, match=r"mlp_hidden must be positive ints, got \[4, 0\]"):
        build_model("autoint+", SPEC, {"mlp_hidden": [4, 0]})
    with pytest.raises(ValueError, match="mlp_hidden must not be empty"):
        build_model("autoint+", SPEC, {"mlp_hidden": []})
    with pytest.raises(ValueError, match="activation must be one of dice, relu, got 'elu'"):
        build_model("autoint+", SPEC, {"activation": "elu"})
    assert AutoIntPlusConfig(mlp_hidden=[3]).mlp_hidden == (3,)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_heads", [1, 2])
def test_output_shape(name: str, n_heads: int) -> None:
    out = seeded(name, n_heads=n_heads)(random_batch(SPEC, 6, 4, seed=1))
    assert out.shape == (6, n_heads)
    assert bool(((out > 0) & (out < 1)).all())


@pytest.mark.parametrize(("name", "expected"), [
    ("autoint", [[0.464491, 0.504458], [0.431388, 0.570336], [0.383774, 0.599099],
                 [0.482195, 0.465342]]),
    ("autoint+", [[0.465994, 0.490433], [0.443095, 0.577734], [0.37911, 0.579086],
                  [0.47972, 0.450961]]),
])
def test_seeded_value(name: str, expected: list[list[float]]) -> None:
    """Default config, 2 heads, ``torch.manual_seed(0)``, eval mode, on ``random_batch(SPEC, 4,
    3, seed=0)``: the scores computed once with this implementation (atol 1e-5)."""
    model = seeded(name, n_heads=2).eval()
    torch.testing.assert_close(model(random_batch(SPEC, 4, 3, seed=0)), torch.tensor(expected),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("use_scale", [False, True])
def test_attention_weights_sum_to_one_over_fields(use_scale: bool) -> None:
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(5, head_dim=3, num_heads=2, use_scale=use_scale)
    weights = layer.attention(torch.randn(4, 7, 5))
    assert weights.shape == (4, 2, 7, 7)
    assert bool((weights >= 0).all())
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(4, 2, 7))


def test_one_head_layer_is_the_computation_by_hand() -> None:
    """One head, D_in = 3 != d' = 2 (so a residual projection): for field i,
    ``relu(sum_j softmax_j(q_i . k_j) v_j + W_res x_i)``, with explicit loops."""
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(3, head_dim=2, num_heads=1)
    assert layer.residual is not None
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        wq, wk, wv = layer.query.weight, layer.key.weight, layer.value.weight  # [2, 3]
        wr = layer.residual.weight
        expected = torch.zeros(2, 4, 2)
        for n in range(2):
            q, k, v = x[n] @ wq.T, x[n] @ wk.T, x[n] @ wv.T  # [F, d']
            for i in range(4):
                logits = [float(q[i] @ k[j]) for j in range(4)]
                total = sum(math.exp(s) for s in logits)
                mixed = sum(math.exp(logits[j]) / total * v[j] for j in range(4))
                expected[n, i] = torch.relu(mixed + wr @ x[n, i])
    torch.testing.assert_close(layer(x), expected)


def test_heads_are_independent_one_head_layers_and_the_residual_is_identity() -> None:
    """Two heads of width 2 on D_in = 4 (no projection): each head is the 1-head layer with its
    rows of the weights; the output is relu(concat(heads) + x); ``use_scale`` divides the
    attention logits by sqrt(d')."""
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(4, head_dim=2, num_heads=2, use_scale=True)
    assert layer.residual is None
    x = torch.randn(3, 5, 4)
    heads = []
    for h in range(2):
        single = MultiHeadSelfAttention(4, head_dim=2, num_heads=1)
        rows = slice(2 * h, 2 * h + 2)
        with torch.no_grad():
            single.query.weight.copy_(layer.query.weight[rows] / math.sqrt(2.0))
            single.key.weight.copy_(layer.key.weight[rows])
            single.value.weight.copy_(layer.value.weight[rows])
        weights = single.attention(x)[:, 0]  # [B, F, F]
        heads.append(weights @ single.value(x))
    torch.testing.assert_close(layer(x), torch.relu(torch.cat(heads, dim=-1) + x))


def test_layer_widths_and_flattened_head() -> None:
    model = seeded("autoint", {"embedding_dim": 3, "num_layers": 3, "num_heads": 2,
                               "attention_dim": 4})
    layers = list(model.layers)
    assert len(layers) == 3
    assert [layer.residual is None for layer in layers] == [False, True, True]
    assert model.head.in_features == 7 * 2 * 4  # F * H * d'


def test_autoint_plus_is_autoint_plus_a_deep_tower() -> None:
    """Same config: AutoInt+ has more parameters; with the same seed it draws AutoInt's weights
    first, and its logits are AutoInt's plus the tower's on the flattened ``[B, F*D]``."""
    shared = {"embedding_dim": 4, "num_layers": 2, "num_heads": 2, "attention_dim": 3}
    plain, plus = seeded("autoint", shared).eval(), seeded("autoint+", shared).eval()
    assert isinstance(plus, AutoIntPlus)
    assert n_parameters(plus) > n_parameters(plain)
    assert plus.tower.input_dim == 7 * 4
    tower = n_parameters(plus.tower) + n_parameters(plus.tower_head)
    assert n_parameters(plus) == n_parameters(plain) + tower
    plain_state = plain.state_dict()
    for key, value in plain_state.items():
        torch.testing.assert_close(plus.state_dict()[key], value, rtol=0, atol=0)
    batch = random_batch(SPEC, 5, 3, seed=2)
    fields = plus.embeddings.field_matrix(batch)
    deep = plus.tower_head(plus.tower(fields.flatten(1)))
    torch.testing.assert_close(plus(batch), torch.sigmoid(plain.logits(fields) + deep))


def test_dropout_only_in_train_mode() -> None:
    model = seeded("autoint+", {"dropout": 0.4})
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 2 + 2  # attention, tower
    batch = random_batch(SPEC, 8, 3, seed=3)
    model.eval()
    torch.testing.assert_close(model(batch), model(batch), rtol=0, atol=0)
    model.train()
    torch.manual_seed(1)
    first = model(batch)
    assert (first - model(batch)).abs().max() > 1e-6
