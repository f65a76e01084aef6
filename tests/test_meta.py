"""LabelCraft meta-learning: labeler, objectives, balancing and the bi-level step."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from labelcraft.evaluation import EvalOutcomes
from labelcraft.features.feedback import FEEDBACK_COLUMNS
from labelcraft.features.tensors import EvalGroups, InteractionTensors
from labelcraft.labels.scaling import PiecewiseScale
from labelcraft.meta import (
    OBJECTIVES,
    Labeler,
    LabelerConfig,
    MetaConfig,
    OutcomeScales,
    ValidBatch,
    balance_weights,
    meta_gradient,
    meta_step,
    paper_objectives,
    upper_gradient,
)
from labelcraft.models import RecBatch, build_model
from tests.synthetic_features import four_field_spec, random_batch

SPEC = four_field_spec(6, 15, 5, 6)
TINY = {"embedding_dim": 3, "attention_hidden": [4], "mlp_hidden": [5, 3]}
PLAY, DURATION = FEEDBACK_COLUMNS.index("play_time_s"), FEEDBACK_COLUMNS.index("duration_s")


def random_feedback(rows: int, seed: int) -> torch.Tensor:
    """Feedback `[rows, F]` in FEEDBACK_COLUMNS order: seconds for play/duration, 0/1 flags."""
    g = torch.Generator().manual_seed(seed)
    feedback = (torch.rand(rows, len(FEEDBACK_COLUMNS), generator=g) < 0.3).float()
    feedback[:, PLAY] = torch.rand(rows, generator=g) * 60
    feedback[:, DURATION] = 5 + torch.rand(rows, generator=g) * 100
    return feedback


def fitted_labeler(seed: int = 0, config: LabelerConfig | None = None) -> Labeler:
    torch.manual_seed(seed)
    labeler = Labeler(config or LabelerConfig(hidden=(6,)), FEEDBACK_COLUMNS)
    return labeler.fit_scaling(random_feedback(200, seed=99))


def valid_users(sizes: list[int], seed: int) -> ValidBatch:
    """Validation users with `sizes` real items, random outcomes."""
    g = torch.Generator().manual_seed(seed)
    width = max(sizes)
    mask = torch.arange(width) < torch.tensor(sizes).unsqueeze(1)
    shape = mask.shape

    def real(values: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, values, 0.0)

    outcomes = EvalOutcomes(
        watch_time=real(torch.rand(shape, generator=g) * 80),
        ef=real((torch.rand(shape, generator=g) < 0.4).float()),
        duration_s=real(5 + torch.rand(shape, generator=g) * 150),
        long_view=real((torch.rand(shape, generator=g) < 0.5).float()),
    )
    return ValidBatch(mask, random_batch(SPEC, int(mask.sum()), 4, seed + 1), outcomes)


SCALES = OutcomeScales(watch_time=PiecewiseScale(b=20.0, max=60.0),
                       duration=PiecewiseScale(b=40.0, max=120.0))


def tiny_din(seed: int, activation: str = "relu") -> nn.Module:
    torch.manual_seed(seed)
    return build_model("din", SPEC, {**TINY, "activation": activation})


# ---------------------------------------------------------------- labeler


def test_labeler_shapes_range_and_column_selection() -> None:
    labeler = fitted_labeler()
    feedback = random_feedback(50, seed=1)
    labels = labeler(feedback)
    assert labels.shape == (50,)
    assert bool(((labels > 0) & (labels < 1)).all())
    unused = feedback.clone()
    unused[:, FEEDBACK_COLUMNS.index("hate")] = 7.0  # not an input
    torch.testing.assert_close(labeler(unused), labels)
    changed = feedback.clone()
    changed[:, FEEDBACK_COLUMNS.index("like")] = 1 - changed[:, FEEDBACK_COLUMNS.index("like")]
    assert not torch.allclose(labeler(changed), labels)
    # the same inputs in another column order give the same labels
    order = list(reversed(range(len(FEEDBACK_COLUMNS))))
    moved = Labeler(labeler.config, [FEEDBACK_COLUMNS[i] for i in order])
    moved.load_state_dict({**labeler.state_dict(), "columns": moved.columns})
    torch.testing.assert_close(moved(feedback[:, order]), labels)


def test_labeler_piecewise_scaling_is_fitted_on_train_and_skips_flags() -> None:
    train = torch.zeros(5, len(FEEDBACK_COLUMNS))
    train[:, PLAY] = torch.tensor([0.0, 10.0, 20.0, 30.0, 40.0])
    train[:, DURATION] = torch.tensor([10.0, 10.0, 10.0, 10.0, 110.0])
    train[:, FEEDBACK_COLUMNS.index("like")] = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
    labeler = Labeler(LabelerConfig(), FEEDBACK_COLUMNS).fit_scaling(train)
    assert labeler.continuous.tolist() == [True, True, False, False, False]
    # play: b = median 20, max = 99th percentile 39.6; duration: b = 10, max = 106
    assert labeler.scale_b[:2].tolist() == pytest.approx([20.0, 10.0])
    assert labeler.scale_max[:2].tolist() == pytest.approx([39.6, 106.0])
    rows = torch.zeros(2, len(FEEDBACK_COLUMNS))
    rows[:, PLAY] = torch.tensor([10.0, 29.8])
    rows[:, DURATION] = torch.tensor([58.0, 500.0])
    rows[:, FEEDBACK_COLUMNS.index("like")] = torch.tensor([1.0, 0.0])
    expected = torch.tensor([[0.1, 0.2 + 0.8 * 48 / 96, 1.0, 0.0, 0.0],
                             [0.6, 1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(labeler.scale_inputs(rows), expected)


def test_labeler_log1p_and_raw_scaling() -> None:
    train = random_feedback(30, seed=2)
    rows = random_feedback(4, seed=3)
    selected = rows[:, [PLAY, DURATION, 2, 3, 4]]
    log1p = Labeler(LabelerConfig(scaling="log1p"), FEEDBACK_COLUMNS).fit_scaling(train)
    expected = torch.cat([torch.log1p(selected[:, :2]), selected[:, 2:]], dim=1)
    torch.testing.assert_close(log1p.scale_inputs(rows), expected)
    raw = Labeler(LabelerConfig(scaling="raw"), FEEDBACK_COLUMNS).fit_scaling(train)
    torch.testing.assert_close(raw.scale_inputs(rows), selected)


def test_labeler_errors_and_config() -> None:
    with pytest.raises(KeyError, match="not feedback columns"):
        Labeler(LabelerConfig(inputs=("play_time_s", "watch")), FEEDBACK_COLUMNS)
    with pytest.raises(RuntimeError, match="fit_scaling"):
        Labeler(LabelerConfig(), FEEDBACK_COLUMNS)(random_feedback(2, seed=0))
    bad = random_feedback(10, seed=0)
    bad[3, DURATION] = -1.0
    with pytest.raises(ValueError, match=r"'duration_s'.*\[3\]"):
        Labeler(LabelerConfig(), FEEDBACK_COLUMNS).fit_scaling(bad)
    with pytest.raises(ValueError, match="unknown labeler parameter"):
        LabelerConfig.from_dict({"hiden": [4]})
    with pytest.raises(ValueError, match="scaling"):
        LabelerConfig(scaling="minmax")
    with pytest.raises(ValueError, match="distinct"):
        LabelerConfig(inputs=("like", "like"))
    config = LabelerConfig.from_dict({"hidden": [8], "inputs": ["like"], "scaling": "raw"})
    assert config == LabelerConfig(hidden=(8,), inputs=("like",), scaling="raw")
    assert LabelerConfig().hidden == (256, 256)


def test_labeler_state_dict_round_trip() -> None:
    labeler = fitted_labeler(seed=4)
    fresh = Labeler(labeler.config, FEEDBACK_COLUMNS)
    fresh.load_state_dict(labeler.state_dict())
    feedback = random_feedback(8, seed=5)
    torch.testing.assert_close(fresh(feedback), labeler(feedback))


# ---------------------------------------------------------------- objectives


def test_objectives_hand_computed_on_two_users() -> None:
    """k = 2. User 0: 3 items; user 1: 2 real items + 1 pad (whose values must not count)."""
    mask = torch.tensor([[True, True, True], [True, True, False]])
    alpha = torch.tensor([[1.0, 0.5, 0.5], [1.0, 1.0, 0.9]])
    outcomes = EvalOutcomes(
        watch_time=torch.tensor([[40.0, 10.0, 0.0], [60.0, 20.0, 99.0]]),
        ef=torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
        duration_s=torch.tensor([[40.0, 80.0, 120.0], [20.0, 40.0, 99.0]]),
        long_view=torch.zeros(2, 3),
    )
    values = paper_objectives(alpha, mask, outcomes, SCALES, k=2)
    # scaled watch: (0.6, 0.1, 0) and (1, 0.2); scaled duration: (0.2, 0.6, 1) and (0.1, 0.2)
    m1 = ((1.0 * 0.6 + 0.5 * 0.1) / 2 + (1.0 * 1.0 + 1.0 * 0.2) / 2) / 2
    m2 = ((1.0 * 1 + 0.5 * 1) / 2 + 0.0) / 2
    std0 = float(np.std([0.2, 0.3, 0.5]))
    std1 = float(np.std([0.1, 0.2]))
    assert float(values["usage_time"]) == pytest.approx(m1)
    assert float(values["engagement"]) == pytest.approx(m2)
    assert float(values["duration_spread"]) == pytest.approx((std0 + std1) / 2)


def test_duration_spread_of_a_constant_user_is_zero_with_zero_gradient() -> None:
    mask = torch.ones(1, 3, dtype=torch.bool)
    alpha = torch.zeros(1, 3, requires_grad=True)
    outcomes = EvalOutcomes(*(torch.ones(1, 3) for _ in range(4)))
    values = paper_objectives(alpha, mask, outcomes, SCALES, k=2)
    (grad,) = torch.autograd.grad(values["duration_spread"], alpha)
    assert float(values["duration_spread"].detach()) == 0.0
    assert torch.equal(grad, torch.zeros(1, 3))


def test_balance_weights_hand_computed() -> None:
    values = {"usage_time": torch.tensor(0.2), "engagement": torch.tensor(0.6),
              "duration_spread": torch.tensor(1.0)}
    weights = balance_weights(values, OBJECTIVES, tau=0.5)
    z = [math.exp(-0.1), math.exp(-0.3), math.exp(-0.5)]
    assert [float(weights[n]) for n in OBJECTIVES] == pytest.approx([v / sum(z) for v in z])
    equal = balance_weights(values, OBJECTIVES, tau=0.0)
    assert [float(equal[n]) for n in OBJECTIVES] == pytest.approx([1 / 3] * 3)
    without = balance_weights(values, ("usage_time", "duration_spread"), tau=0.5)
    pair = [math.exp(-0.1), math.exp(-0.5)]
    assert [float(without[n]) for n in OBJECTIVES] == pytest.approx(
        [pair[0] / sum(pair), 0.0, pair[1] / sum(pair)])
    with pytest.raises(ValueError, match="objectives"):
        balance_weights(values, ("usage_time", "watch"), tau=0.5)
    with pytest.raises(ValueError, match="objectives"):
        balance_weights(values, (), tau=0.5)
    with pytest.raises(ValueError, match="tau"):
        balance_weights(values, OBJECTIVES, tau=-1.0)


def test_balance_weights_are_detached() -> None:
    value = torch.tensor(0.3, requires_grad=True)
    weights = balance_weights({name: value * 2 for name in OBJECTIVES}, OBJECTIVES, tau=0.5)
    assert not any(w.requires_grad for w in weights.values())


# ---------------------------------------------------------------- meta step


def meta_setup(seed: int, dtype: torch.dtype = torch.float32, activation: str = "relu",
               ) -> tuple[nn.Module, Labeler, RecBatch, torch.Tensor, ValidBatch]:
    model = tiny_din(seed, activation).to(dtype)
    labeler = fitted_labeler(seed).to(dtype)
    batch = random_batch(SPEC, 8, 3, seed=10)
    feedback = random_feedback(8, seed=11).to(dtype)
    valid = valid_users([5, 4, 6], seed=12)
    valid = ValidBatch(valid.mask, valid.batch,
                       EvalOutcomes(*(t.to(dtype) for t in (valid.outcomes.watch_time,
                                                            valid.outcomes.ef,
                                                            valid.outcomes.duration_s,
                                                            valid.outcomes.long_view))))
    return model, labeler, batch, feedback, valid


def upper_value(model: nn.Module, labeler: Labeler, batch: RecBatch, feedback: torch.Tensor,
                valid: ValidBatch, config: MetaConfig, weights: dict[str, float]) -> float:
    """sum_m w_m M_m(theta'(phi)) with the balancing weights held at ``weights``."""
    values = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES).values
    return sum(weights[n] * values[n] for n in OBJECTIVES)


@pytest.mark.parametrize("objective_set", ["paper", "metrics"])
@pytest.mark.parametrize("activation", ["relu", "dice"])
def test_meta_gradient_matches_finite_differences(objective_set: str, activation: str) -> None:
    """d(sum_m w_m M_m)/d(phi) through the virtual step vs central differences (weights fixed).

    The forward-mode factorisation (tangent through the train batch, backward through the
    labeler) must be the exact meta-gradient, Dice's batch statistics included.
    """
    model, labeler, batch, feedback, valid = meta_setup(0, torch.float64, activation)
    config = MetaConfig(lr_rec=0.5, k=2, epsilon=0.05, tau=0.5, objective_set=objective_set)
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    grads = meta_gradient(model, labeler, batch, feedback, upper, config).grads
    phi = list(labeler.parameters())
    assert sum(float(g.abs().sum()) for g in grads) > 0
    g = torch.Generator().manual_seed(0)
    step = 1e-5
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in phi]
        analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, direction, strict=True))
        sides = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, d in zip(phi, direction, strict=True):
                    p.add_(sign * step * d)
            sides.append(upper_value(model, labeler, batch, feedback, valid, config,
                                     upper.weights))
            with torch.no_grad():
                for p, d in zip(phi, direction, strict=True):
                    p.sub_(sign * step * d)
        numeric = (sides[0] - sides[1]) / (2 * step)
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_meta_gradient_with_a_bce_loss_matches_finite_differences() -> None:
    model, labeler, batch, feedback, valid = meta_setup(8, torch.float64)
    config = MetaConfig(lr_rec=0.5, k=2, epsilon=0.05, loss="bce")
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    grads = meta_gradient(model, labeler, batch, feedback, upper, config).grads
    phi = list(labeler.parameters())
    direction = [torch.randn(p.shape, generator=torch.Generator().manual_seed(1),
                             dtype=p.dtype) for p in phi]
    sides = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            for p, d in zip(phi, direction, strict=True):
                p.add_(sign * 1e-5 * d)
        sides.append(upper_value(model, labeler, batch, feedback, valid, config, upper.weights))
        with torch.no_grad():
            for p, d in zip(phi, direction, strict=True):
                p.sub_(sign * 1e-5 * d)
    analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, direction, strict=True))
    assert analytic == pytest.approx((sides[0] - sides[1]) / 2e-5, rel=1e-5)


def test_a_reused_upper_gradient_is_exact_only_where_it_was_computed() -> None:
    """The meta-gradient of another batch with a stale tangent differs from its exact one."""
    model, labeler, batch, feedback, valid = meta_setup(9, torch.float64)
    config = MetaConfig(lr_rec=0.5, k=2, epsilon=0.05)
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    other, other_feedback = random_batch(SPEC, 8, 3, seed=30), random_feedback(8, seed=31)
    stale = meta_gradient(model, labeler, other, other_feedback, upper, config).grads
    fresh = upper_gradient(model, labeler, other, other_feedback, valid, config, SCALES)
    exact = meta_gradient(model, labeler, other, other_feedback, fresh, config).grads
    assert not all(torch.allclose(a, b) for a, b in zip(stale, exact, strict=True))
    cosine = (sum(float((a * b).sum()) for a, b in zip(stale, exact, strict=True))
              / math.sqrt(sum(float(a.square().sum()) for a in stale)
                          * sum(float(b.square().sum()) for b in exact)))
    assert cosine > 0.5  # same theta, other virtual step: close but not equal


@pytest.mark.parametrize("objective_set", ["paper", "metrics"])
def test_chunked_upper_level_equals_one_pass(objective_set: str) -> None:
    """Scoring the 15 sampled items in chunks of 4 (no-grad pass, dM/dscores, one backward per
    chunk) gives the one-pass tangent and objective (float64, dice: running stats in eval)."""
    model, labeler, batch, feedback, valid = meta_setup(4, torch.float64, "dice")
    config = MetaConfig(lr_rec=0.5, k=2, epsilon=0.05, objective_set=objective_set)
    whole = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    chunked = upper_gradient(model, labeler, batch, feedback, valid,
                             dataclasses.replace(config, valid_chunk=4), SCALES)
    assert len(valid.batch) == 15 and set(chunked.tangent) == set(whole.tangent)
    for name, value in whole.tangent.items():
        torch.testing.assert_close(chunked.tangent[name], value, rtol=1e-10, atol=1e-12)
    assert chunked.objective == pytest.approx(whole.objective, rel=1e-12)
    assert chunked.values == pytest.approx(whole.values, rel=1e-12)
    with pytest.raises(ValueError, match="valid_chunk"):
        MetaConfig(valid_chunk=0)


def test_meta_step_updates_phi_and_theta_and_leaves_no_graph() -> None:
    model, labeler, batch, feedback, valid = meta_setup(1)
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    phi = [p.detach().clone() for p in labeler.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    config = MetaConfig(k=2)
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    for p in [*model.parameters(), *labeler.parameters()]:
        assert p.grad is None  # the upper gradient touches no .grad
    log = meta_step(model, labeler, batch, feedback, upper, config, optimizer)
    assert set(log) == {"loss", "virtual_loss", "meta_grad_norm", "objective", *OBJECTIVES,
                        *(f"weight_{n}" for n in OBJECTIVES)}
    assert all(isinstance(v, float) and math.isfinite(v) for v in log.values())
    assert log["meta_grad_norm"] > 0
    assert sum(log[f"weight_{n}"] for n in OBJECTIVES) == pytest.approx(1.0)
    assert any(not torch.equal(p, q) for p, q in zip(labeler.parameters(), phi, strict=True))
    assert any(not torch.equal(p, theta[n]) for n, p in model.named_parameters())
    for p in [*model.parameters(), *labeler.parameters()]:
        assert p.is_leaf and p.grad_fn is None
        assert p.grad is None or p.grad.grad_fn is None
    assert labeler(feedback).grad_fn is not None  # phi still trainable afterwards


def test_meta_step_with_a_label_optimizer() -> None:
    model, labeler, batch, feedback, valid = meta_setup(2)
    phi = [p.detach().clone() for p in labeler.parameters()]
    rec = torch.optim.Adam(model.parameters(), lr=1e-3)
    adam = torch.optim.Adam(labeler.parameters(), lr=1e-2, eps=1e-15)
    config = MetaConfig(k=2, objectives=("engagement",))
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    log = meta_step(model, labeler, batch, feedback, upper, config, rec, adam)
    assert log["weight_engagement"] == 1.0 and log["weight_usage_time"] == 0.0
    moved = [float((p.detach() - q).abs().max()) for p, q in zip(labeler.parameters(), phi,
                                                                    strict=True)]
    assert max(moved) == pytest.approx(1e-2, rel=1e-3)  # Adam's first step has size lr


def test_plain_ascent_moves_phi_by_lr_times_gradient() -> None:
    model, labeler, batch, feedback, valid = meta_setup(3)
    config = MetaConfig(k=2, lr_label=0.7)
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    grads = meta_gradient(model, labeler, batch, feedback, upper, config).grads
    before = [p.detach().clone() for p in labeler.parameters()]
    meta_step(model, labeler, batch, feedback, upper, config,
              torch.optim.SGD(model.parameters(), lr=0.1))
    for p, b, g in zip(labeler.parameters(), before, grads, strict=True):
        torch.testing.assert_close(p.detach(), b + 0.7 * g)


def test_real_step_equals_a_plain_step_on_the_new_labels() -> None:
    """The reused tangent forward must give theta the gradient of a plain forward."""
    model, labeler, batch, feedback, valid = meta_setup(10, torch.float64, "dice")
    reference = tiny_din(10, "dice").to(torch.float64)
    config = MetaConfig(k=2, lr_label=0.3)
    upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
    meta_step(model, labeler, batch, feedback, upper, config,
              torch.optim.SGD(model.parameters(), lr=0.1))
    with torch.no_grad():
        labels = labeler(feedback)  # phi after the step
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    reference.train()
    loss = nn.functional.mse_loss(reference(batch), labels.unsqueeze(1))
    loss.backward()
    optimizer.step()
    for (name, p), q in zip(model.state_dict().items(), reference.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(p, q, msg=name)


def test_virtual_step_keeps_running_stats_and_real_step_moves_them_once() -> None:
    model, labeler, batch, feedback, valid = meta_setup(4, activation="dice")
    before = {n: b.clone() for n, b in model.named_buffers()}
    assert before
    upper = upper_gradient(model, labeler, batch, feedback, valid, MetaConfig(k=2), SCALES)
    meta_gradient(model, labeler, batch, feedback, upper, MetaConfig(k=2))
    for n, b in model.named_buffers():
        assert torch.equal(b, before[n])
    reference = tiny_din(4, "dice")
    reference.train()
    reference(batch)  # one plain training-mode forward on the same batch
    meta_step(model, labeler, batch, feedback, upper, MetaConfig(k=2),
              torch.optim.SGD(model.parameters(), lr=0.1))
    expected = dict(reference.named_buffers())
    for n, b in model.named_buffers():
        torch.testing.assert_close(b, expected[n])


def test_validation_scores_are_eval_mode_per_user() -> None:
    """With Dice, each user's objectives must not depend on the other users in the batch."""
    model, labeler, batch, feedback, _ = meta_setup(5, activation="dice")
    both = valid_users([5, 6], seed=20)
    first_rows = int(both.mask[0].sum())

    def only(user: int) -> ValidBatch:
        start, stop = (0, first_rows) if user == 0 else (first_rows, len(both.batch))
        mask = both.mask[user : user + 1]
        cut = both.batch.slice(start, stop)
        outcomes = EvalOutcomes(*(getattr(both.outcomes, f)[user : user + 1]
                                  for f in ("watch_time", "ef", "duration_s", "long_view")))
        return ValidBatch(mask, cut, outcomes)

    config = MetaConfig(k=2, epsilon=0.05)
    joint = upper_gradient(model, labeler, batch, feedback, both, config, SCALES).values
    singles = [upper_gradient(model, labeler, batch, feedback, only(u), config, SCALES).values
               for u in (0, 1)]
    for name in OBJECTIVES:
        expected = (singles[0][name] + singles[1][name]) / 2
        assert joint[name] == pytest.approx(expected, rel=1e-5)


def test_meta_step_is_deterministic_with_seeds() -> None:
    logs, states = [], []
    for _ in range(2):
        model, labeler, batch, feedback, valid = meta_setup(6, activation="dice")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        upper = upper_gradient(model, labeler, batch, feedback, valid, MetaConfig(k=2), SCALES)
        logs.append(meta_step(model, labeler, batch, feedback, upper, MetaConfig(k=2),
                              optimizer))
        states.append({**model.state_dict(), **labeler.state_dict()})
    assert logs[0] == logs[1]
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name])


def test_meta_step_rejects_multi_head_models_and_bad_config() -> None:
    _, labeler, batch, feedback, valid = meta_setup(7)
    torch.manual_seed(0)
    two_heads = build_model("din", SPEC, TINY, n_heads=2)
    with pytest.raises(ValueError, match="one head"):
        upper_gradient(two_heads, labeler, batch, feedback, valid, MetaConfig(k=2), SCALES)
    with pytest.raises(ValueError, match="unknown meta parameter"):
        MetaConfig.from_dict({"lr_labels": 0.1})
    with pytest.raises(ValueError, match="objectives"):
        MetaConfig(objectives=("usage_time", "usage_time"))
    with pytest.raises(ValueError, match="objective_set"):
        MetaConfig(objective_set="ndcg")
    assert MetaConfig.from_dict({"objectives": ["engagement"]}).objectives == ("engagement",)


def test_valid_batch_from_groups_cuts_width_and_orders_rows() -> None:
    n = 12
    tensors = InteractionTensors(
        ids={"user": torch.arange(n) % 3 + 1, "video": torch.arange(n) % 7 + 1,
             "duration_bucket": torch.ones(n, dtype=torch.long),
             "tag": torch.ones(n, dtype=torch.long)},
        item_fields=("video", "duration_bucket", "tag"),
        split=torch.ones(n, dtype=torch.int8), timeline_start=torch.zeros(n, dtype=torch.long),
        history_end=torch.arange(n), feedback=random_feedback(n, seed=0),
    )
    groups = EvalGroups(
        rows=torch.tensor([[0, 1, 2, 3], [4, 5, 0, 0], [6, 7, 8, 0]]),
        mask=torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.bool),
        user_idx=torch.tensor([1, 2, 3]), user_id=torch.tensor([10, 20, 30]),
    )
    outcomes = EvalOutcomes(*(torch.arange(12.0).reshape(3, 4) for _ in range(4)))
    valid = ValidBatch.from_groups(tensors, groups, outcomes, torch.tensor([2, 1]), 2)
    assert valid.mask.tolist() == [[True, True, True], [True, True, False]]
    assert valid.batch.ids["video"].tolist() == tensors.ids["video"][
        torch.tensor([6, 7, 8, 4, 5])].tolist()
    assert valid.outcomes.watch_time.tolist() == [[8.0, 9.0, 10.0], [4.0, 5.0, 6.0]]


def test_centred_meta_gradient_moves_no_label_on_average() -> None:
    """center: the per-label gradient has batch mean 0; off, the exact one does not."""
    model, labeler, batch, feedback, valid = meta_setup(11, torch.float64)
    bias = {}
    for center in (False, True):
        config = MetaConfig(k=2, epsilon=0.05, center=center)
        upper = upper_gradient(model, labeler, batch, feedback, valid, config, SCALES)
        grads = meta_gradient(model, labeler, batch, feedback, upper, config).grads
        # the last layer's bias moves every label through sigmoid': its gradient is
        # sum_i c_i * sigmoid'(z_i), with c centred it is much smaller than uncentred
        bias[center] = float(grads[-1].abs().sum())
    assert bias[False] > 0 and bias[True] < 0.2 * bias[False], bias
