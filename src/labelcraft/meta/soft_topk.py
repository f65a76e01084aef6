"""Optimal-transport soft top-k (Xie et al., NeurIPS 2020), batched over padded users.

Each user g has scores ``[M]`` of which ``n_g`` slots are real (``mask``). The real scores are
min-max normalised per user to ``s`` in [0, 1] (the result does not depend on the scale or
offset of a user's scores; all-equal scores give ``s = 0``) and transported onto the ``k + 1``
anchors ``a = (k, k - 1, ..., 1, 0)``:

- cost ``C_ij = (s_i - a_j)^2 / k^2`` in [0, 1] (the authors' ``C / C.max()``, whose max is
  exactly ``k^2`` once the scores are normalised);
- marginals ``mu_i = 1 / n`` per real item (padded items take no mass) and
  ``nu = [1/n] * k + [(n - k) / n]``;
- entropic plan ``Gamma = argmin <C, Gamma> - epsilon H(Gamma)``, and
  ``alpha_i = n * sum_{j < k} Gamma_ij`` in [0, 1], the soft membership of item i in the top k
  (0 on padding). Users with ``n <= k`` keep every real item: ``alpha = 1`` (no gradient).

epsilon sets the softness: swapping the k-th and (k+1)-th items changes the cost by
``2 * gap / k^2`` (gap in units of the user's score range), against ``epsilon`` times the
entropy, which also leans towards the large "rest" column by ``log(n - k)``. At the default
``epsilon = 1e-3`` and k = 10, items about 0.1 of the range apart or closer share the boundary;
at 1e-5 the result is the hard top-k unless scores are closer than about 1e-3 of the range.

Solver. Only the real items are processed (packed rows ``[R, k + 1]``, R = number of real
slots), in float64 and in the log domain (logsumexp, so a small epsilon never overflows). The
row potentials are eliminated in closed form and the k + 1 column potentials of each user are
found by Newton's method on this concave semi-dual, with a backtracking line search, started
from the potentials of the hard sorted assignment (indifference half-way between consecutive
sorted scores). Sinkhorn's alternating updates need hundreds to thousands of sweeps for a sharp
top-k (the authors run 1000 and still stop short); this converges in about five
(``benchmarks/bench_soft_topk.py``).

Backward. Implicit differentiation of the optimality (KKT) conditions, as the authors'
reference does: one ``k x k`` solve per user, whatever the number of forward iterations. The
benchmark compares it with autograd unrolled through log-domain Sinkhorn iterations, which is
slower and, at any affordable number of iterations, further from the exact gradient, so only
the implicit backward is kept.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from labelcraft.evaluation.topk import rank_order

logger = logging.getLogger(__name__)

RIDGE = 1e-12  # added to the k x k systems so that a nearly hard plan stays solvable
ARMIJO = 1e-4  # sufficient-increase constant of the line search
ROUNDING = 1e-12  # relative float64 resolution of the semi-dual allowed in the line search
MAX_HALVINGS = 20


@dataclass(frozen=True)
class TopKProblem:
    """Entropic OT problem of a soft top-k on the R real slots of G users (float64).

    cost: ``[R, k + 1]`` (differentiable in the scores); mask: ``[G, M]`` the real slots (rows
    are in mask order); user: ``[R]`` long, the user of each row; log_nu: ``[G, k + 1]``;
    init: ``[G, k + 1]`` starting column potentials (no gradient); n: ``[G]`` real items;
    selects: ``[G]`` bool, ``n > k`` (otherwise the problem is a placeholder and every real item
    is in the top k). The row marginal of a row is ``1 / n[user]``.
    """

    cost: torch.Tensor
    mask: torch.Tensor
    user: torch.Tensor
    log_nu: torch.Tensor
    init: torch.Tensor
    n: torch.Tensor
    selects: torch.Tensor

    @property
    def k(self) -> int:
        """Number of top anchors."""
        return self.cost.shape[1] - 1


def _check(scores: torch.Tensor, mask: torch.Tensor, k: int, epsilon: float) -> None:
    if scores.dim() != 2 or mask.shape != scores.shape or mask.dtype != torch.bool:
        raise ValueError(f"need scores [G, M] and a bool mask of the same shape, got "
                         f"{tuple(scores.shape)} and {mask.dtype} {tuple(mask.shape)}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    empty = torch.nonzero(~mask.any(dim=1)).flatten()
    if len(empty):
        raise ValueError(f"{len(empty)} user(s) have no real item, first: {empty[:5].tolist()}")
    bad = torch.nonzero(mask & ~torch.isfinite(scores.detach()))
    if len(bad):
        raise ValueError(f"{len(bad)} NaN or infinite real score(s); first (user, slot): "
                         f"{bad[:5].tolist()}")


def _warm_start(s: torch.Tensor, mask: torch.Tensor, n: torch.Tensor, k: int,
                epsilon: float, log_nu: torch.Tensor) -> torch.Tensor:
    """Column potentials ``[G, k + 1]`` (in units of epsilon) of the hard sorted assignment.

    s: normalised scores ``[G, M]``. Between columns j and j + 1 (anchors a_j and a_j - 1) an
    item is indifferent at the midpoint m_j of the sorted scores j and j + 1, which fixes the
    potential gap 2 (m_j - a_j) + 1; the log of the column masses relative to 1/n is added for
    the entropic part.
    """
    ordered = torch.where(mask, s, 0.0).sort(dim=1, descending=True).values
    ordered = F.pad(ordered, (0, max(0, k + 1 - s.shape[1])))
    rank = torch.arange(k, device=s.device)
    midpoint = torch.where(rank + 1 < n.unsqueeze(1),
                           (ordered[:, :k] + ordered[:, 1 : k + 1]) / 2, 0.0)
    anchors = torch.arange(k, 0, -1, device=s.device, dtype=s.dtype)
    eta = F.pad((2.0 * (midpoint - anchors) + 1.0).cumsum(dim=1), (1, 0))
    return eta / (k * k * epsilon) + log_nu + torch.log(n.to(s.dtype)).unsqueeze(1)


def topk_problem(scores: torch.Tensor, mask: torch.Tensor, k: int,
                 epsilon: float) -> TopKProblem:
    """The OT problem of ``soft_topk`` for scores ``[G, M]`` and mask ``[G, M]``."""
    _check(scores, mask, k, epsilon)
    x = scores.to(torch.float64)
    low = torch.where(mask, x, torch.inf).amin(dim=1, keepdim=True)
    spread = torch.where(mask, x, -torch.inf).amax(dim=1, keepdim=True) - low
    s = torch.where(mask, (x - low) / torch.where(spread > 0, spread, 1.0), 0.0)
    n = mask.sum(dim=1)
    selects = n > k
    count = n.to(x.dtype).unsqueeze(1)
    rest = torch.log(torch.where(selects.unsqueeze(1), count - k, 1.0) / count)
    placeholder = ~selects.unsqueeze(1)
    # a user with n <= k gets a placeholder solved by its start: zero cost and uniform columns
    # make the plan mu x nu; alpha ignores it
    log_nu = torch.where(placeholder, -math.log(k + 1.0),
                         torch.cat([(-torch.log(count)).expand(-1, k), rest], dim=1))
    init = torch.where(placeholder, log_nu,
                       _warm_start(s.detach(), mask, n, k, epsilon, log_nu))
    user = torch.arange(len(n), device=x.device).unsqueeze(1).expand_as(mask)[mask]
    anchors = torch.arange(k, -1, -1, device=x.device, dtype=x.dtype)
    cost = (s[mask].unsqueeze(1) - anchors).square() / (k * k)
    cost = torch.where(selects[user].unsqueeze(1), cost, 0.0)
    return TopKProblem(cost=cost, mask=mask, user=user, log_nu=log_nu, init=init, n=n,
                       selects=selects)


def _user_sum(values: torch.Tensor, user: torch.Tensor, n_users: int) -> torch.Tensor:
    """Per-user sums ``[G, ...]`` of row values ``[R, ...]``."""
    return values.new_zeros((n_users, *values.shape[1:])).index_add_(0, user, values)


def _gram(top: torch.Tensor, problem: TopKProblem) -> torch.Tensor:
    """``sum_i top_i top_i^T / mu_i`` per user ``[G, k, k]`` from rows ``top [R, k]``.

    One batched matmul on the rows scattered back to the padded layout ``[G, M, k]``.
    """
    padded = top.new_zeros((*problem.mask.shape, top.shape[1]))
    padded[problem.mask] = top
    return problem.n.to(top.dtype)[:, None, None] * (padded.transpose(1, 2) @ padded)


class _SemiDual:
    """Semi-dual of the packed problem at column potentials ``h [G, k + 1]`` (eps units)."""

    def __init__(self, z: torch.Tensor, user: torch.Tensor, n: torch.Tensor,
                 log_nu: torch.Tensor) -> None:
        self.z, self.user, self.nu = z, user, log_nu.exp()
        self.log_mu = -torch.log(n.to(z.dtype))[user]  # [R]

    def evaluate(self, h: torch.Tensor, rows: torch.Tensor | None = None,
                 users: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Plan ``[R', k + 1]`` and concave objective ``[G']`` (subset: rows of ``users``)."""
        z, user, log_mu, nu = self.z, self.user, self.log_mu, self.nu
        if rows is not None and users is not None:
            z, log_mu, nu = z[rows], log_mu[rows], nu[users]
            user = torch.searchsorted(users, user[rows])
        logits = z + h[user]
        lse = torch.logsumexp(logits, dim=1)
        plan = torch.exp(logits + (log_mu - lse).unsqueeze(1))
        value = (nu * h).sum(dim=1) - _user_sum(lse * log_mu.exp(), user, len(h))
        return plan, value


def _newton(z: torch.Tensor, problem: TopKProblem, n_iters: int, tol: float) -> torch.Tensor:
    """Plan ``[R, k + 1]`` maximising the semi-dual by damped Newton steps.

    z = -cost / epsilon. The last column potential is held fixed (the problem is invariant to a
    constant shift). Stops when every user's column masses are within ``tol`` items in L1
    (times n), after at most ``n_iters`` iterations.
    """
    user, n, k = problem.user, problem.n, problem.k
    dual = _SemiDual(z, user, n, problem.log_nu)
    n_users = len(n)
    ridge = RIDGE * torch.eye(k, dtype=z.dtype, device=z.device)
    h = problem.init.to(z.dtype).clone()
    plan, value = dual.evaluate(h)
    error = torch.zeros((), dtype=z.dtype)
    for _ in range(n_iters):
        column = _user_sum(plan, user, n_users)
        residual = dual.nu - column
        error = n * residual.abs().sum(dim=1)
        active = error > tol
        if not bool(active.any()):
            break
        hessian = torch.diag_embed(column[:, :k]) - _gram(plan[:, :k], problem)
        step = torch.linalg.solve(hessian + ridge, residual[:, :k])
        step = F.pad(torch.where(active.unsqueeze(1), step, 0.0), (0, 1))
        slope = (residual * step).sum(dim=1)
        # full step for everyone, then halve the step of the users it did not improve
        size = torch.ones_like(slope)
        trial_plan, trial_value = dual.evaluate(h + step)
        ok = _sufficient(trial_value - value, size, slope, h)
        h, value = torch.where(ok.unsqueeze(1), h + step, h), torch.where(ok, trial_value, value)
        plan = torch.where(ok[user].unsqueeze(1), trial_plan, plan)
        todo = torch.nonzero(~ok).flatten()
        for _ in range(MAX_HALVINGS):
            if not len(todo):
                break
            size[todo] /= 2
            rows = torch.nonzero(torch.isin(user, todo)).flatten()
            trial = h[todo] + size[todo].unsqueeze(1) * step[todo]
            trial_plan, trial_value = dual.evaluate(trial, rows, todo)
            ok = _sufficient(trial_value - value[todo], size[todo], slope[todo], h[todo])
            h[todo[ok]], value[todo[ok]] = trial[ok], trial_value[ok]
            keep = ok[torch.searchsorted(todo, user[rows])]
            plan[rows[keep]] = trial_plan[keep]
            todo = todo[~ok]
    else:
        error = n * (dual.nu - _user_sum(plan, user, n_users)).abs().sum(dim=1)
        if float(error.max()) > tol:
            logger.warning("soft top-k: not converged after %d Newton iterations "
                           "(column mass error %.2e items > tol %.1e)",
                           n_iters, float(error.max()), tol)
    return plan


def _sufficient(gain: torch.Tensor, size: torch.Tensor, slope: torch.Tensor,
                h: torch.Tensor) -> torch.Tensor:
    """Armijo test ``[G']``, allowing the float64 rounding of the semi-dual near the optimum."""
    rounding = ROUNDING * (1.0 + h.abs().amax(dim=1))
    return gain >= ARMIJO * size * slope - rounding


def implicit_grad_cost(grad_plan: torch.Tensor, plan: torch.Tensor,
                       problem: TopKProblem, epsilon: float) -> torch.Tensor:
    """Gradient ``[R, k + 1]`` w.r.t. the cost, from the KKT conditions of the plan.

    Per user, with ``Q = grad_plan * plan``, its row sums p, its column sums q (first k
    columns), the plan's column sums c and ``Gamma_k`` the plan's first k columns:
    ``K y = q - Gamma_k^T (p / mu)`` with ``K = diag(c_k) - Gamma_k^T diag(1/mu) Gamma_k``
    (k x k), ``x = (p - Gamma_k y) / mu``, and ``dL/dC_ij = (Gamma_ij (x_i + y_j) - Q_ij) / eps``
    with ``y_k = 0`` (the fixed column potential).
    """
    user, n, k = problem.user, problem.n, problem.k
    n_users = len(n)
    inv_mu = n.to(plan.dtype)[user].unsqueeze(1)
    weighted = grad_plan * plan
    p = weighted.sum(dim=1, keepdim=True)  # [R, 1]
    top = plan[:, :k]
    scaled = top * inv_mu
    column = _user_sum(plan, user, n_users)[:, :k]
    kappa = torch.diag_embed(column) - _gram(top, problem)
    rhs = _user_sum(weighted[:, :k] - scaled * p, user, n_users)
    ridge = RIDGE * torch.eye(k, dtype=plan.dtype, device=plan.device)
    y = torch.linalg.solve(kappa + ridge, rhs)[user]  # [R, k]
    x = (p - (top * y).sum(dim=1, keepdim=True)) * inv_mu
    return (plan * (x + F.pad(y, (0, 1))) - weighted) / epsilon


class _EntropicPlan(torch.autograd.Function):
    """cost ``[R, k + 1]`` -> plan, Newton forward and implicit backward."""

    @staticmethod
    def forward(ctx: Any, cost: torch.Tensor, problem: TopKProblem, epsilon: float,
                n_iters: int, tol: float) -> torch.Tensor:
        plan = _newton(-cost / epsilon, problem, n_iters, tol)
        ctx.save_for_backward(plan)
        ctx.problem, ctx.epsilon = problem, epsilon
        return plan

    @staticmethod
    def backward(ctx: Any, grad_plan: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (plan,) = ctx.saved_tensors
        return implicit_grad_cost(grad_plan, plan, ctx.problem, ctx.epsilon), None, None, None, None


def entropic_plan(problem: TopKProblem, epsilon: float, n_iters: int = 30,
                  tol: float = 1e-9) -> torch.Tensor:
    """Transport plan ``[R, k + 1]`` of ``problem``, differentiable in ``problem.cost``."""
    if int(n_iters) != n_iters or n_iters < 1:
        raise ValueError(f"n_iters must be a positive integer, got {n_iters}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    return _EntropicPlan.apply(problem.cost, problem, float(epsilon), int(n_iters), float(tol))


def membership(plan: torch.Tensor, problem: TopKProblem, mask: torch.Tensor) -> torch.Tensor:
    """``alpha [G, M]``: ``n * sum_{j<k} plan_ij`` on real slots (1 where n <= k), 0 on padding."""
    alpha = plan[:, : problem.k].sum(dim=1) * problem.n.to(plan.dtype)[problem.user]
    alpha = torch.where(problem.selects[problem.user], alpha.clamp(0.0, 1.0), 1.0)
    return plan.new_zeros(mask.shape).masked_scatter(mask, alpha)


def soft_ranks(scores: torch.Tensor, mask: torch.Tensor, k: int, *, epsilon: float = 1e-3,
               n_iters: int = 30, tol: float = 1e-9) -> torch.Tensor:
    """Soft rank weights ``P [G, M, k]`` (float64): P[g, i, j] ~ item i of user g at rank j + 1.

    ``P = n * plan[:, :k]`` of the same transport problem as ``soft_topk``: the anchors are in
    descending order and the squared cost is monotone, so as epsilon -> 0 the plan becomes the
    sorted assignment and P the one-hot ranks of the top k. Over a user with n > k real items,
    each rank column sums to 1 and an item's row sums to its membership alpha. Users with
    n <= k (no selection to make) take their hard ranks (stable sort by score, no gradient).
    0 on padding. Differentiable in the scores (implicit backward).
    """
    problem = topk_problem(scores, mask, k, epsilon)
    plan = entropic_plan(problem, epsilon, n_iters, tol)
    soft = plan[:, :k] * problem.n.to(plan.dtype)[problem.user].unsqueeze(1)
    order = rank_order(scores.detach(), mask)
    position = torch.empty_like(order).scatter_(
        1, order, torch.arange(mask.shape[1], device=order.device).expand_as(order))
    hard = F.one_hot(position[mask].clamp(max=k), k + 1)[:, :k].to(plan.dtype)
    rows = torch.where(problem.selects[problem.user].unsqueeze(1), soft, hard)
    return plan.new_zeros((*mask.shape, k)).masked_scatter(mask.unsqueeze(2), rows)


def soft_topk(scores: torch.Tensor, mask: torch.Tensor, k: int, *, epsilon: float = 1e-3,
              n_iters: int = 30, tol: float = 1e-9) -> torch.Tensor:
    """Soft top-k membership ``alpha [G, M]`` in [0, 1] (scores' dtype; 0 on padding).

    scores ``[G, M]`` (finite on real slots), mask ``[G, M]`` bool (every user needs a real
    item). n_iters caps the Newton iterations; tol is the allowed column-mass error, in items.
    Differentiable in the scores (implicit backward).
    """
    problem = topk_problem(scores, mask, k, epsilon)
    plan = entropic_plan(problem, epsilon, n_iters, tol)
    return membership(plan, problem, mask).to(scores.dtype)
