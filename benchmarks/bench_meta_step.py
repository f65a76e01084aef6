"""Time the parts of a LabelCraft meta step against one plain DIN training step (real slice).

Reads the kuairand features written by `KUAIRAND_DIR=... kedro run --pipelines kuairand`. Per
train batch (median over steps 3..): a plain step (forward, backward, Adam), the upper gradient
(virtual step + scoring the sampled validation users with theta' + backward to theta'), and the
meta step that reuses it (forward with a tangent, labeler backward, real step):

    python benchmarks/bench_meta_step.py [--batch 256] [--ratio 0.5] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch
from saved_features import load_features

from labelcraft.meta import (
    Labeler,
    LabelerConfig,
    MetaConfig,
    OutcomeScales,
    ValidBatch,
    meta_step,
    upper_gradient,
)
from labelcraft.models import build_model, label_loss, make_batch

logger = logging.getLogger("bench_meta_step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--ratio", type=float, default=0.5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    features = load_features("kuairand")
    tensors, spec, train = features.tensors, features.spec, features.train_rows
    groups, outcomes = features.valid.groups, features.valid.outcomes
    history_length = features.history_length
    cols = list(tensors.feedback_columns)
    tf = tensors.feedback[train]
    scales = OutcomeScales.fit(
        tf[:, cols.index("play_time_s")].numpy(), tf[:, cols.index("duration_s")].numpy()
    )
    torch.manual_seed(0)
    plain = build_model("din", spec, {})
    torch.manual_seed(0)
    model = build_model("din", spec, {})
    labeler = Labeler(LabelerConfig(), cols).fit_scaling(tf)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    config = MetaConfig()
    g = torch.Generator().manual_seed(0)
    n_users = len(groups.user_idx)
    times: dict[str, list[float]] = {"plain": [], "upper": [], "meta": []}
    for step in range(args.steps):
        rows = train[torch.randint(len(train), (args.batch,), generator=g)]
        users = torch.randperm(n_users, generator=g)[: int(args.ratio * n_users)]
        start = time.perf_counter()
        batch = make_batch(tensors, rows, history_length)
        plain.train()
        loss = label_loss(plain(batch), torch.rand(args.batch, 1))
        plain_opt.zero_grad()
        loss.backward()
        plain_opt.step()
        times["plain"].append(time.perf_counter() - start)
        model.train()
        start = time.perf_counter()
        batch = make_batch(tensors, rows, history_length)
        valid = ValidBatch.from_groups(tensors, groups, outcomes, users, history_length)
        upper = upper_gradient(model, labeler, batch, tensors.feedback[rows], valid, config,
                               scales)
        times["upper"].append(time.perf_counter() - start)
        start = time.perf_counter()
        meta_step(model, labeler, batch, tensors.feedback[rows], upper, config, opt)
        times["meta"].append(time.perf_counter() - start)
        logger.info("step %d: %s ms (valid %s, %d items)", step,
                    {name: round(1000 * t[-1]) for name, t in times.items()},
                    tuple(valid.mask.shape), int(valid.mask.sum()))
    median = {name: statistics.median(t[2:]) for name, t in times.items()}
    logger.info("median over steps 3..: plain %.0f ms, upper gradient %.0f ms (%.1fx), meta step "
                "with a reused upper gradient %.0f ms (%.2fx)", 1000 * median["plain"],
                1000 * median["upper"], median["upper"] / median["plain"],
                1000 * median["meta"], median["meta"] / median["plain"])


if __name__ == "__main__":
    main()
