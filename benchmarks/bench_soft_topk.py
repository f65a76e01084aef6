"""Soft top-k backward: implicit differentiation vs autograd unrolled through Sinkhorn.

Both differentiate the same OT problem (``labelcraft.meta.soft_topk.topk_problem``: min-max
normalised scores, anchors k..0, marginals 1/n and [1/n]*k + [(n-k)/n], float64):

- ``implicit``: the module's default, Newton forward (no graph) + KKT backward;
- ``unrolled T``: T log-domain Sinkhorn iterations on the padded ``[G, M, k + 1]`` tensors from
  the same warm start, recorded by autograd and backpropagated.

For each size (G users, M slots, n real items per user) and epsilon it reports the forward and
backward seconds (median of ``--repeats``), the largest error of alpha against the converged
plan, the relative L2 error of d(sum alpha * w)/d(scores) against the implicit gradient
(which the tests check against finite differences), and how soft the converged alpha is (mean
over users of sum_i |alpha_i - hard top-k_i|). Unrolled runs whose autograd graph would
exceed ``--max-graph-gib`` are skipped.

    python benchmarks/bench_soft_topk.py [--threads 2] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelcraft.datasets.strict_json import strict_json
from labelcraft.meta.soft_topk import TopKProblem, soft_topk, topk_problem

logger = logging.getLogger("bench_soft_topk")
USERS = 400
K = 10


def sizes(case: str, seed: int) -> tuple[torch.Tensor, int]:
    """Real items per user ``[USERS]`` and the padded width M of a case.

    ``slice``: like the KuaiRand slice's validation users (more than 10 items, mean about 15,
    long tail capped at 70); ``uniformM``: uniform in [11, M].
    """
    rng = np.random.default_rng(seed)
    if case == "slice":
        n = np.minimum(10 + rng.geometric(1 / 5.3, USERS), 70)
    else:
        width = int(case.removeprefix("uniform"))
        n = rng.integers(11, width + 1, USERS)
    return torch.from_numpy(n), int(n.max())


def unrolled_alpha(scores: torch.Tensor, mask: torch.Tensor, epsilon: float,
                   iters: int) -> torch.Tensor:
    """alpha ``[G, M]`` from ``iters`` log-domain Sinkhorn iterations, differentiable."""
    problem: TopKProblem = topk_problem(scores, mask, K, epsilon)
    n = problem.n.to(torch.float64)
    cost = problem.cost.new_zeros((*mask.shape, K + 1)).masked_scatter(
        mask.unsqueeze(2).expand(-1, -1, K + 1), problem.cost)
    z = -cost / epsilon
    log_mu = torch.where(mask, -torch.log(n).unsqueeze(1), -torch.inf).unsqueeze(2)
    log_nu = problem.log_nu.unsqueeze(1)
    g = problem.init.unsqueeze(1)
    for _ in range(iters):
        f = log_mu - torch.logsumexp(z + g, dim=2, keepdim=True)
        g = log_nu - torch.logsumexp(z + f, dim=1, keepdim=True)
    f = log_mu - torch.logsumexp(z + g, dim=2, keepdim=True)
    alpha = torch.exp(z + f + g)[:, :, :K].sum(dim=2) * n.unsqueeze(1)
    return torch.where(problem.selects.unsqueeze(1), alpha, mask.to(alpha.dtype))


def timed(fn: Callable[[torch.Tensor], torch.Tensor], scores: torch.Tensor,
          weights: torch.Tensor, repeats: int) -> dict[str, Any]:
    """Median forward / backward seconds, the last alpha and the gradient."""
    forward, backward = [], []
    for _ in range(repeats):
        x = scores.clone().requires_grad_(True)
        start = time.perf_counter()
        alpha = fn(x)
        middle = time.perf_counter()
        (grad,) = torch.autograd.grad((alpha * weights).sum(), x)
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return {"forward_s": statistics.median(forward), "backward_s": statistics.median(backward),
            "alpha": alpha.detach(), "grad": grad}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch.set_num_threads(args.threads)
    rows = []
    for case in args.cases:
        n, width = sizes(case, seed=0)
        mask = torch.arange(width) < n.unsqueeze(1)
        g = torch.Generator().manual_seed(1)
        scores = torch.rand(mask.shape, generator=g, dtype=torch.float64)
        weights = torch.rand(mask.shape, generator=g, dtype=torch.float64)
        for epsilon in args.epsilons:
            reference = timed(lambda x, e=epsilon, m=mask: soft_topk(x, m, K, epsilon=e),
                              scores, weights, args.repeats)
            runs = [("implicit", reference)]
            for iters in args.iters:
                graph_gib = 6 * iters * mask.numel() * (K + 1) * 8 / 2**30
                if graph_gib > args.max_graph_gib:
                    logger.info("skip unrolled %d on %s (graph ~%.1f GiB)", iters, case, graph_gib)
                    continue
                runs.append((f"unrolled {iters}", timed(
                    lambda x, e=epsilon, t=iters, m=mask: unrolled_alpha(x, m, e, t),
                    scores, weights, args.repeats)))
            hard = torch.zeros_like(scores).scatter(
                1, torch.where(mask, scores, -torch.inf).topk(K, dim=1).indices, 1.0) * mask
            soft_l1 = float((reference["alpha"] - hard).abs().sum(dim=1).mean())
            logger.info("%-10s M=%3d eps=%.0e mean sum_i |alpha - hard top-k| per user: %.3f",
                        case, width, epsilon, soft_l1)
            for name, result in runs:
                grad_error = float((result["grad"] - reference["grad"]).norm()
                                   / reference["grad"].norm())
                row = {
                    "case": case, "users": USERS, "width": width,
                    "mean_items": float(n.double().mean()), "epsilon": epsilon, "mode": name,
                    "forward_ms": 1000 * result["forward_s"],
                    "backward_ms": 1000 * result["backward_s"],
                    "alpha_max_error": float((result["alpha"] - reference["alpha"]).abs().max()),
                    "grad_rel_error": grad_error,
                    "soft_l1_vs_hard": soft_l1,
                }
                rows.append(row)
                logger.info("%-10s M=%3d eps=%.0e %-13s fwd %8.1f ms  bwd %8.1f ms  "
                            "alpha err %.1e  grad rel err %.1e", case, width, epsilon, name,
                            row["forward_ms"], row["backward_ms"], row["alpha_max_error"],
                            grad_error)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=["slice", "uniform20", "uniform70",
                                                       "uniform200"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1e-2, 1e-3])
    parser.add_argument("--iters", nargs="+", type=int, default=[30, 100, 300])
    parser.add_argument("--max-graph-gib", type=float, default=4.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = run(args)
    if args.json is not None:
        args.json.write_text(strict_json(rows, indent=2))


if __name__ == "__main__":
    main()
