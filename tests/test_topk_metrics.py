"""Top-k metrics, AUC and report summaries on hand-made users (hand arithmetic in comments)."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.evaluation import (
    SUMMARY_KEYS,
    EvalOutcomes,
    auc,
    evaluate_rankings,
    group_auc,
    random_scores,
    rank_order,
    summarise_over_seeds,
    summarise_users,
    topk_metrics,
)

LOG2_3 = math.log2(3)  # 1.5849625


def metrics_of(scores, watch, *, ef=None, duration=None, mask=None, k=10) -> dict[str, np.ndarray]:
    """topk_metrics on one or more users given as nested lists; numpy results."""
    scores = torch.tensor(scores, dtype=torch.float64)
    scores = scores if scores.dim() == 2 else scores.unsqueeze(0)
    shape = scores.shape

    def tensor(values, fill: float) -> torch.Tensor:
        if values is None:
            return torch.full(shape, fill, dtype=torch.float64)
        return torch.tensor(values, dtype=torch.float64).reshape(shape)

    m = torch.ones(shape, dtype=torch.bool) if mask is None else torch.tensor(mask).reshape(shape)
    out = topk_metrics(scores, m, tensor(watch, 0), tensor(ef, 0), tensor(duration, 1), k=k)
    return {name.split("@")[0]: value.numpy() for name, value in out.items()}


def assert_same_metrics(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> None:
    assert set(first) == set(second)
    for name, value in first.items():
        np.testing.assert_allclose(value, second[name], rtol=1e-12, err_msg=name)


def test_three_item_user_by_hand() -> None:
    result = metrics_of([0.9, 0.5, 0.1], [10, 30, 20], ef=[1, 0, 1], duration=[10, 20, 60])
    # ranking = slots 0, 1, 2 (scores descending); k = 10 > 3 items: all three count
    # DCG  = 10/log2(2) + 30/log2(3) + 20/log2(4) = 10 + 18.927893 + 10 = 38.927893
    # IDCG = 30/log2(2) + 20/log2(3) + 10/log2(4) = 30 + 12.618595 + 5  = 47.618595
    # NWTG = 38.927893 / 47.618595 = 0.8174935
    assert result["NWTG"][0] == pytest.approx(0.8174935138, rel=1e-9)
    # EF gains 1, 0, 1: DCG = 1 + 0 + 1/2 = 1.5; ideal 1, 1, 0: 1 + 1/log2(3) = 1.6309298
    # NEG = 1.5 / 1.6309298 = 0.9197208
    assert result["NEG"][0] == pytest.approx(0.9197207891, rel=1e-9)
    # durations 10, 20, 60: mean 30, squared deviations 400 + 100 + 900 = 1400
    # population std = sqrt(1400 / 3) = 21.602469
    assert result["DS"][0] == pytest.approx(21.602468995, rel=1e-9)


def test_three_item_user_k2() -> None:
    result = metrics_of([0.9, 0.5, 0.1], [10, 30, 20], duration=[10, 20, 60], k=2)
    # top 2 = slots 0, 1: DCG = 10 + 30/log2(3) = 28.927893
    # ideal top 2 = 30, 20: IDCG = 30 + 20/log2(3) = 42.618595 -> 0.6787622
    assert result["NWTG"][0] == pytest.approx(0.6787622295, rel=1e-9)
    # std of 10, 20 = 5
    assert result["DS"][0] == pytest.approx(5.0)


def test_divides_by_log2_rank_ideal_is_one_reversed_below_one() -> None:
    rng = np.random.default_rng(0)
    watch = rng.exponential(20.0, size=(6, 15))
    ideal = metrics_of(watch.tolist(), watch.tolist())["NWTG"]
    reverse = metrics_of((-watch).tolist(), watch.tolist())["NWTG"]
    random = metrics_of(rng.uniform(size=(6, 15)).tolist(), watch.tolist())["NWTG"]
    np.testing.assert_array_equal(ideal, np.ones(6))  # exactly 1.0
    assert (reverse < 1).all()
    assert (random <= 1).all()  # multiplying by log2(r + 1) would exceed 1 here
    assert (reverse <= random).all()


def test_tied_scores_ranked_by_slot() -> None:
    order = rank_order(torch.tensor([[0.5, 0.5, 0.5, 0.7]]), torch.ones(1, 4, dtype=torch.bool))
    np.testing.assert_array_equal(order.numpy(), [[3, 0, 1, 2]])
    result = metrics_of([0.5, 0.5, 0.5], [1, 2, 3])
    # ranking = slots 0, 1, 2: DCG = 1 + 2/log2(3) + 3/2; IDCG = 3 + 2/log2(3) + 1/2
    expected = (1 + 2 / LOG2_3 + 1.5) / (3 + 2 / LOG2_3 + 0.5)
    assert result["NWTG"][0] == pytest.approx(expected, rel=1e-12)
    # the same tied scores with the gains stored in the other order: ideal by slot order
    assert metrics_of([0.5, 0.5, 0.5], [3, 2, 1])["NWTG"][0] == 1.0


def test_tied_watch_times() -> None:
    result = metrics_of([0.1, 0.9, 0.5], [5, 5, 0])
    # ranking = slots 1, 2, 0 -> gains 5, 0, 5: DCG = 5 + 0 + 5/2 = 7.5
    # ideal 5, 5, 0: IDCG = 5 + 5/log2(3) = 8.1546488 -> 0.9197208
    assert result["NWTG"][0] == pytest.approx(7.5 / (5 + 5 / LOG2_3), rel=1e-12)


def test_zero_ideal_counts_one() -> None:
    result = metrics_of([0.3, 0.2, 0.9], [0, 0, 0], ef=[0, 0, 0], duration=[4, 4, 4])
    assert result["NWTG"][0] == 1.0 and result["NEG"][0] == 1.0
    assert result["DS"][0] == 0.0


def test_fewer_items_than_k_and_k_beyond_width() -> None:
    # two users padded to width 4: user 0 has 4 items, user 1 has 2; k = 50 > M
    scores = [[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 0.0, 0.0]]
    watch = [[1.0, 2.0, 3.0, 4.0], [6.0, 2.0, 0.0, 0.0]]
    duration = [[1.0, 1.0, 1.0, 1.0], [10.0, 30.0, 0.0, 0.0]]
    mask = [[True] * 4, [True, True, False, False]]
    result = metrics_of(scores, watch, duration=duration, mask=mask, k=50)
    # user 0: DCG = 1 + 2/log2 3 + 3/2 + 4/log2 5; IDCG = 4 + 3/log2 3 + 2/2 + 1/log2 5
    log2_5 = math.log2(5)
    user0 = (1 + 2 / LOG2_3 + 1.5 + 4 / log2_5) / (4 + 3 / LOG2_3 + 1 + 1 / log2_5)
    # user 1: ranking slots 1, 0 -> gains 2, 6: DCG = 2 + 6/log2 3; IDCG = 6 + 2/log2 3
    user1 = (2 + 6 / LOG2_3) / (6 + 2 / LOG2_3)
    np.testing.assert_allclose(result["NWTG"], [user0, user1], rtol=1e-12)
    np.testing.assert_allclose(result["DS"], [0.0, 10.0])  # std of 10, 30 = 10
    assert_same_metrics(result, metrics_of(scores, watch, duration=duration, mask=mask, k=4))


def test_padded_slots_never_counted() -> None:
    plain = metrics_of([0.9, 0.5, 0.1], [10, 30, 20], ef=[1, 0, 1], duration=[10, 20, 60], k=4)
    # the same user with two padded slots holding huge scores, gains and durations (and a NaN)
    padded = metrics_of(
        [1e9, 0.9, 1e9, 0.5, 0.1],
        [1e9, 10, np.nan, 30, 20],
        ef=[1, 1, 1, 0, 1],
        duration=[1e6, 10, 1e6, 20, 60],
        mask=[False, True, False, True, True],
        k=4,
    )
    assert_same_metrics(padded, plain)
    # a real item scored -inf still ranks before the pads
    order = rank_order(torch.tensor([[5.0, -np.inf, 1.0]]), torch.tensor([[False, True, True]]))
    np.testing.assert_array_equal(order.numpy(), [[2, 1, 0]])


def test_single_item_duration_std_is_zero() -> None:
    assert metrics_of([1.0, 0.0], [3.0, 1.0], duration=[30.0, 50.0], k=1)["DS"][0] == 0.0


def test_users_do_not_interact_in_a_batch() -> None:
    rng = np.random.default_rng(1)
    scores, watch = rng.uniform(size=(5, 8)), rng.exponential(5.0, size=(5, 8))
    batch = metrics_of(scores.tolist(), watch.tolist(), ef=(watch > 5).tolist())
    for user in range(5):
        single = metrics_of(
            scores[user].tolist(), watch[user].tolist(), ef=(watch[user] > 5).tolist()
        )
        for name in batch:
            assert batch[name][user] == pytest.approx(single[name][0], rel=1e-12)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="no real item, first: \\[1\\]"):
        metrics_of([[1.0, 2.0], [1.0, 2.0]], [[1, 1], [1, 1]], mask=[[True, True], [False, False]])
    with pytest.raises(ValueError, match="NaN scores at \\(user, slot\\) \\[\\[0, 1\\]\\]"):
        metrics_of([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="watch_time has 1 negative"):
        metrics_of([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metrics_of([1.0, 2.0], [1.0, 1.0], k=0)
    with pytest.raises(ValueError, match="scores have shape"):
        topk_metrics(
            torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool), *[torch.zeros(2, 4)] * 3
        )


# --- AUC -------------------------------------------------------------------------------------


def test_auc_by_hand() -> None:
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 0.35>0.1, 0.8>0.1, 0.8>0.4 -> 3/4
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    # ties: positives 0.5, 0.9; negatives 0.5, 0.2: 0.5~0.5 counts 1/2, the other 3 pairs won
    assert auc(np.array([0.5, 0.5, 0.2, 0.9]), np.array([1, 0, 0, 1])) == pytest.approx(3.5 / 4)
    # all scores tied -> 1/2
    assert auc(np.zeros(4), np.array([0, 1, 0, 1])) == pytest.approx(0.5)


def test_auc_masks_padding_and_handles_bad_targets(caplog: pytest.LogCaptureFixture) -> None:
    scores = torch.tensor([[0.1, 0.4, 99.0], [0.35, 0.8, -99.0]])
    target = torch.tensor([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, True, False]])
    assert auc(scores, target, mask) == pytest.approx(0.75)
    with caplog.at_level(logging.WARNING, logger="labelcraft.evaluation.report"):
        assert math.isnan(auc(np.array([0.2, 0.3]), np.array([1, 1])))
    assert "AUC undefined: 2 positive and 0 negative" in caplog.text
    with pytest.raises(ValueError, match="target must be 0/1"):
        auc(np.array([0.2, 0.3]), np.array([0, 2]))


def test_group_auc_by_hand() -> None:
    """User 0 (3 items): AUC 1.0; user 1 (4 items): positives 0.2, 0.6 vs negatives 0.4, 0.1 ->
    pairs won 0.2>0.1, 0.6>0.4, 0.6>0.1 -> 3/4; user 2 all negative: skipped; padding ignored.
    gAUC = (3 * 1.0 + 4 * 0.75) / 7."""
    scores = torch.tensor([[0.9, 0.1, 0.2, 5.0], [0.2, 0.6, 0.4, 0.1], [0.3, 0.2, 0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    result = group_auc(scores, target, mask)
    assert result["value"] == pytest.approx((3 * 1.0 + 4 * 0.75) / 7)
    assert (result["n_users"], result["n_skipped"]) == (2, 1)
    assert math.isnan(group_auc(scores, torch.zeros_like(target), mask)["value"])


# --- summaries -------------------------------------------------------------------------------


def test_weighted_mean_by_hand_and_constant_interval() -> None:
    summary = summarise_users(np.array([1.0, 0.0, 0.5]), np.array([2, 1, 1]), n_boot=200)
    # mean (1 + 0 + 0.5) / 3 = 0.5; weighted (2*1 + 1*0 + 1*0.5) / 4 = 0.625
    assert summary["mean"] == pytest.approx(0.5)
    assert summary["weighted_mean"] == pytest.approx(0.625)
    assert summary["n_users"] == 3 and set(summary) == set(SUMMARY_KEYS)
    constant = summarise_users(np.full(7, 0.3), np.arange(1, 8), n_boot=50)
    assert constant["ci_low"] == pytest.approx(0.3) and constant["ci_high"] == pytest.approx(0.3)


def test_bootstrap_seeded_and_contains_the_means() -> None:
    rng = np.random.default_rng(4)
    values, weights = rng.uniform(size=80), rng.integers(11, 40, size=80)
    first = summarise_users(values, weights, seed=3)
    assert first == summarise_users(values, weights, seed=3)
    assert first != summarise_users(values, weights, seed=4)
    assert first["ci_low"] < first["mean"] < first["ci_high"]
    assert first["weighted_ci_low"] < first["weighted_mean"] < first["weighted_ci_high"]
    # standard error of a uniform mean ~ 0.289 / sqrt(80) = 0.032: 95 % width ~ 0.13
    assert 0.08 < first["ci_high"] - first["ci_low"] < 0.18
    with pytest.raises(ValueError, match="weights must be finite and > 0"):
        summarise_users(values, np.zeros(80))


def test_summarise_over_seeds() -> None:
    seeds = [
        {"NWTG@10": {"mean": 0.2, "weighted_mean": 0.1}, "AUC_EF": {"value": 0.6}},
        {"NWTG@10": {"mean": 0.4, "weighted_mean": 0.1}, "AUC_EF": {"value": 0.7}},
    ]
    result = summarise_over_seeds(seeds)
    # mean 0.3; sample std sqrt((0.1^2 + 0.1^2) / (2 - 1)) = 0.1414214
    assert result["NWTG@10"]["mean"] == pytest.approx(0.3)
    assert result["NWTG@10"]["mean_std"] == pytest.approx(math.sqrt(0.02))
    assert result["NWTG@10"]["weighted_mean_std"] == pytest.approx(0.0)
    assert result["AUC_EF"] == pytest.approx(
        {"value": 0.65, "value_std": math.sqrt(0.005), "n_seeds": 2}
    )
    assert math.isnan(summarise_over_seeds(seeds[:1])["NWTG@10"]["mean_std"])
    with pytest.raises(ValueError, match="seed summary 1 has metrics"):
        summarise_over_seeds([seeds[0], {"NWTG@10": seeds[1]["NWTG@10"]}])


def test_random_scores_seeded_and_masked() -> None:
    mask = torch.tensor([[True, True, False], [True, False, False]])
    first = random_scores(mask, seed=1)
    assert torch.equal(first, random_scores(mask, seed=1))
    assert not torch.equal(first, random_scores(mask, seed=2))
    assert first.shape == (2, 3) and (first[~mask] == 0).all()
    assert ((first[mask] >= 0) & (first[mask] < 1)).all()


# --- end to end on padded groups -------------------------------------------------------------


def make_outcomes() -> tuple[torch.Tensor, torch.Tensor, EvalOutcomes]:
    feedback = pd.DataFrame(
        {
            "play_time_s": [5.0, 10.0, 30.0, 20.0, 0.0, 8.0, 12.0],
            "duration_s": [10.0, 20.0, 60.0, 30.0, 15.0, 9.0, 40.0],
            "like": [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            "follow": [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            "comment": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            "long_view": [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
        },
        dtype=np.float32,
    )
    rows = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 0]])  # padding row index 0, as in EvalGroups
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    return rows, mask, EvalOutcomes.from_feedback(rows, mask, feedback)


def test_eval_outcomes_gather_feedback_rows() -> None:
    _, _, outcomes = make_outcomes()
    np.testing.assert_array_equal(outcomes.watch_time.numpy(), [[5, 10, 30, 20], [0, 8, 12, 0]])
    np.testing.assert_array_equal(outcomes.ef.numpy(), [[1, 0, 1, 0], [0, 1, 1, 0]])
    np.testing.assert_array_equal(outcomes.long_view.numpy(), [[0, 0, 1, 1], [0, 0, 1, 0]])


def test_evaluate_rankings_report() -> None:
    rows, mask, outcomes = make_outcomes()
    scores = outcomes.watch_time + 0.5 * outcomes.ef  # ideal for watch time
    report = evaluate_rankings(scores, mask, outcomes, k=3, n_boot=100, seed=0)
    assert set(report) == {"NWTG@3", "NEG@3", "DS@3", "AUC_EF", "AUC_long_view", "gAUC_EF",
                           "gAUC_long_view"}  # no click column in this feedback
    assert report["gAUC_long_view"] == {"value": 1.0, "n_users": 2, "n_skipped": 0}
    json.dumps(report)
    assert report["NWTG@3"]["mean"] == 1.0 and report["NWTG@3"]["n_users"] == 2
    # user 0 top 3 durations 60, 30, 20: mean 36.667, std sqrt((544.4+44.4+277.8)/3) = 16.997
    # user 1 top 3 durations 40, 9, 15: mean 21.333, std sqrt((348.4+152.1+40.1)/3) = 13.425
    per_user = [math.sqrt(np.var([60, 30, 20])), math.sqrt(np.var([40, 9, 15]))]
    assert report["DS@3"]["mean"] == pytest.approx(np.mean(per_user), rel=1e-6)
    # weights = real items per user: 4 and 3
    assert report["DS@3"]["weighted_mean"] == pytest.approx(
        (4 * per_user[0] + 3 * per_user[1]) / 7, rel=1e-6
    )
    # AUC_long_view over the 7 real rows: positives scores 30.5, 20, 12.5; negatives 5.5, 10,
    # 0, 8.5: every pair won -> 1.0
    assert report["AUC_long_view"] == {"value": 1.0, "n_interactions": 7, "n_positive": 3}
    assert report["AUC_EF"]["n_positive"] == 4


def test_random_floor_below_ideal() -> None:
    rng = np.random.default_rng(2)
    watch = torch.tensor(rng.exponential(20.0, size=(40, 12)))
    mask = torch.ones(40, 12, dtype=torch.bool)
    outcomes = EvalOutcomes(watch, (watch > 30).double(), watch + 5, (watch > 20).double())
    per_seed = [
        evaluate_rankings(random_scores(mask, seed), mask, outcomes, n_boot=100)
        for seed in range(3)
    ]
    floor = summarise_over_seeds(per_seed)
    assert 0.3 < floor["NWTG@10"]["mean"] < 0.9
    assert floor["NWTG@10"]["mean_std"] > 0
    assert abs(floor["AUC_long_view"]["value"] - 0.5) < 0.15


def test_group_auc_equals_the_per_user_auc_loop() -> None:
    """On random users with ties and padding, the vectorised gAUC equals the impression-weighted
    mean of `auc` per user (users of one class skipped)."""
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(40, 12, generator=g) < 0.8
    scores = torch.randint(0, 5, (40, 12), generator=g).float() / 4  # many ties
    target = (torch.rand(40, 12, generator=g) < 0.3).float()
    target[0] = 1.0  # a user of one class
    values, weights = [], []
    for user in range(40):
        real = mask[user]
        labels = target[user][real]
        if 0 < labels.sum() < len(labels):
            values.append(auc(scores[user][real], labels))
            weights.append(int(real.sum()))
    result = group_auc(scores, target, mask)
    assert result["value"] == pytest.approx(np.average(values, weights=weights), rel=1e-12)
    assert result["n_users"] == len(values) and result["n_skipped"] == 40 - len(values)
