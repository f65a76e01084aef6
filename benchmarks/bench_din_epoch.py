"""Seconds per DIN training epoch on the real KuaiRand slice's train split (target < 60 s).

Reads ``$KUAIRAND_DIR`` (default: ../shared/datasets/kuairand-pure-slice beside the checkout),
ingests it and builds the features in-process (the path ``kedro run`` takes), fits the WT label
on the train rows, then times one full training epoch of DIN (default hyper-parameters, the
parameters file's batch size, history length L = 100, MSE) with ``torch.set_num_threads(2)``:
every train row once, in shuffled mini-batches, forward + backward + Adam step, no validation.
Reports the best and median of ``--repeats`` epochs (each from the same seeded initial model)
and the train rows per second.

    python benchmarks/bench_din_epoch.py [--repeats 3] [--batch-size 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from pathlib import Path

import torch

from labelcraft.experiments import ComparisonData
from labelcraft.features.build import FeatureParams, build_features
from labelcraft.features.tensors import InteractionTensors
from labelcraft.kuairand.reader import read_kuairand_dir
from labelcraft.kuairand.schema import LOG_COLUMNS, LOG_PATTERN, VIDEO_COLUMNS, VIDEO_PATTERN
from labelcraft.kuairand.validation import ingest
from labelcraft.labels import fit_labels
from labelcraft.models import label_loss, make_batch
from labelcraft.recommender import build_seeded_model

logger = logging.getLogger("bench_din_epoch")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KUAIRAND_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "kuairand-pure-slice"


def one_epoch(
    tensors: InteractionTensors,
    labels: torch.Tensor,
    train_rows: torch.Tensor,
    model: torch.nn.Module,
    batch_size: int,
    history_length: int,
) -> float:
    """Seconds of one shuffled pass over `train_rows` (forward, backward, Adam step)."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = train_rows[torch.randperm(len(train_rows), generator=torch.Generator().manual_seed(0))]
    started = time.perf_counter()
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss = label_loss(model(make_batch(tensors, rows, history_length)), labels[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--history-length", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    directory = Path(os.environ.get("KUAIRAND_DIR", DEFAULT_KUAIRAND_DIR))

    started = time.perf_counter()
    raw_logs = read_kuairand_dir(directory, LOG_PATTERN, LOG_COLUMNS)
    raw_videos = read_kuairand_dir(directory, VIDEO_PATTERN, VIDEO_COLUMNS)
    interactions, _, _ = ingest(raw_logs, raw_videos)
    features = build_features(interactions, FeatureParams(history_length=args.history_length))
    data = ComparisonData.from_frames(
        features.model_inputs,
        features.feedback,
        features.eval_groups_valid,
        features.eval_groups_test,
        features.feature_spec,
    )
    tensors, train_rows, spec = data.tensors, data.train_rows, data.spec
    labels = torch.from_numpy(fit_labels("WT", data.train_feedback)(data.feedback))
    logger.info(
        "features ready in %.1f s: %d train rows", time.perf_counter() - started, len(train_rows)
    )

    seconds = []
    for repeat in range(args.repeats):
        model = build_seeded_model("din", spec, None, 1, seed=0)
        seconds.append(
            one_epoch(tensors, labels, train_rows, model, args.batch_size, args.history_length)
        )
        logger.info("epoch %d: %.2f s", repeat + 1, seconds[-1])
    best = min(seconds)
    result = {
        "data": str(directory),
        "train_rows": len(train_rows),
        "batch_size": args.batch_size,
        "history_length": args.history_length,
        "threads": args.threads,
        "epoch_seconds": [round(s, 2) for s in seconds],
        "best_epoch_s": round(best, 2),
        "median_epoch_s": round(statistics.median(seconds), 2),
        "rows_per_s": round(len(train_rows) / best),
        "target_s": 60,
    }
    logger.info(json.dumps(result))
    logger.info(
        "DIN epoch on %s train rows: best %.2f s (median %.2f s), %s rows/s, %d threads",
        f"{len(train_rows):,}",
        best,
        statistics.median(seconds),
        f"{result['rows_per_s']:,}",
        args.threads,
    )
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
