"""The backbone contract, checked on every registered model (``labelcraft.models.MODEL_REGISTRY``).

A backbone maps a feature-keyed `RecBatch` to ``[B, n_heads]`` scores in [0, 1]; padded history
slots do not matter; in eval mode a candidate's score does not depend on the rest of the batch;
every parameter gets a gradient through ``torch.func.functional_call``; and LabelCraft's
meta-gradient through the model (a virtual step, forward-mode tangents) matches central finite
differences. A backbone's own test file checks its structure and a seeded value.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from labelcraft.evaluation import EvalOutcomes
from labelcraft.labels.scaling import PiecewiseScale
from labelcraft.meta import (
    MetaConfig,
    OutcomeScales,
    ValidBatch,
    meta_gradient,
    upper_gradient,
)
from labelcraft.models import MODEL_REGISTRY, ModelSpec, build_model, label_loss
from labelcraft.models.batch import RecBatch
from tests.synthetic_features import random_batch, replaced
from tests.test_meta import fitted_labeler, random_feedback

SPEC = ModelSpec({"user": 6, "video": 15, "duration_bucket": 5, "tag": 6, "author": 4})
TINY: dict[str, dict] = {
    "din": {"embedding_dim": 3, "attention_hidden": [4], "mlp_hidden": [5]},
    "dnn": {"embedding_dim": 3, "mlp_hidden": [5]},
    "dcnv2": {"embedding_dim": 3, "num_cross_layers": 2, "low_rank": 2, "num_experts": 2,
              "mlp_hidden": [5]},
    "autoint": {"embedding_dim": 3, "num_heads": 2, "attention_dim": 2},
    "autoint+": {"embedding_dim": 3, "num_heads": 2, "attention_dim": 2, "mlp_hidden": [5]},
    "finalmlp": {"embedding_dim": 3, "mlp1_hidden": [6, 4], "mlp2_hidden": [5, 2],
                 "gate_hidden": [3], "num_heads": 2},
    "fcn": {"embedding_dim": 3, "num_deep_cross_layers": 2, "num_shallow_cross_layers": 2},
    "feedback_aware": {"embedding_dim": 3, "num_heads": 2, "attention_hidden": [4],
                       "mlp_hidden": [5], "towers": "mmoe", "num_experts": 2,
                       "tower_hidden": [3]},
}
"""Tiny hyper-parameters per backbone (defaults for a backbone not listed); feedback_aware's
use MMoE towers, so the contract covers them too."""
SCALES = OutcomeScales(watch_time=PiecewiseScale(b=20.0, max=60.0),
                       duration=PiecewiseScale(b=40.0, max=120.0))
BACKBONES = sorted(MODEL_REGISTRY)


def tiny(name: str, seed: int = 0, n_heads: int = 1, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(name, SPEC, TINY.get(name, {}), n_heads=n_heads).to(dtype)


def warmed(model: nn.Module) -> nn.Module:
    """A few train-mode forwards, so running statistics (batch norm, Dice) are not trivial."""
    for seed in range(3):
        model(random_batch(SPEC, 32, 6, seed=50 + seed))
    return model


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("n_heads", [1, 3])
def test_shapes_and_range(name: str, n_heads: int) -> None:
    model = tiny(name, n_heads=n_heads)
    out = model(random_batch(SPEC, 16, 7, seed=1))
    assert out.shape == (16, n_heads)
    assert bool(((out > 0) & (out < 1)).all())


@pytest.mark.parametrize("name", BACKBONES)
def test_seeded_models_are_deterministic(name: str) -> None:
    batch = random_batch(SPEC, 8, 5, seed=2)
    a, b, c = tiny(name, seed=7).eval(), tiny(name, seed=7).eval(), tiny(name, seed=8).eval()
    torch.testing.assert_close(a(batch), b(batch), rtol=0, atol=0)
    assert (a(batch) - c(batch)).abs().max() > 1e-5


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("train", [True, False])
def test_padded_history_slots_do_not_matter(name: str, train: bool) -> None:
    model = warmed(tiny(name)).train(train)
    batch = random_batch(SPEC, 12, 6, seed=3)
    assert bool((~batch.history_mask).any())
    junk = torch.randint(1, 4, batch.history_mask.shape) * ~batch.history_mask
    noisy = replaced(batch, history={k: v + junk for k, v in batch.history.items()},
                     history_feedback={k: v + junk for k, v in batch.history_feedback.items()})
    torch.testing.assert_close(model(batch), model(noisy), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", BACKBONES)
def test_eval_scores_do_not_depend_on_the_rest_of_the_batch(name: str) -> None:
    model = warmed(tiny(name)).eval()
    batch = random_batch(SPEC, 10, 6, seed=4)
    torch.testing.assert_close(model(batch)[:3], model(batch.slice(0, 3)), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", BACKBONES)
def test_every_parameter_gets_a_gradient_through_functional_call(name: str) -> None:
    model = tiny(name, n_heads=2)
    batch = random_batch(SPEC, 24, 5, seed=5)
    labels = torch.rand(24, 2, generator=torch.Generator().manual_seed(0))
    params = dict(model.named_parameters())
    loss = label_loss(functional_call(model, params, (batch,)), labels, kind="bce")
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    for (key, _), grad in zip(params.items(), grads, strict=True):
        assert grad is not None and bool(torch.isfinite(grad).all()), key
        assert grad.abs().max() > 0, f"no gradient reaches {key}"


def _valid(seed: int) -> ValidBatch:
    """Three validation users with 5, 4 and 6 items, random outcomes (float64)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(6) < torch.tensor([5, 4, 6]).unsqueeze(1)

    def real(values: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, values, 0.0).to(torch.float64)

    shape = mask.shape
    outcomes = EvalOutcomes(real(torch.rand(shape, generator=g) * 80),
                            real((torch.rand(shape, generator=g) < 0.4).float()),
                            real(5 + torch.rand(shape, generator=g) * 150),
                            real((torch.rand(shape, generator=g) < 0.5).float()))
    return ValidBatch(mask, random_batch(SPEC, int(mask.sum()), 4, seed + 1), outcomes)


@pytest.mark.parametrize("name", BACKBONES)
def test_labelcraft_meta_gradient_matches_finite_differences(name: str) -> None:
    """d objective / d phi of a meta step through this backbone (float64) equals the central
    difference of the objective after the virtual step, along random directions."""
    model = warmed(tiny(name, seed=3, dtype=torch.float64))
    labeler = fitted_labeler(seed=4).to(torch.float64)
    feedback = random_feedback(8, seed=11).to(torch.float64)
    batch: RecBatch = random_batch(SPEC, 8, 3, seed=10)
    valid = _valid(12)
    config = MetaConfig(lr_rec=0.5, k=2, epsilon=0.05, objective_set="metrics")
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    grads = meta_gradient(model, labeler, batch, feedback, upper, config).grads
    assert sum(float(g.abs().sum()) for g in grads) > 0

    def objective() -> float:
        values = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES).values
        return sum(upper.weights[key] * values[key] for key in values)

    phi = list(labeler.parameters())
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in phi]
        analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, direction, strict=True))
        sides = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, d in zip(phi, direction, strict=True):
                    p.add_(sign * 1e-5 * d)
            sides.append(objective())
            with torch.no_grad():
                for p, d in zip(phi, direction, strict=True):
                    p.sub_(sign * 1e-5 * d)
        assert analytic == pytest.approx((sides[0] - sides[1]) / 2e-5, rel=1e-4, abs=1e-9)
