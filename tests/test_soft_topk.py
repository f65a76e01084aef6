"""Optimal-transport soft top-k: hard limit, hand-computed plans, gradients, edge cases."""

from __future__ import annotations

import dataclasses
import logging
import math

import pytest
import torch

from labelcraft.meta.soft_topk import entropic_plan, membership, soft_topk, topk_problem


def hard_topk(scores: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """0/1 indicator of the k best real items per user (all real items when n <= k)."""
    masked = torch.where(mask, scores, -torch.inf)
    index = masked.topk(min(k, scores.shape[1]), dim=1).indices
    top = torch.zeros_like(scores).scatter(1, index, 1.0)
    return top * mask


def padded_users(sizes: list[int], width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 scores [G, width] (distinct per user) and a mask with `sizes` real slots."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(len(sizes), width, generator=g, dtype=torch.float64)
    mask = torch.arange(width) < torch.tensor(sizes).unsqueeze(1)
    return scores, mask


def reference_sinkhorn(scores: torch.Tensor, k: int, epsilon: float,
                       iters: int = 5000) -> torch.Tensor:
    """Plain (non-log) Sinkhorn for one user's real scores [n], written from the definition."""
    n = len(scores)
    s = (scores - scores.min()) / (scores.max() - scores.min())
    anchors = torch.arange(k, -1, -1, dtype=torch.float64)
    kernel = torch.exp(-((s[:, None] - anchors) ** 2) / k**2 / epsilon)
    mu = torch.full((n,), 1.0 / n, dtype=torch.float64)
    nu = torch.tensor([1.0 / n] * k + [(n - k) / n], dtype=torch.float64)
    v = torch.ones(k + 1, dtype=torch.float64)
    for _ in range(iters):
        u = mu / (kernel @ v)
        v = nu / (kernel.T @ u)
    plan = u[:, None] * kernel * v[None, :]
    return n * plan[:, :k].sum(dim=1)


# ---------------------------------------------------------------- values


def test_two_items_match_the_closed_form() -> None:
    """n = 2, k = 1: plan [[a, 1/2 - a], [1/2 - a, a]] with a / (1/2 - a) = exp(1 / eps)."""
    scores = torch.tensor([[3.0, -5.0]], dtype=torch.float64)  # normalised to (1, 0)
    mask = torch.ones_like(scores, dtype=torch.bool)
    for epsilon in (1.0, 0.3):
        top = 1.0 / (1.0 + math.exp(-1.0 / epsilon))
        alpha = soft_topk(scores, mask, 1, epsilon=epsilon)
        torch.testing.assert_close(alpha, torch.tensor([[top, 1.0 - top]], dtype=torch.float64))


@pytest.mark.parametrize("epsilon", [0.5, 0.05, 0.01])
def test_matches_plain_sinkhorn_where_it_converges(epsilon: float) -> None:
    scores, mask = padded_users([7, 12, 5], 12, seed=3)
    alpha = soft_topk(scores, mask, 4, epsilon=epsilon)
    for g, n in enumerate([7, 12, 5]):
        expected = reference_sinkhorn(scores[g, :n], 4, epsilon)
        torch.testing.assert_close(alpha[g, :n], expected, atol=1e-7, rtol=0)


def test_small_epsilon_gives_the_hard_topk() -> None:
    g = torch.Generator().manual_seed(0)
    sizes = [30, 11, 25, 4, 10, 17]
    # random orders of integers: consecutive real scores differ by at least 1/29 of the range
    scores = torch.stack([torch.randperm(30, generator=g).to(torch.float64) for _ in sizes])
    mask = torch.arange(30) < torch.tensor(sizes).unsqueeze(1)
    alpha = soft_topk(scores, mask, 10, epsilon=1e-5)
    torch.testing.assert_close(alpha, hard_topk(scores, mask, 10), atol=1e-9, rtol=0)


def test_memberships_sum_to_k_in_unit_interval() -> None:
    scores, mask = padded_users([40, 11, 13, 3, 10], 40, seed=1)
    for epsilon in (1e-1, 1e-3):
        alpha = soft_topk(scores, mask, 10, epsilon=epsilon)
        assert bool(((alpha >= 0) & (alpha <= 1)).all())
        expected = torch.tensor([10.0, 10.0, 10.0, 3.0, 10.0], dtype=torch.float64)
        torch.testing.assert_close(alpha.sum(dim=1), expected, atol=1e-8, rtol=0)
        assert float(alpha[~mask].abs().max()) == 0.0


def test_scale_and_offset_of_a_user_do_not_matter() -> None:
    scores, mask = padded_users([9, 14], 14, seed=2)
    alpha = soft_topk(scores, mask, 5, epsilon=1e-2)
    moved = scores * torch.tensor([[1e3], [1e-4]], dtype=torch.float64) + torch.tensor([[-7.0],
                                                                                       [2e3]])
    torch.testing.assert_close(soft_topk(moved, mask, 5, epsilon=1e-2), alpha, atol=1e-8,
                               rtol=0)


def test_batched_equals_one_call_per_user() -> None:
    sizes = [20, 12, 3, 11, 16]
    scores, mask = padded_users(sizes, 20, seed=4)
    batched = soft_topk(scores, mask, 10, epsilon=1e-3)
    for g, n in enumerate(sizes):
        single = soft_topk(scores[g : g + 1, :n], mask[g : g + 1, :n], 10, epsilon=1e-3)
        torch.testing.assert_close(batched[g : g + 1, :n], single, atol=1e-9, rtol=0)


def test_padding_takes_no_mass_and_no_gradient() -> None:
    scores, mask = padded_users([8, 15, 12], 15, seed=5)
    scores.requires_grad_(True)
    alpha = soft_topk(scores, mask, 6, epsilon=1e-2)
    other = torch.where(mask, scores.detach(), torch.tensor(float("nan"), dtype=torch.float64))
    other[0, -1] = 1e30
    torch.testing.assert_close(soft_topk(other, mask, 6, epsilon=1e-2), alpha.detach())
    (grad,) = torch.autograd.grad((alpha * torch.arange(15.0)).sum(), scores)
    assert float(grad[~mask].abs().max()) == 0.0
    assert float(grad[mask].abs().max()) > 0.0


def test_float32_in_float32_out_and_deterministic() -> None:
    scores, mask = padded_users([30, 12], 30, seed=6)
    first = soft_topk(scores.float(), mask, 10)
    assert first.dtype == torch.float32
    assert torch.equal(first, soft_topk(scores.float(), mask, 10))
    torch.testing.assert_close(first, soft_topk(scores, mask, 10).float(), atol=1e-6, rtol=0)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("epsilon", [1e-1, 1e-2, 1e-3])
def test_gradient_matches_finite_differences(epsilon: float) -> None:
    scores, mask = padded_users([9, 6, 4], 9, seed=7)
    scores.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: soft_topk(x, mask, 3, epsilon=epsilon, tol=1e-12),
        (scores,),
        eps=1e-6,
        atol=1e-6,
        rtol=1e-5,
    )


def test_implicit_gradient_matches_unrolled_sinkhorn() -> None:
    """Gradient w.r.t. the cost vs autograd through the plain Sinkhorn iterations (converged)."""
    scores, mask = padded_users([10], 10, seed=8)
    problem = topk_problem(scores, mask, 3, 0.05)
    cost = problem.cost.detach().requires_grad_(True)
    weights = torch.randn(cost.shape, generator=torch.Generator().manual_seed(0),
                          dtype=torch.float64)
    plan = entropic_plan(dataclasses.replace(problem, cost=cost), 0.05, tol=1e-12)
    (implicit,) = torch.autograd.grad((plan * weights).sum(), cost)
    kernel = torch.exp(-cost / 0.05)
    mu = torch.full((10,), 0.1, dtype=torch.float64)
    nu = torch.tensor([0.1, 0.1, 0.1, 0.7], dtype=torch.float64)
    v = torch.ones(4, dtype=torch.float64)
    for _ in range(400):
        u = mu / (kernel @ v)
        v = nu / (kernel.T @ u)
    (unrolled,) = torch.autograd.grad(((u[:, None] * kernel * v) * weights).sum(), cost)
    torch.testing.assert_close(implicit, unrolled, atol=1e-9, rtol=1e-7)


# ---------------------------------------------------------------- edge cases


EDGE_CASES = {
    "ties": [[0.3, 0.7, 0.7, 0.7, 0.1, 0.7, 0.2, 0.7, 0.7, 0.7, 0.7, 0.7]],
    "all_equal": [[0.5] * 12],
    "n_equals_k_plus_1": [[0.1 * i for i in range(11)] + [0.0]],
    "n_below_k": [[0.4, 0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]],
    "huge": [[1e6 + 64.0 * i for i in range(12)]],
    "tiny": [[1e-6 * ((7 * i) % 12) for i in range(12)]],
}
EDGE_SIZES = {"n_equals_k_plus_1": 11, "n_below_k": 3}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("epsilon", [1e-2, 1e-4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_edge_cases_are_finite(case: str, epsilon: float, dtype: torch.dtype) -> None:
    scores = torch.tensor(EDGE_CASES[case], dtype=dtype, requires_grad=True)
    n = EDGE_SIZES.get(case, 12)
    mask = torch.arange(12).unsqueeze(0) < n
    alpha = soft_topk(scores, mask, 10, epsilon=epsilon)
    assert bool(torch.isfinite(alpha).all())
    assert bool(((alpha >= 0) & (alpha <= 1)).all())
    assert float(alpha.detach().sum()) == pytest.approx(min(n, 10), abs=1e-4)
    weights = torch.arange(12, dtype=dtype) / 12
    (grad,) = torch.autograd.grad((alpha * weights).sum(), scores)
    assert bool(torch.isfinite(grad).all())
    if case == "all_equal":
        torch.testing.assert_close(alpha, torch.full_like(alpha, 10 / 12))
    if case == "n_below_k":
        assert torch.equal(alpha, mask.to(dtype))
        assert float(grad.abs().max()) == 0.0
    if case == "ties":  # the tied items share the same membership
        tied = alpha[0, torch.tensor(EDGE_CASES[case][0]) == 0.7]
        torch.testing.assert_close(tied, tied[:1].expand_as(tied))


def test_bad_inputs_are_rejected() -> None:
    scores, mask = padded_users([3, 2], 3, seed=9)
    with pytest.raises(ValueError, match="no real item"):
        soft_topk(scores, torch.tensor([[True, True, False], [False, False, False]]), 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        soft_topk(torch.where(mask, torch.inf, scores), mask, 2)
    with pytest.raises(ValueError, match="same shape"):
        soft_topk(scores, mask[:, :2], 2)
    with pytest.raises(ValueError, match="positive integer"):
        soft_topk(scores, mask, 0)
    with pytest.raises(ValueError, match="epsilon"):
        soft_topk(scores, mask, 2, epsilon=0.0)
    with pytest.raises(ValueError, match="n_iters"):
        soft_topk(scores, mask, 2, n_iters=0)


def test_warns_when_not_converged(caplog: pytest.LogCaptureFixture) -> None:
    scores, mask = padded_users([30], 30, seed=10)
    with caplog.at_level(logging.WARNING, logger="labelcraft.meta.soft_topk"):
        soft_topk(scores, mask, 10, epsilon=1e-4, n_iters=1)
    assert "not converged" in caplog.text


def test_membership_of_placeholder_users_is_one() -> None:
    scores, mask = padded_users([2, 6], 6, seed=11)
    problem = topk_problem(scores, mask, 4, 1e-2)
    assert problem.selects.tolist() == [False, True]
    alpha = membership(entropic_plan(problem, 1e-2), problem, mask)
    assert alpha[0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
