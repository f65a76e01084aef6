"""Time one LabelCraft meta step vs one plain DIN training step on the real slice.

Reads the kuairand features written by `KUAIRAND_DIR=... kedro run --pipelines kuairand`:

    python benchmarks/bench_meta_step.py [--batch 1024] [--ratio 0.5] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch
from saved_features import load_features

from labelcraft.meta import Labeler, LabelerConfig, MetaConfig, OutcomeScales, ValidBatch, meta_step
from labelcraft.models import build_model, label_loss, make_batch

logger = logging.getLogger("bench_meta_step")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--activation", default="dice")
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
    plain = build_model("din", spec, {"activation": args.activation})
    torch.manual_seed(0)
    model = build_model("din", spec, {"activation": args.activation})
    labeler = Labeler(LabelerConfig(), cols).fit_scaling(tf)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    config = MetaConfig()
    g = torch.Generator().manual_seed(0)
    n_users = len(groups.user_idx)
    plain_t, meta_t = [], []
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
        plain_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        batch = make_batch(tensors, rows, history_length)
        valid = ValidBatch.from_groups(tensors, groups, outcomes, users, history_length)
        model.train()
        log = meta_step(model, labeler, batch, tensors.feedback[rows], valid, config, scales, opt)
        meta_t.append(time.perf_counter() - start)
        logger.info(
            "step %d: plain %.0f ms, meta %.0f ms (valid %s, %d rows) %s",
            step,
            1000 * plain_t[-1],
            1000 * meta_t[-1],
            tuple(valid.mask.shape),
            int(valid.mask.sum()),
            {k: round(v, 4) for k, v in log.items()},
        )
    p, m = statistics.median(plain_t[2:]), statistics.median(meta_t[2:])
    logger.info(
        "median over steps 3..: plain %.0f ms, meta %.0f ms, ratio %.2f", 1000 * p, 1000 * m, m / p
    )


if __name__ == "__main__":
    main()
