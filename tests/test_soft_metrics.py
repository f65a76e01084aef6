"""Soft ranks and the `metrics` objective set: hard limits, hand cases, gradients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.evaluation import EvalOutcomes
from labelcraft.evaluation.topk import topk_metrics
from labelcraft.experiments import rule_label_correlations
from labelcraft.features.feedback import FEEDBACK_COLUMNS
from labelcraft.labels import LABEL_RULES, fit_labels
from labelcraft.labels.scaling import PiecewiseScale
from labelcraft.meta import OutcomeScales, label_statistics, metric_objectives
from labelcraft.meta.soft_topk import soft_ranks, soft_topk

SCALES = OutcomeScales(PiecewiseScale(20.0, 60.0), PiecewiseScale(40.0, 120.0), duration_std=50.0)


def users(seed: int, sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor, EvalOutcomes]:
    """Float64 scores and outcomes of users with ``sizes`` real items (distinct scores)."""
    g = torch.Generator().manual_seed(seed)
    width = max(sizes)
    mask = torch.arange(width) < torch.tensor(sizes).unsqueeze(1)
    shape = mask.shape

    def real(values: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, values, 0.0).to(torch.float64)

    scores = torch.rand(shape, generator=g, dtype=torch.float64)
    outcomes = EvalOutcomes(
        watch_time=real(torch.rand(shape, generator=g) * 80),
        ef=real((torch.rand(shape, generator=g) < 0.3).float()),
        duration_s=real(5 + torch.rand(shape, generator=g) * 150),
        long_view=real(torch.zeros(shape)),
    )
    return scores, mask, outcomes


def hard_means(scores: torch.Tensor, mask: torch.Tensor, outcomes: EvalOutcomes,
               k: int) -> list[float]:
    per_user = topk_metrics(scores, mask, outcomes.watch_time, outcomes.ef, outcomes.duration_s,
                            k=k)
    return [float(per_user[f"NWTG@{k}"].mean()), float(per_user[f"NEG@{k}"].mean()),
            float(per_user[f"DS@{k}"].mean()) / SCALES.duration_std]


def soft_means(scores, mask, outcomes, k: int, epsilon: float) -> list[float]:
    values = metric_objectives(soft_ranks(scores, mask, k, epsilon=epsilon), mask, outcomes,
                               SCALES)
    return [float(values[name]) for name in ("usage_time", "engagement", "duration_spread")]


def test_soft_ranks_are_a_soft_permutation_of_the_top_k() -> None:
    scores, mask, _ = users(0, [12, 7, 15])
    ranks = soft_ranks(scores, mask, 3, epsilon=1e-2)
    assert ranks.shape == (3, 15, 3)
    assert torch.equal(ranks[~mask], torch.zeros(int((~mask).sum()), 3))
    big = [0, 2]  # users with n > k: every rank holds exactly one item
    torch.testing.assert_close(ranks[big].sum(dim=1), torch.ones(2, 3, dtype=torch.float64))
    torch.testing.assert_close(ranks.sum(dim=2), soft_topk(scores, mask, 3, epsilon=1e-2))
    assert float(ranks[1].sum()) == pytest.approx(3.0)  # n = 7 > 3 too
    few, few_mask, _ = users(1, [2, 3])
    hard = soft_ranks(few, few_mask, 3, epsilon=1e-2)  # n <= k: the hard order
    order = torch.argsort(few[0, :2], descending=True)
    assert hard[0, order[0]].tolist() == [1.0, 0.0, 0.0]
    assert hard[0, order[1]].tolist() == [0.0, 1.0, 0.0]


def test_soft_metrics_approach_the_hard_metrics_as_epsilon_shrinks() -> None:
    scores, mask, outcomes = users(2, [14, 20, 11, 25])
    hard = np.array(hard_means(scores, mask, outcomes, 10))
    errors = [np.abs(np.array(soft_means(scores, mask, outcomes, 10, eps)) - hard).max()
              for eps in (1e-1, 1e-2, 1e-3, 1e-5, 1e-7)]
    assert errors == sorted(errors, reverse=True), errors
    assert errors[-1] < 1e-8, errors


def test_soft_metrics_hand_computed_at_the_hard_limit() -> None:
    """k = 2, one user with 3 items ranked b > a > c."""
    mask = torch.ones(1, 3, dtype=torch.bool)
    scores = torch.tensor([[0.5, 0.9, 0.1]], dtype=torch.float64)
    outcomes = EvalOutcomes(
        watch_time=torch.tensor([[10.0, 30.0, 40.0]]), ef=torch.tensor([[1.0, 0.0, 0.0]]),
        duration_s=torch.tensor([[20.0, 60.0, 100.0]]), long_view=torch.zeros(1, 3))
    values = metric_objectives(soft_ranks(scores, mask, 2, epsilon=1e-6), mask, outcomes, SCALES)
    dcg, ideal = 30.0 + 10.0 / np.log2(3), 40.0 + 30.0 / np.log2(3)
    assert float(values["usage_time"]) == pytest.approx(dcg / ideal, abs=1e-8)
    assert float(values["engagement"]) == pytest.approx(1 / np.log2(3), abs=1e-8)
    assert float(values["duration_spread"]) == pytest.approx(20.0 / 50.0, abs=1e-8)


def test_a_user_without_gain_scores_one_with_no_gradient() -> None:
    mask = torch.ones(1, 12, dtype=torch.bool)
    scores = torch.rand(1, 12, dtype=torch.float64, requires_grad=True)
    outcomes = EvalOutcomes(*(torch.zeros(1, 12) for _ in range(2)),
                            torch.ones(1, 12), torch.zeros(1, 12))
    values = metric_objectives(soft_ranks(scores, mask, 10, epsilon=1e-2), mask, outcomes, SCALES)
    assert float(values["usage_time"].detach()) == 1.0
    assert float(values["duration_spread"].detach()) == pytest.approx(0.0, abs=1e-12)
    (grad,) = torch.autograd.grad(values["usage_time"] + values["engagement"], scores)
    assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("name", ["usage_time", "engagement", "duration_spread"])
def test_soft_metric_gradients_match_finite_differences(name: str) -> None:
    scores, mask, outcomes = users(3, [13, 16, 12])
    scores.requires_grad_(True)

    def value(s: torch.Tensor) -> torch.Tensor:
        return metric_objectives(soft_ranks(s, mask, 4, epsilon=5e-2), mask, outcomes,
                                 SCALES)[name]

    (grad,) = torch.autograd.grad(value(scores), scores)
    assert float(grad.abs().sum()) > 0
    assert torch.equal(grad[~mask], torch.zeros(int((~mask).sum()), dtype=torch.float64))
    g = torch.Generator().manual_seed(4)
    for _ in range(3):
        direction = torch.randn(scores.shape, generator=g, dtype=torch.float64) * mask
        with torch.no_grad():
            numeric = (value(scores + 1e-6 * direction) - value(scores - 1e-6 * direction)) / 2e-6
        assert float((grad * direction).sum()) == pytest.approx(float(numeric), rel=1e-5,
                                                                abs=1e-10)


def test_label_statistics_hand_computed() -> None:
    feedback = torch.zeros(4, len(FEEDBACK_COLUMNS))
    column = {name: FEEDBACK_COLUMNS.index(name) for name in FEEDBACK_COLUMNS}
    feedback[:, column["play_time_s"]] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    feedback[:, column["duration_s"]] = torch.tensor([2.0, 2.0, 0.0, 8.0])
    feedback[:, column["like"]] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    feedback[:, column["comment"]] = torch.tensor([0.0, 1.0, 0.0, 1.0])
    feedback[:, column["skip"]] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    labels = torch.tensor([0.1, 0.2, 0.3, 0.4])
    stats = label_statistics(labels, feedback, FEEDBACK_COLUMNS)
    assert stats["label_mean"] == pytest.approx(0.25)
    assert stats["label_std"] == pytest.approx(float(np.std([0.1, 0.2, 0.3, 0.4])))
    assert stats["label_corr_watch_time"] == pytest.approx(1.0)
    # play ratio over the rows with a duration: (0.5, 1.0, 0.5) against labels (0.1, 0.2, 0.4)
    expected = np.corrcoef([0.1, 0.2, 0.4], [0.5, 1.0, 0.5])[0, 1]
    assert stats["label_corr_play_ratio"] == pytest.approx(expected)
    assert stats["label_corr_ef"] == pytest.approx(np.corrcoef([0.1, 0.2, 0.3, 0.4],
                                                               [0, 1, 0, 1])[0, 1])
    assert stats["label_corr_skip"] == pytest.approx(np.corrcoef([0.1, 0.2, 0.3, 0.4],
                                                                 [1, 0, 0, 0])[0, 1])
    assert np.isnan(stats["label_corr_long_view"])  # constant column


def test_rule_label_correlations_on_a_learned_copy_of_wt() -> None:
    """A 'learned' label equal to WT's correlates 1 with WT; rows outside train are refused."""
    g = np.random.default_rng(0)
    n = 60
    feedback = pd.DataFrame(0.0, index=range(n), columns=list(FEEDBACK_COLUMNS))
    feedback["play_time_s"] = g.uniform(0, 60, n)
    feedback["duration_s"] = g.uniform(5, 120, n)
    feedback["like"] = (g.random(n) < 0.3).astype(float)
    train_rows = np.arange(40)
    wt = fit_labels("WT", feedback.iloc[train_rows])(feedback.iloc[train_rows])[:, 0]
    labels = pd.DataFrame({"row": train_rows, "label": wt})
    table = rule_label_correlations(labels, feedback, train_rows)
    assert table["rule"].tolist() == list(LABEL_RULES)
    wt_row = table.set_index("rule").loc["WT"]
    assert wt_row["pearson"] == pytest.approx(1.0) and wt_row["spearman"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="outside the train split.*45"):
        rule_label_correlations(pd.DataFrame({"row": [3, 45], "label": [0.1, 0.2]}), feedback,
                                train_rows)
