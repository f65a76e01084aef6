"""How close the cheap meta-gradients are to the exact one (cosine of d objective / d phi).

Reads the kuairand features written by `KUAIRAND_DIR=... kedro run --pipelines kuairand` and
the LabelCraft configuration of `conf/<env>` (default `benchmark`, over `conf/base`: warm
start, centring). For each schedule (`--schedules`: upper_every x valid_sample_ratio),
LabelCraft trains from its seeded start with a meta step on every batch of 256, the labeler
moved by the schedule's gradient.
At every step the same batch's meta-gradient is also computed exactly, with a fresh upper
gradient at the current theta:

- on the same sampled validation users as the schedule's last refresh (`cos_same`: what reusing
  the upper gradient for `upper_every` steps costs),
- on all validation users (`cos_all`: reuse and user sampling together).

Prints one line per schedule: mean and minimum cosines over `--steps` steps (at least 20).

    python benchmarks/meta_gradient_fidelity.py [--steps 40] [--schedules 1x0.5 8x0.5 16x0.25]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

import torch
from bench_labelcraft_epoch import configured
from saved_features import load_features
from tqdm.auto import tqdm

from labelcraft.datasets.strict_json import strict_json
from labelcraft.meta import (
    OutcomeScales,
    ValidBatch,
    meta_gradient,
    meta_step,
    upper_gradient,
)
from labelcraft.meta.meta_training import initial_labeler
from labelcraft.models import make_batch
from labelcraft.recommender import build_seeded_model

logger = logging.getLogger("meta_gradient_fidelity")


def cosine(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> float:
    """Cosine similarity of two gradients given as tuples of tensors."""
    dot = sum(float((x * y).sum()) for x, y in zip(a, b, strict=True))
    norm = (sum(float(x.square().sum()) for x in a) * sum(float(y.square().sum()) for y in b))
    return dot / norm**0.5 if norm > 0 else float("nan")


def fidelity(data, comparison, config, upper_every: int, ratio: float, steps: int,
             seed: int = 0) -> dict[str, float]:
    """Cosines of one schedule over ``steps`` meta steps (one per batch) from the seeded start."""
    tensors, history_length = data.tensors, data.history_length
    columns = list(tensors.feedback_columns)
    train_feedback = tensors.feedback[data.train_rows]
    scales = OutcomeScales.fit(train_feedback[:, columns.index("play_time_s")].numpy(),
                               train_feedback[:, columns.index("duration_s")].numpy())
    model = build_seeded_model(comparison.model, data.spec, comparison.model_params, 1, seed)
    labeler = initial_labeler(config, train_feedback, columns, seed, comparison.rule_params)
    rec = torch.optim.Adam(model.parameters(), lr=config.trainer.lr)
    adam = torch.optim.Adam(labeler.parameters(), lr=config.meta.lr_label)
    order = data.train_rows[torch.randperm(len(data.train_rows),
                                           generator=torch.Generator().manual_seed(seed))]
    users_generator = torch.Generator().manual_seed(seed + 1)
    groups, outcomes = data.valid.groups, data.valid.outcomes
    n_users = len(data.valid)
    everyone = ValidBatch.from_groups(tensors, groups, outcomes, torch.arange(n_users),
                                      history_length)
    same, everyone_cos = [], []
    upper, sample = None, None
    model.train()
    batch_size = config.trainer.batch_size
    for step in tqdm(range(steps), desc=f"upper_every {upper_every}, ratio {ratio}"):
        rows = order[step * batch_size : (step + 1) * batch_size]
        batch, feedback = make_batch(tensors, rows, history_length), tensors.feedback[rows]
        if step % upper_every == 0:
            users = torch.randperm(n_users, generator=users_generator)[
                : max(1, round(ratio * n_users))]
            sample = ValidBatch.from_groups(tensors, groups, outcomes, users, history_length)
            upper = upper_gradient(model, labeler, batch, feedback, sample, config.meta, scales)
        approx = meta_gradient(model, labeler, batch, feedback, upper, config.meta).grads
        for reference, out in ((sample, same), (everyone, everyone_cos)):
            exact = upper_gradient(model, labeler, batch, feedback, reference, config.meta,
                                   scales)
            out.append(cosine(approx, meta_gradient(model, labeler, batch, feedback, exact,
                                                    config.meta).grads))
        meta_step(model, labeler, batch, feedback, upper, config.meta, rec, adam)
    return {
        "upper_every": upper_every, "valid_sample_ratio": ratio, "steps": steps,
        "cos_same_mean": round(sum(same) / steps, 4), "cos_same_min": round(min(same), 4),
        "cos_all_mean": round(sum(everyone_cos) / steps, 4),
        "cos_all_min": round(min(everyone_cos), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--schedules", nargs="+", default=["1x0.5", "4x0.5", "8x0.5", "16x0.5",
                                                          "1x0.25", "8x0.25", "16x0.25"],
                        help="upper_every x valid_sample_ratio")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--env", default="benchmark")
    args = parser.parse_args()
    if args.steps < 20:
        parser.error("--steps must be at least 20")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    data = load_features("kuairand")
    comparison, config = configured(data.history_length, args.env)
    for schedule in args.schedules:
        every, ratio = schedule.split("x")
        run_config = dataclasses.replace(config, upper_every=int(every),
                                         valid_sample_ratio=float(ratio))
        result = fidelity(data, comparison, run_config, int(every), float(ratio), args.steps)
        logger.info(strict_json(result))


if __name__ == "__main__":
    main()
