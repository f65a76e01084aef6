"""The DNN backbone (``build_model("dnn", ...)``): config checks, shapes, a seeded value and its
structure (the tower reads the flattened field matrix ``[B, F*D]``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labelcraft.models import MODEL_REGISTRY, build_model
from labelcraft.models.dnn import DNN, DNNConfig  # importing registers "dnn"
from tests.synthetic_features import four_field_spec, random_batch

SPEC = four_field_spec(5, 12, 5, 6)  # U = 1 user field, I = 3 item fields: F = 1 + 2*3 = 7


def seeded(params: dict | None = None, n_heads: int = 1, seed: int = 0) -> DNN:
    torch.manual_seed(seed)
    model = build_model("dnn", SPEC, params or {}, n_heads=n_heads)
    assert isinstance(model, DNN)
    return model


def test_registered_with_its_config() -> None:
    assert MODEL_REGISTRY["dnn"] is DNN and DNN.config_class is DNNConfig


def test_config_rejects_bad_values_and_unknown_keys() -> None:
    typo = r"'mlp_hiden' \(did you mean 'mlp_hidden'\?\).*valid keys are: embedding_dim, "
    with pytest.raises(ValueError, match=typo):
        build_model("dnn", SPEC, {"mlp_hiden": [4]})
    with pytest.raises(ValueError, match="embedding_dim must be an int >= 1, got 0"):
        build_model("dnn", SPEC, {"embedding_dim": 0})
    with pytest.raises(ValueError, match=r"mlp_hidden must be positive ints, got \[200, 0\]"):
        build_model("dnn", SPEC, {"mlp_hidden": [200, 0]})
    with pytest.raises(ValueError, match="activation must be one of dice, relu, got 'gelu'"):
        build_model("dnn", SPEC, {"activation": "gelu"})
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        build_model("dnn", SPEC, {"dropout": 1.0})
    with pytest.raises(ValueError, match="n_heads must be >= 1"):
        build_model("dnn", SPEC, {}, n_heads=0)
    assert DNNConfig(mlp_hidden=[7, 3]).mlp_hidden == (7, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_heads", [1, 2])
def test_output_shape(n_heads: int) -> None:
    out = seeded(n_heads=n_heads)(random_batch(SPEC, 6, 4, seed=1))
    assert out.shape == (6, n_heads)
    assert bool(((out > 0) & (out < 1)).all())


def test_seeded_value() -> None:
    """Default config, 2 heads, ``torch.manual_seed(0)``, eval mode, on ``random_batch(SPEC, 4,
    3, seed=0)``: the scores computed once with this implementation (atol 1e-5)."""
    model = seeded(n_heads=2).eval()
    expected = torch.tensor([[0.483702, 0.517684], [0.498521, 0.521121],
                             [0.506972, 0.494289], [0.481948, 0.525116]])
    torch.testing.assert_close(model(random_batch(SPEC, 4, 3, seed=0)), expected, rtol=0,
                               atol=1e-5)


@pytest.mark.parametrize(("dim", "hidden"), [(12, (200, 80)), (3, (5,)), (4, ())])
def test_the_tower_reads_the_flattened_field_matrix(dim: int, hidden: tuple[int, ...]) -> None:
    model = seeded({"embedding_dim": dim, "mlp_hidden": list(hidden)})
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert model.embeddings.n_fields() == 7
    assert linears[0].in_features == 7 * dim  # the MLP input width is F*D
    assert [m.out_features for m in linears] == [*hidden, 1]
    batch = random_batch(SPEC, 5, 3, seed=2)
    flat = model.embeddings.field_matrix(batch).flatten(1)
    torch.testing.assert_close(model(batch), torch.sigmoid(model.head(model.tower(flat))))


def test_dropout_only_in_train_mode() -> None:
    model = seeded({"dropout": 0.5})
    assert any(isinstance(m, nn.Dropout) for m in model.modules())
    assert not any(isinstance(m, nn.Dropout) for m in seeded().modules())
    batch = random_batch(SPEC, 8, 3, seed=3)
    model.eval()
    torch.testing.assert_close(model(batch), model(batch), rtol=0, atol=0)
    model.train()
    torch.manual_seed(1)
    first = model(batch)
    assert (first - model(batch)).abs().max() > 1e-6
