"""DIN recommender, its layers, batch, registry and losses."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from labelcraft.features.tensors import InteractionTensors
from labelcraft.labels import mix_heads
from labelcraft.models import (
    DIN,
    MODEL_REGISTRY,
    Dice,
    ModelSpec,
    RecBatch,
    TargetAttention,
    build_model,
    label_loss,
    make_batch,
    register_model,
)
from tests.synthetic_features import four_field_batch, four_field_spec, random_batch, replaced

SPEC = four_field_spec(5, 12, 5, 6)
SMALL = {"embedding_dim": 3, "attention_hidden": [4], "mlp_hidden": [5, 3]}


def fixed_batch() -> RecBatch:
    """4 candidates; histories of 1, 2, 3 and 0 real items (left-padded, L = 3)."""
    mask = torch.tensor([[0, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0]], dtype=torch.bool)
    return four_field_batch(
        user=torch.tensor([1, 2, 3, 1]),
        video=torch.tensor([1, 2, 3, 4]),
        bucket=torch.tensor([1, 2, 3, 4]),
        tag=torch.tensor([1, 2, 3, 5]),
        history_video=torch.tensor([[0, 0, 5], [0, 6, 7], [8, 9, 10], [0, 0, 0]]),
        history_bucket=torch.tensor([[0, 0, 1], [0, 2, 3], [4, 1, 2], [0, 0, 0]]),
        history_tag=torch.tensor([[0, 0, 2], [0, 3, 4], [5, 1, 2], [0, 0, 0]]),
        history_mask=mask,
    )


def score(model: DIN, batch: RecBatch) -> torch.Tensor:
    """Ranking score ``[B]``: the mean of the model's heads (`mix_heads`, as the rankings use)."""
    return mix_heads(model(batch))


def seeded_din(seed: int = 0, params: dict | None = None, n_heads: int = 1) -> DIN:
    torch.manual_seed(seed)
    model = build_model("din", SPEC, params or {}, n_heads=n_heads)
    assert isinstance(model, DIN)
    return model


# ---------------------------------------------------------------- shapes, range, values


@pytest.mark.parametrize("n_heads", [1, 3])
def test_shapes_and_range(n_heads: int) -> None:
    model = seeded_din(n_heads=n_heads)
    batch = random_batch(SPEC, 16, 7, seed=1)
    out = model(batch)
    assert out.shape == (16, n_heads)
    assert score(model, batch).shape == (16,)
    assert bool(((out > 0) & (out < 1)).all())


def test_seeded_value() -> None:
    model = seeded_din(seed=0)
    torch.testing.assert_close(
        score(model, fixed_batch()),
        torch.tensor([0.487905, 0.480843, 0.494788, 0.481208]),
        rtol=0,
        atol=1e-5,
    )


def test_same_seed_same_model_different_seed_differs() -> None:
    batch = random_batch(SPEC, 8, 5, seed=2)
    a, b, c = seeded_din(seed=7), seeded_din(seed=7), seeded_din(seed=8)
    torch.testing.assert_close(score(a, batch), score(b, batch), rtol=0, atol=0)
    assert (score(a, batch) - score(c, batch)).abs().max() > 1e-4


# ---------------------------------------------------------------- padding and batch effects


@pytest.mark.parametrize("train", [True, False])
def test_padded_history_slots_do_not_matter(train: bool) -> None:
    model = seeded_din().train(train)
    batch = random_batch(SPEC, 12, 6, seed=3)
    assert bool((~batch.history_mask).any())
    junk = torch.randint(1, 5, batch.history_mask.shape) * ~batch.history_mask
    noisy = replaced(batch, history={name: value + junk for name, value in batch.history.items()})
    torch.testing.assert_close(score(model, batch), score(model, noisy), rtol=0, atol=1e-7)
    # the same change on real slots does change the scores
    shifted = (batch.history["video"] % 11 + 1) * batch.history_mask
    real = replaced(batch, history={"video": shifted})
    assert (score(model, batch) - score(model, real)).abs().max() > 1e-6


def test_eval_scores_do_not_depend_on_the_rest_of_the_batch() -> None:
    model = seeded_din()
    for seed in range(3):  # non-trivial running statistics
        model(random_batch(SPEC, 32, 6, seed=10 + seed))
    batch = random_batch(SPEC, 10, 6, seed=4)
    head = batch.slice(0, 3)
    # training mode normalises with the batch's statistics: scores depend on the batch ...
    assert (score(model, batch)[:3] - score(model, head)).abs().max() > 1e-6
    # ... eval mode (running statistics) does not
    model.eval()
    torch.testing.assert_close(score(model, batch)[:3], score(model, head), rtol=0, atol=1e-6)


def test_empty_histories_are_fine() -> None:
    model = seeded_din()
    batch = fixed_batch()
    empty = replaced(batch, history={name: torch.zeros_like(value)
                                     for name, value in batch.history.items()},
                     history_mask=torch.zeros_like(batch.history_mask))
    out = model(empty)
    assert bool(torch.isfinite(out).all())
    assert all(bool(torch.isfinite(b).all()) for b in model.buffers())


# ---------------------------------------------------- functional_call and meta-gradients


def test_functional_call_gradient_reaches_every_parameter() -> None:
    model = seeded_din(params=SMALL, n_heads=2)
    batch = random_batch(SPEC, 16, 5, seed=5)
    unknown = torch.arange(16) < 4  # id 0 also means "unknown": no embedding, no gradient
    batch = replaced(batch, ids={name: value * ~unknown for name, value in batch.ids.items()})
    labels = torch.rand(16, 2, generator=torch.Generator().manual_seed(0))
    params = dict(model.named_parameters())
    loss = label_loss(functional_call(model, params, (batch,)), labels, kind="bce")
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
    for name, grad in grads.items():
        assert bool(torch.isfinite(grad).all()), name
        assert grad.abs().max() > 0, f"no gradient reaches {name}"
        if name.startswith("embeddings."):
            assert bool((grad[0] == 0).all()), f"padding row of {name} got a gradient"
    # same gradients as the ordinary module call
    model.zero_grad()
    label_loss(model(batch), labels, kind="bce").backward()
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, grads[name])


def test_virtual_step_second_order_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    model = build_model("din", SPEC, SMALL, n_heads=2).double()
    train_batch, valid_batch = random_batch(SPEC, 8, 4, seed=6), random_batch(SPEC, 8, 4, seed=7)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    target = torch.rand(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    lr = 0.5

    def virtual_params(phi: torch.Tensor) -> dict[str, torch.Tensor]:
        theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        labels = torch.sigmoid(phi)  # labels produced from the upstream leaf phi
        pred = functional_call(model, {**theta, **buffers}, (train_batch,))
        grads = torch.autograd.grad(label_loss(pred, labels), list(theta.values()),
                                    create_graph=True)
        return {k: theta[k] - lr * g for k, g in zip(theta, grads, strict=True)}

    def outer(phi: torch.Tensor) -> torch.Tensor:
        pred = functional_call(model, {**virtual_params(phi), **buffers}, (valid_batch,))
        return label_loss(pred, target)

    phi = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    phi.requires_grad_(True)
    (analytic,) = torch.autograd.grad(outer(phi), phi)

    h = 1e-6
    numeric = torch.zeros_like(phi)
    base = phi.detach()
    for i in range(phi.numel()):
        step = torch.zeros(phi.numel(), dtype=torch.float64)
        step[i] = h
        step = step.view_as(phi)
        numeric.view(-1)[i] = (outer(base + step) - outer(base - step)).detach() / (2 * h)
    assert analytic.abs().max() > 1e-6  # the labels do reach the outer loss
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-9)

    # the virtual parameters are exactly one real SGD step on the labels
    theta_virtual = virtual_params(base)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    label_loss(functional_call(model, dict(buffers), (train_batch,)),
               torch.sigmoid(base)).backward()
    optimizer.step()
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.detach(), theta_virtual[name].detach())


def test_functional_call_running_statistics() -> None:
    model = seeded_din()
    batch = random_batch(SPEC, 16, 5, seed=8)
    params = dict(model.named_parameters())
    original = {k: v.clone() for k, v in model.named_buffers()}
    # buffers passed in: the update lands on the passed tensors, the module's stay untouched
    passed = {k: v.clone() for k, v in model.named_buffers()}
    functional_call(model, {**params, **passed}, (batch,))
    assert all(torch.equal(v, original[k]) for k, v in model.named_buffers())
    assert all(not torch.equal(passed[k], original[k]) for k in passed)
    # only parameters passed: the module's own buffers are updated, as in a plain call
    functional_call(model, params, (batch,))
    for name, buffer in model.named_buffers():
        torch.testing.assert_close(buffer, passed[name])
    # eval mode reads the running statistics and leaves them alone
    model.eval()
    frozen = {k: v.clone() for k, v in model.named_buffers()}
    functional_call(model, params, (batch,))
    assert all(torch.equal(v, frozen[k]) for k, v in model.named_buffers())


# ---------------------------------------------------------------- layers


def test_dice_hand_computed_three_values() -> None:
    dice = Dice(1)
    with torch.no_grad():
        dice.alpha.fill_(0.25)
    x = torch.tensor([[1.0], [2.0], [4.0]], dtype=torch.float64)
    dice.double()
    # mean 7/3, biased var 14/9; p = sigmoid((x - mean) / sqrt(var)); f = x (p + (1 - p) alpha)
    torch.testing.assert_close(
        dice(x), torch.tensor([[0.441689], [1.150369], [3.375646]], dtype=torch.float64),
        rtol=0, atol=1e-5,
    )
    # running stats: 0.9 * (0, 1) + 0.1 * (mean, unbiased var = 7/3)
    torch.testing.assert_close(dice.running_mean.item(), 0.1 * 7 / 3)
    torch.testing.assert_close(dice.running_var.item(), 0.9 + 0.1 * 7 / 3)
    dice.eval()
    torch.testing.assert_close(
        dice(torch.tensor([[2.0]], dtype=torch.float64)).item(), 1.760255, rtol=0, atol=1e-5
    )


def test_dice_single_row_does_not_update_running_stats() -> None:
    dice = Dice(2)
    out = dice(torch.tensor([[3.0, -2.0]]))
    torch.testing.assert_close(out, torch.tensor([[1.5, -1.0]]))  # p = 1/2, alpha = 0
    assert torch.equal(dice.running_mean, torch.zeros(2))
    assert torch.equal(dice.running_var, torch.ones(2))


def test_target_attention_is_weighted_sum_of_real_items() -> None:
    torch.manual_seed(0)
    attention = TargetAttention(2, hidden_dims=(3,), activation="relu")
    query = torch.randn(2, 2)
    keys = torch.randn(2, 3, 2)
    mask = torch.tensor([[False, True, True], [False, False, False]])
    out = attention(query, keys, mask)
    q = query[0].expand(2, 2)
    k = keys[0, 1:]
    weights = attention.unit(torch.cat([q, k, q - k, q * k], dim=-1))  # [2, 1], no softmax
    torch.testing.assert_close(out[0], (weights * k).sum(dim=0))
    torch.testing.assert_close(out[1], torch.zeros(2))


# ---------------------------------------------------------------- batch


def test_make_batch_from_interaction_tensors() -> None:
    # user 1: rows 0..3 at times 10, 20, 20, 30; user 2: rows 4..5
    n = 6
    tensors = InteractionTensors(
        ids={"user": torch.tensor([1, 1, 1, 1, 2, 2]), "video": torch.tensor([1, 2, 3, 4, 5, 6]),
             "duration_bucket": torch.tensor([1, 2, 3, 4, 1, 2]),
             "tag": torch.tensor([1, 2, 3, 4, 5, 1])},
        item_fields=("video", "duration_bucket", "tag"),
        split=torch.zeros(n, dtype=torch.int8),
        timeline_start=torch.tensor([0, 0, 0, 0, 4, 4]),
        history_end=torch.tensor([0, 1, 1, 3, 4, 5]),
        feedback=torch.zeros(n, 1),
    )
    batch = make_batch(tensors, torch.tensor([3, 2, 4]), history_length=2)
    assert torch.equal(batch.ids["user"], torch.tensor([1, 1, 2]))
    assert torch.equal(batch.ids["video"], torch.tensor([4, 3, 5]))
    assert torch.equal(batch.history["video"], torch.tensor([[2, 3], [0, 1], [0, 0]]))
    assert torch.equal(batch.history["tag"], torch.tensor([[2, 3], [0, 1], [0, 0]]))
    assert "user" not in batch.history  # a user field has no history
    assert torch.equal(batch.history_mask, torch.tensor([[1, 1], [0, 1], [0, 0]]).bool())
    assert len(batch) == 3
    spec = four_field_spec(3, 7, 5, 6)
    assert build_model("din", spec, SMALL)(batch).shape == (3, 1)


def test_rec_batch_rejects_bad_shapes() -> None:
    batch = fixed_batch()
    with pytest.raises(ValueError, match="'tag'"):
        replaced(batch, history={"tag": batch.history["tag"][:, :2]})
    with pytest.raises(ValueError, match="one size"):
        replaced(batch, ids={"video": batch.ids["video"][:2]})
    with pytest.raises(ValueError, match="bool"):
        replaced(batch, history_mask=batch.history_mask.long())


# ---------------------------------------------------------------- registry and config


def test_registry_errors() -> None:
    assert "din" in MODEL_REGISTRY
    with pytest.raises(ValueError, match="unknown model 'dinn'; registered models: .*din"):
        build_model("dinn", SPEC, {})
    typo = r"'embeding_dim' \(did you mean 'embedding_dim'\?\).*valid keys are: embedding_dim, "
    with pytest.raises(ValueError, match=typo):
        build_model("din", SPEC, {"embeding_dim": 8})
    with pytest.raises(ValueError, match="activation must be one of dice, relu"):
        build_model("din", SPEC, {"activation": "gelu"})
    with pytest.raises(ValueError, match="mlp_hidden must be positive"):
        build_model("din", SPEC, {"mlp_hidden": [200, 0]})
    with pytest.raises(ValueError, match="already registered"):
        register_model("din")(DIN)

    class NoConfig(nn.Module):
        pass

    with pytest.raises(TypeError, match="config_class"):
        register_model("no_config")(NoConfig)
    assert "no_config" not in MODEL_REGISTRY


def test_build_model_applies_params() -> None:
    model = build_model("din", SPEC, {"embedding_dim": 4, "mlp_hidden": [7]}, n_heads=2)
    assert isinstance(model, DIN)
    assert model.config.mlp_hidden == (7,)
    assert model.embeddings.tables["user"].weight.shape == (SPEC.vocab_sizes["user"], 4)
    assert model(fixed_batch()).shape == (4, 2)
    with pytest.raises(ValueError, match="'tag' must be >= 2"):
        four_field_spec(3, 3, 3, 1)
    with pytest.raises(ValueError, match="unknown fields"):
        ModelSpec({"user": 3, "video": 4, "colour": 3})
    with pytest.raises(ValueError, match="item field"):
        ModelSpec({"user": 3})


def test_a_new_field_needs_no_change_in_the_model() -> None:
    """With the author field the item has four embeddings; the batch gathers its history."""
    spec = ModelSpec({**SPEC.vocab_sizes, "author": 4})
    assert spec.item_fields == ("video", "duration_bucket", "tag", "author")
    torch.manual_seed(0)
    model = build_model("din", spec, SMALL)
    batch = random_batch(spec, 6, 4, seed=3)
    assert set(batch.history) == {"video", "duration_bucket", "tag", "author"}
    assert model(batch).shape == (6, 1)
    assert model.mlp.net[0].in_features == (1 + 2 * 4) * SMALL["embedding_dim"]


# ---------------------------------------------------------------- losses


def test_label_loss_hand_values_and_errors() -> None:
    pred = torch.tensor([[0.5, 1.0]])
    torch.testing.assert_close(label_loss(pred, torch.tensor([[0.0, 1.0]])), torch.tensor(0.125))
    # BCE: (-ln 0.5 - 0.5 ln 0.8 - 0.5 ln 0.2) / 2
    bce = label_loss(torch.tensor([[0.5, 0.8]]), torch.tensor([[1.0, 0.5]]), kind="bce")
    torch.testing.assert_close(bce, torch.tensor(0.804719), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="unknown loss kind 'mae'"):
        label_loss(pred, pred, kind="mae")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        label_loss(pred, pred.T)
