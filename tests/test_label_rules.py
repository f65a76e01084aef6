"""Label rules and piecewise scaling: hand-computed rows, fitting on tiny train sets, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.labels import (
    LABEL_RULES,
    MULTI_TASK_RULES,
    PiecewiseScale,
    fit_d2q,
    fit_duration_groups,
    fit_labels,
    fit_piecewise,
    label_heads,
    mix_heads,
)

COLUMNS = (
    "play_time_s",
    "duration_s",
    "like",
    "follow",
    "comment",
    "forward",
    "hate",
    "long_view",
    "skip",
    "profile_enter",
)


def make_feedback(**columns: list[float]) -> pd.DataFrame:
    """Feedback frame with every column float32; unspecified columns are 0."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame(
        {c: np.asarray(columns.get(c, [0.0] * n), dtype=np.float32) for c in COLUMNS}
    )


def apply_rule(name: str, train: pd.DataFrame, feedback: pd.DataFrame) -> np.ndarray:
    rule = LABEL_RULES[name]
    return rule.apply(rule.fit(train), feedback)


def phi(z: float) -> float:
    """Standard normal CDF by hand (math.erf)."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def random_feedback(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    duration = np.round(rng.exponential(60.0, n))  # integer seconds: ties, some zeros
    play = np.round(duration * rng.uniform(0.0, 1.6, n), 1)
    play[rng.uniform(size=n) < 0.1] = 0.0
    flags = {c: (rng.uniform(size=n) < 0.2).astype(float).tolist() for c in COLUMNS[2:]}
    return make_feedback(play_time_s=play.tolist(), duration_s=duration.tolist(), **flags)


# --- piecewise scale -------------------------------------------------------------------------


def test_piecewise_hand_values() -> None:
    scale = PiecewiseScale(b=10.0, max=50.0)
    x = np.array([-5.0, 0.0, 5.0, 10.0, 20.0, 50.0, 80.0])
    # -5 -> clipped 0; 5 -> 0.2*5/10 = 0.1; 10 -> 0.2; 20 -> 0.2 + 0.8*10/40 = 0.4; >= 50 -> 1
    np.testing.assert_allclose(scale(x), [0.0, 0.0, 0.1, 0.2, 0.4, 1.0, 1.0], rtol=1e-6)
    assert scale(x).dtype == np.float32


def test_piecewise_maps_values_above_b_into_upper_segment() -> None:
    # the authors' release sends everything above b to 0; here (b, max] -> (0.2, 1]
    scale = PiecewiseScale(b=10.0, max=50.0)
    above = np.array([10.001, 15.0, 30.0, 49.9, 50.0])
    out = scale(above)
    assert (out > 0.2).all() and (out <= 1.0).all()
    assert out[2] == pytest.approx(0.2 + 0.8 * 20 / 40)


def test_piecewise_degenerate_thresholds() -> None:
    # b == 0: 0 -> 0, x in (0, max] -> 0.2 + 0.8 x / max
    np.testing.assert_allclose(
        PiecewiseScale(0.0, 10.0)(np.array([0.0, 5.0, 10.0, 20.0])), [0.0, 0.6, 1.0, 1.0]
    )
    # max == b: x <= b linear to 0.2, x > b -> 1
    np.testing.assert_allclose(
        PiecewiseScale(5.0, 5.0)(np.array([0.0, 2.5, 5.0, 6.0])), [0.0, 0.1, 0.2, 1.0]
    )
    # both 0: indicator of x > 0
    np.testing.assert_allclose(PiecewiseScale(0.0, 0.0)(np.array([0.0, 0.1, 7.0])), [0, 1, 1])
    with pytest.raises(ValueError, match="must be >= b"):
        PiecewiseScale(b=5.0, max=2.0)
    with pytest.raises(ValueError, match="b must be >= 0"):
        PiecewiseScale(b=-1.0, max=2.0)


def test_fit_piecewise_quantiles_and_bad_inputs() -> None:
    scale = fit_piecewise(np.arange(101, dtype=np.float32))  # 0..100
    assert (scale.b, scale.max) == pytest.approx((50.0, 99.0))
    # negatives are clipped before the quantiles: [0, 0, 10] -> median 0
    assert fit_piecewise(np.array([-10.0, 0.0, 10.0])).b == 0.0
    with pytest.raises(ValueError, match="b_quantile <= max_quantile"):
        fit_piecewise(np.arange(5.0), b_quantile=0.9, max_quantile=0.5)
    with pytest.raises(ValueError, match="empty"):
        fit_piecewise(np.array([]))
    with pytest.raises(ValueError, match="positions \\[1\\]"):
        fit_piecewise(np.array([1.0, np.nan]))


def test_piecewise_torch_matches_numpy_and_gradient_matches_finite_differences() -> None:
    scale = PiecewiseScale(b=10.0, max=50.0)
    x = torch.tensor([1.3, 4.0, 17.0, 33.0, 70.0, -3.0], dtype=torch.float64, requires_grad=True)
    np.testing.assert_allclose(scale(x).detach().numpy(), scale(x.detach().numpy()), rtol=1e-6)
    assert torch.autograd.gradcheck(scale, (x,))
    scale(x).sum().backward()
    # slopes by hand: 0.2/10 below b, 0.8/40 between b and max, 0 above max and below 0
    np.testing.assert_allclose(x.grad.numpy(), [0.02, 0.02, 0.02, 0.02, 0.0, 0.0])


def test_piecewise_torch_gradient_finite_for_degenerate_thresholds() -> None:
    for scale in (PiecewiseScale(0.0, 10.0), PiecewiseScale(5.0, 5.0), PiecewiseScale(0.0, 0.0)):
        x = torch.tensor([0.0, 2.0, 5.0, 12.0], requires_grad=True)
        scale(x).sum().backward()
        assert torch.isfinite(x.grad).all()
    x = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(PiecewiseScale(0.0, 10.0), (x,))  # slope 0.8 / 10


def test_piecewise_monotone() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.exponential(30.0, 2000))
    for b, top in ((10.0, 50.0), (0.0, 40.0), (20.0, 20.0)):
        assert (np.diff(PiecewiseScale(b, top)(x)) >= 0).all()


# --- stateless rules -------------------------------------------------------------------------


def test_engagement_rule_hand_rows() -> None:
    feedback = make_feedback(
        like=[0, 1, 0, 0, 0, 0, 1],
        follow=[0, 0, 1, 0, 0, 0, 1],
        comment=[0, 0, 0, 1, 0, 0, 0],
        forward=[0, 0, 0, 0, 1, 0, 0],
        hate=[0, 0, 0, 0, 0, 1, 0],
    )
    # forward alone and hate alone are not engagement
    np.testing.assert_array_equal(apply_rule("EF", feedback, feedback), [0, 1, 1, 1, 0, 0, 1])


def test_completion_rules_hand_rows() -> None:
    feedback = make_feedback(
        play_time_s=[10, 20, 30, 0, 5, 0],
        duration_s=[20, 20, 20, 0, 0, 10],
    )
    # play < duration; play == duration; play > duration; 0/0; play>0 with duration 0; play 0
    pc = apply_rule("PC", feedback, feedback)
    pcr = apply_rule("PCR", feedback, feedback)
    np.testing.assert_array_equal(pc, [0, 1, 1, 0, 1, 0])
    np.testing.assert_allclose(pcr, [0.5, 1.0, 1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(pc, (pcr == 1).astype(np.float32))
    assert pc.dtype == np.float32 and pcr.dtype == np.float32


# --- fitted rules ----------------------------------------------------------------------------


def test_wt_rule_fits_on_train_and_applies_to_other_rows() -> None:
    train = make_feedback(play_time_s=list(range(101)), duration_s=[60] * 101)  # b=50, max=99
    other = make_feedback(play_time_s=[25, 50, 74.5, 99, 150], duration_s=[60] * 5)
    # 25 -> 0.1; 50 -> 0.2; 74.5 -> 0.2 + 0.8 * 24.5 / 49 = 0.6; 99 -> 1; 150 -> 1
    np.testing.assert_allclose(apply_rule("WT", train, other), [0.1, 0.2, 0.6, 1, 1], rtol=1e-6)


TINY_TRAIN = make_feedback(
    duration_s=[10, 10, 10, 10, 60, 60, 60, 60],
    play_time_s=[1, 2, 2, 3, 10, 20, 30, 40],
)


def test_duration_groups_on_tiny_train() -> None:
    groups = fit_duration_groups(TINY_TRAIN["duration_s"].to_numpy(), n_groups=2)
    # sorted durations 10,10,10,10,60,60,60,60; quantile 0.5 "higher": position 3.5 -> 4 -> 60
    np.testing.assert_array_equal(groups.cuts, [60.0])
    np.testing.assert_array_equal(groups.assign(np.array([0, 10, 59, 60, 100])), [0, 0, 0, 1, 1])
    # only two distinct durations: 30 requested groups collapse to 2
    assert fit_duration_groups(np.array([10.0, 10.0, 10.0, 60.0]), n_groups=30).n_groups == 2
    with pytest.raises(ValueError, match="positive integer"):
        fit_duration_groups(np.array([1.0]), n_groups=0)


def test_duration_groups_never_empty_on_train() -> None:
    train = random_feedback(3000, seed=1)
    duration = train["duration_s"].to_numpy()
    for n_groups in (1, 7, 30, 200):
        groups = fit_duration_groups(duration, n_groups)
        counts = np.bincount(groups.assign(duration), minlength=groups.n_groups)
        assert len(counts) == groups.n_groups <= n_groups
        assert (counts > 0).all()
    assert fit_duration_groups(duration, 30).n_groups >= 25  # roughly equal-count bins


def test_d2q_hand_rows_with_ties_and_unseen_values() -> None:
    rule = LABEL_RULES["D2Q"].with_params(n_groups=2)
    state = rule.fit(TINY_TRAIN)
    other = make_feedback(
        duration_s=[10, 10, 10, 10, 5, 30, 60, 100, 60, 60],
        play_time_s=[1, 2, 3, 2.5, 0, 5, 20, 25, 45, 0],
    )
    # group 0 train [1, 2, 2, 3] (n = 4), label = (#less + #less_or_equal) / 8:
    #   1 -> (0+1)/8 = .125; 2 (tie) -> (1+3)/8 = .5; 3 -> (3+4)/8 = .875; 2.5 -> (3+3)/8 = .75
    #   duration 5 (below the train range) -> group 0, play 0 -> 0; duration 30 -> group 0, 5 -> 1
    # group 1 train [10, 20, 30, 40]: 20 -> (1+2)/8 = .375; 25 -> (2+2)/8 = .5; 45 -> 1; 0 -> 0
    expected = [0.125, 0.5, 0.875, 0.75, 0.0, 1.0, 0.375, 0.5, 1.0, 0.0]
    np.testing.assert_allclose(rule.apply(state, other), expected)
    # mid-rank: each group's train labels average 0.5
    train_labels = rule.apply(state, TINY_TRAIN)
    assert train_labels[:4].mean() == pytest.approx(0.5)
    assert train_labels[4:].mean() == pytest.approx(0.5)


def test_dvr_hand_rows() -> None:
    rule = LABEL_RULES["DVR"].with_params(n_groups=2)
    state = rule.fit(TINY_TRAIN)
    # group 0 [1, 2, 2, 3]: mean 2, population std sqrt((1 + 0 + 0 + 1) / 4) = sqrt(0.5)
    # group 1 [10, 20, 30, 40]: mean 25, std sqrt((225 + 25 + 25 + 225) / 4) = sqrt(125)
    np.testing.assert_allclose(state.mean, [2.0, 25.0])
    np.testing.assert_allclose(state.std, [math.sqrt(0.5), math.sqrt(125.0)])
    other = make_feedback(
        duration_s=[10, 10, 10, 60, 60],
        play_time_s=[3, 2, 1, 25, 25 + math.sqrt(125.0)],
    )
    expected = [phi(1 / math.sqrt(0.5)), 0.5, phi(-1 / math.sqrt(0.5)), 0.5, phi(1.0)]
    # phi(1.41421) = 0.92135, phi(1) = 0.84134
    np.testing.assert_allclose(rule.apply(state, other), expected, rtol=1e-6)


def test_dvr_zero_std_group_uses_limit() -> None:
    train = make_feedback(duration_s=[10, 10, 60, 60], play_time_s=[5, 5, 1, 3])
    rule = LABEL_RULES["DVR"].with_params(n_groups=2)
    state = rule.fit(train)  # group 0 = [5, 5]: std 0
    other = make_feedback(duration_s=[10, 10, 10], play_time_s=[4, 5, 6])
    np.testing.assert_array_equal(rule.apply(state, other), [0.0, 0.5, 1.0])


def test_d2q_matches_brute_force_on_random_data() -> None:
    train = random_feedback(2000, seed=5)
    other = random_feedback(500, seed=6)
    state = fit_d2q(train["play_time_s"].to_numpy(), train["duration_s"].to_numpy(), 10)
    labels = LABEL_RULES["D2Q"].with_params(n_groups=10).apply(state, other)
    train_group = state.groups.assign(train["duration_s"].to_numpy())
    other_group = state.groups.assign(other["duration_s"].to_numpy())
    play_train = train["play_time_s"].to_numpy()
    play_other = other["play_time_s"].to_numpy()
    # [500, 2000] comparison matrix restricted to each row's group
    same = other_group[:, None] == train_group[None, :]
    less = (same & (play_train[None, :] < play_other[:, None])).sum(1)
    leq = (same & (play_train[None, :] <= play_other[:, None])).sum(1)
    np.testing.assert_allclose(labels, (less + leq) / (2 * same.sum(1)), rtol=1e-6)


@pytest.mark.parametrize("name", ["WT", "PCR", "D2Q", "DVR"])
def test_watch_time_rules_monotone_in_play_time(name: str) -> None:
    train = random_feedback(2000, seed=2)
    for duration in (0.0, 7.0, 45.0, 300.0):
        play = np.linspace(0.0, 400.0, 801)
        rows = make_feedback(play_time_s=play.tolist(), duration_s=[duration] * len(play))
        assert (np.diff(apply_rule(name, train, rows)) >= 0).all()


@pytest.mark.parametrize("name", sorted(LABEL_RULES))
def test_every_rule_outputs_float32_in_unit_interval(name: str) -> None:
    train = random_feedback(1500, seed=7)
    other = random_feedback(700, seed=8)
    labels = apply_rule(name, train, other)
    assert labels.shape == (700,) and labels.dtype == np.float32
    assert ((labels >= 0) & (labels <= 1)).all()
    assert len(np.unique(labels)) > 1  # not a constant


# --- registry, multi-task, errors ------------------------------------------------------------


def test_unknown_names_raise_keyerror_listing_known_names() -> None:
    with pytest.raises(KeyError, match="known rules: \\['D2Q', 'DVR', 'EF', 'PC', 'PCR', 'WT'\\]"):
        LABEL_RULES["XYZ"]
    with pytest.raises(KeyError, match="multi-task: \\['D2Q\\+EF', 'DVR\\+EF', 'WT\\+EF'\\]"):
        label_heads("XYZ")
    with pytest.raises(KeyError, match="known: \\['n_groups'\\]"):
        LABEL_RULES["D2Q"].with_params(n_group=5)
    with pytest.raises(KeyError, match="unknown label rule 'D2q'"):
        fit_labels("WT", TINY_TRAIN, {"D2q": {"n_groups": 5}})


def test_multi_task_label_matrix_columns_are_the_single_rules() -> None:
    train = random_feedback(1000, seed=9)
    other = random_feedback(300, seed=10)
    for method, heads in MULTI_TASK_RULES.items():
        matrix = fit_labels(method, train)(other)
        assert matrix.shape == (300, 2) and matrix.dtype == np.float32
        for column, head in enumerate(heads):
            np.testing.assert_array_equal(matrix[:, column], apply_rule(head, train, other))
    assert fit_labels("PC", train)(other).shape == (300, 1)


def test_fit_labels_applies_rule_params() -> None:
    fitted = fit_labels("D2Q+EF", TINY_TRAIN, {"D2Q": {"n_groups": 1}, "WT": {"b_quantile": 0.3}})
    assert fitted.states[0].groups.n_groups == 1
    # one group of all 8 train watch times: 20 -> (#<20 = 5, #<=20 = 6) / 16
    labels = fitted(make_feedback(duration_s=[60], play_time_s=[20], like=[1]))
    np.testing.assert_allclose(labels, [[11 / 16, 1.0]])


def test_bad_feedback_names_column_and_rows() -> None:
    with pytest.raises(KeyError, match="missing column\\(s\\) \\['duration_s'\\]"):
        LABEL_RULES["PC"].apply(None, pd.DataFrame({"play_time_s": [1.0]}))
    bad = make_feedback(play_time_s=[1.0, np.nan, 3.0, -1.0], duration_s=[5.0] * 4)
    bad.index = [10, 11, 12, 13]
    with pytest.raises(ValueError, match="'play_time_s' has 2 .* first rows \\[11, 13\\]"):
        LABEL_RULES["PCR"].apply(None, bad)


def test_mix_heads_weighted_mean() -> None:
    scores = np.array([[0.2, 0.6], [1.0, 0.0]])
    np.testing.assert_allclose(mix_heads(scores), [0.4, 0.5])
    # weights 3:1 normalised to 0.75, 0.25: 0.15 + 0.15 = 0.3; 0.75 + 0 = 0.75
    np.testing.assert_allclose(mix_heads(scores, [3.0, 1.0]), [0.3, 0.75])
    tensor = torch.tensor(scores, requires_grad=True)
    mixed = mix_heads(tensor, [3.0, 1.0])
    mixed.sum().backward()
    np.testing.assert_allclose(mixed.detach().numpy(), [0.3, 0.75])
    np.testing.assert_allclose(tensor.grad.numpy(), [[0.75, 0.25], [0.75, 0.25]])
    for weights in ([1.0], [1.0, -1.0], [0.0, 0.0], [np.nan, 1.0]):
        with pytest.raises(ValueError, match="weights must be 2"):
            mix_heads(scores, weights)
