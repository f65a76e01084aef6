"""FinalMLP backbone: config checks, shapes, a seeded value, the gates and the bilinear fusion."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from labelcraft.models import ModelSpec, build_model, label_loss
from labelcraft.models.batch import RecBatch
from labelcraft.models.finalmlp import BilinearFusion, FinalMLP
from tests.synthetic_features import four_field_spec, random_batch

SPEC = four_field_spec(5, 12, 5, 6)
SMALL = {"embedding_dim": 3, "mlp1_hidden": [6, 4], "mlp2_hidden": [5, 2], "gate_hidden": [3],
         "num_heads": 2}


def seeded(seed: int = 0, params: dict | None = None, n_heads: int = 1,
           spec: ModelSpec = SPEC) -> FinalMLP:
    torch.manual_seed(seed)
    model = build_model("finalmlp", spec, SMALL if params is None else params, n_heads=n_heads)
    assert isinstance(model, FinalMLP)
    return model


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(("params", "message"), [
    ({"mlp1_hiden": [4]}, r"'mlp1_hiden' \(did you mean 'mlp1_hidden'\?\).*valid keys are: "
                          r"embedding_dim, mlp1_hidden"),
    ({"embedding_dim": 0}, "embedding_dim must be >= 1"),
    ({"mlp1_hidden": [8, 0]}, "mlp1_hidden must be positive ints"),
    ({"gate_hidden": [2.5]}, "gate_hidden must be positive ints"),
    ({"mlp2_hidden": []}, "mlp2_hidden needs at least one width"),
    ({"mlp1_hidden": [7], "num_heads": 2}, r"mlp1_hidden\[-1\] = 7 must be divisible by "
                                           r"num_heads = 2"),
    ({"num_heads": 0}, "num_heads must be an int >= 1"),
    ({"stream1_context": "video"}, "stream1_context must be one of user, item, all, none"),
    ({"stream2_context": ""}, "stream2_context must be one of"),
    ({"activation": "gelu"}, "activation must be one of dice, relu"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"dropout": -0.1}, r"dropout must be in \[0, 1\)"),
])
def test_config_rejects_bad_values_and_unknown_keys(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_model("finalmlp", SPEC, params)


def test_config_coerces_lists_and_rejects_zero_heads() -> None:
    model = build_model("finalmlp", SPEC, {"mlp1_hidden": [8, 4], "gate_hidden": []})
    assert isinstance(model, FinalMLP)
    assert model.config.mlp1_hidden == (8, 4)
    assert model.config.gate_hidden == ()
    with pytest.raises(ValueError, match="n_heads must be >= 1"):
        build_model("finalmlp", SPEC, SMALL, n_heads=0)


# ---------------------------------------------------------------- shapes and values


@pytest.mark.parametrize("n_heads", [1, 2])
def test_output_shape_and_range(n_heads: int) -> None:
    out = seeded(n_heads=n_heads)(random_batch(SPEC, 9, 4, seed=1))
    assert out.shape == (9, n_heads)
    assert bool(((out > 0) & (out < 1)).all())
    default = seeded(params={}, n_heads=n_heads)(random_batch(SPEC, 9, 4, seed=1))
    assert default.shape == (9, n_heads)


def test_seeded_value() -> None:
    """Default hyper-parameters, ``torch.manual_seed(0)``, two heads, `random_batch(SPEC, 4, 3,
    seed=0)`: the numbers were computed once with this implementation (a regression check)."""
    model = seeded(seed=0, params={}, n_heads=2)
    expected = torch.tensor([[0.487396, 0.472762], [0.544333, 0.505257],
                             [0.491793, 0.465874], [0.510922, 0.461009]])
    torch.testing.assert_close(model(random_batch(SPEC, 4, 3, seed=0)), expected, rtol=0,
                               atol=1e-5)


# ---------------------------------------------------------------- gates


def hand_gate_mlp(gate: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``2 * sigmoid(W2 relu(W1 x + b1) + b2)`` from the gate's own weights (one hidden layer)."""
    first, _, last = gate.mlp.net
    hidden = torch.clamp(x @ first.weight.T + first.bias, min=0.0)
    return 2.0 * torch.sigmoid(hidden @ last.weight.T + last.bias)


def test_gates_are_in_0_2_and_equal_twice_the_sigmoid_of_their_mlp() -> None:
    model = seeded()  # contexts "user" and "item", gate_hidden [3]
    batch = random_batch(SPEC, 6, 4, seed=2)
    gate1, gate2 = model.gates(batch)
    flat = model.embeddings.n_fields() * 3
    assert gate1.shape == gate2.shape == (6, flat)
    for gate in (gate1, gate2):
        assert bool(((gate > 0) & (gate < 2)).all())
    tables = model.embeddings.tables
    user = tables["user"](batch.ids["user"])  # [B, D]
    items = ("video", "duration_bucket", "tag")
    candidate = torch.cat([tables[name](batch.ids[name]) for name in items], dim=-1)
    mask = batch.history_mask.float()
    pooled = [(tables[name](batch.history[name]) * mask.unsqueeze(-1)).sum(1)
              / mask.sum(1, keepdim=True).clamp(min=1.0) for name in items]
    item_context = torch.cat([candidate, *pooled], dim=-1)  # [B, 2I*D]
    torch.testing.assert_close(gate1, hand_gate_mlp(model.gate1, user))
    torch.testing.assert_close(gate2, hand_gate_mlp(model.gate2, item_context))
    # the streams read the embeddings multiplied by their gates
    x = model.embeddings.field_matrix(batch).flatten(1)
    expected = torch.sigmoid(model.fusion(model.mlp1(x * gate1), model.mlp2(x * gate2)))
    torch.testing.assert_close(model(batch), expected)


def test_gate_on_a_hand_case() -> None:
    """No hidden layer, w = (2, 0, 0), b = -1: ``gate = 2 sigmoid(2 x_0 - 1)``: 1 at x_0 = 1/2,
    2 / (1 + e) at x_0 = 0."""
    model = seeded(params={**SMALL, "gate_hidden": []})
    linear = model.gate1.mlp.net[0]
    with torch.no_grad():
        linear.weight.fill_(0.0)
        linear.weight[:, 0] = 2.0  # every gate unit reads 2 x the first context coordinate
        linear.bias.fill_(-1.0)
    context = torch.tensor([[0.5, 7.0, -3.0], [0.0, 1.0, 1.0]])
    gate = model.gate1(context)
    torch.testing.assert_close(gate[0], torch.full((gate.shape[1],), 1.0))  # 2 sigmoid(0)
    torch.testing.assert_close(gate[1], torch.full((gate.shape[1],), 2.0 / (1.0 + math.e)))


def test_none_and_all_contexts() -> None:
    model = seeded(params={**SMALL, "stream1_context": "none", "stream2_context": "all"})
    batch = random_batch(SPEC, 5, 4, seed=3)
    gate1, gate2 = model.gates(batch)
    # no context: one learned vector [D], the same gate for every candidate
    context = model.context_bias["stream1"]
    assert context.shape == (3,) and bool((context != 0).all())
    torch.testing.assert_close(gate1, hand_gate_mlp(model.gate1, context.expand(5, 3)))
    torch.testing.assert_close(gate1, gate1[:1].expand(5, -1))
    assert model.gate2.mlp.net[0].in_features == model.embeddings.n_fields() * 3
    x = model.embeddings.field_matrix(batch).flatten(1)
    torch.testing.assert_close(gate2, hand_gate_mlp(model.gate2, x))


def test_a_context_without_fields_is_an_error() -> None:
    spec = ModelSpec({"video": 12, "tag": 6})  # no user field
    with pytest.raises(ValueError, match="stream1_context 'user' has no fields"):
        build_model("finalmlp", spec, SMALL)


# ---------------------------------------------------------------- bilinear fusion


def test_bilinear_fusion_single_numbers() -> None:
    """d1 = d2 = 1, one head, one output: ``b + w1 o1 + w2 o2 + o1 W o2``."""
    fusion = BilinearFusion(1, 1, num_heads=1, n_outputs=1)
    with torch.no_grad():
        fusion.w1.weight.fill_(0.5)
        fusion.w2.weight.fill_(-1.0)
        fusion.bilinear.fill_(0.25)
        fusion.bias.fill_(0.1)
    out = fusion(torch.tensor([[2.0]]), torch.tensor([[3.0]]))
    torch.testing.assert_close(out, torch.tensor([[0.1 + 1.0 - 3.0 + 1.5]]))


def test_bilinear_fusion_equals_the_hand_formula_per_head_and_output() -> None:
    torch.manual_seed(0)
    fusion = BilinearFusion(4, 6, num_heads=2, n_outputs=3)
    with torch.no_grad():
        fusion.bias.normal_()
    o1, o2 = torch.randn(5, 4), torch.randn(5, 6)
    w1, w2, big_w, bias = fusion.w1.weight, fusion.w2.weight, fusion.bilinear, fusion.bias
    assert big_w.shape == (2, 2, 3, 3)
    expected = torch.zeros(5, 3)
    for b in range(5):
        for k in range(3):
            value = bias[k] + (w1[k] * o1[b]).sum() + (w2[k] * o2[b]).sum()
            for h in range(2):
                for i in range(2):
                    for j in range(3):
                        value = value + o1[b, 2 * h + i] * big_w[h, i, j, k] * o2[b, 3 * h + j]
            expected[b, k] = value
    torch.testing.assert_close(fusion(o1, o2), expected)
    with pytest.raises(ValueError, match="divisible by num_heads = 4"):
        BilinearFusion(4, 6, num_heads=4, n_outputs=1)


# ---------------------------------------------------------------- gradients, dropout, fields


def test_every_parameter_gets_a_gradient_with_dropout_dice_and_no_context() -> None:
    params = {**SMALL, "stream1_context": "none", "stream2_context": "all", "dropout": 0.3,
              "activation": "dice"}
    model = seeded(params=params, n_heads=2)
    batch = random_batch(SPEC, 16, 4, seed=5)
    labels = torch.rand(16, 2, generator=torch.Generator().manual_seed(0))
    weights = dict(model.named_parameters())
    loss = label_loss(functional_call(model, weights, (batch,)), labels, kind="bce")
    for name, grad in zip(weights, torch.autograd.grad(loss, list(weights.values())),
                          strict=True):
        assert bool(torch.isfinite(grad).all()) and grad.abs().max() > 0, name
    # dropout is active in train mode only
    assert not torch.equal(model(batch), model(batch))
    model.eval()
    torch.testing.assert_close(model(batch), model(batch), rtol=0, atol=0)


def test_a_new_field_needs_no_change_in_the_model() -> None:
    spec = ModelSpec({**SPEC.vocab_sizes, "author": 4})
    model = seeded(spec=spec)
    batch: RecBatch = random_batch(spec, 6, 4, seed=3)
    assert model(batch).shape == (6, 1)
    assert model.mlp1.net[0].in_features == (1 + 2 * 4) * 3
    assert model.gate2.mlp.net[0].in_features == 2 * 4 * 3
