"""Seconds per training epoch of each backbone on the real KuaiRand slice's train split.

Reads ``$KUAIRAND_DIR`` (default: ../shared/datasets/kuairand-pure-slice beside the checkout),
ingests it and builds the features in-process (the path ``kedro run`` takes; ``--fields`` as
``features.fields``), fits the WT label on the train rows, then times one full training epoch of
each backbone (hyper-parameters of ``conf/<--env>``, batch size 256, history length L = 100,
MSE) with ``torch.set_num_threads(--threads)``: every train row once, in shuffled
mini-batches, forward + backward + Adam step, no validation. Reports per backbone the best and
median of ``--repeats`` epochs (each from the same seeded initial model) and the train rows per
second (DIN's target: under 60 s).

    python benchmarks/bench_backbone_epoch.py [--backbones din dnn ...] [--env zoo] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from pathlib import Path

import torch
from saved_features import parameters

from labelcraft.datasets.strict_json import strict_json
from labelcraft.experiments import ComparisonData
from labelcraft.features.build import FeatureParams, build_features
from labelcraft.features.tensors import InteractionTensors
from labelcraft.kuairand.reader import read_kuairand_dir
from labelcraft.kuairand.schema import LOG_COLUMNS, LOG_PATTERN, VIDEO_COLUMNS, VIDEO_PATTERN
from labelcraft.kuairand.validation import ingest
from labelcraft.labels import fit_labels
from labelcraft.models import label_loss, make_batch
from labelcraft.recommender import build_seeded_model

logger = logging.getLogger("bench_backbone_epoch")
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
    parser.add_argument("--backbones", nargs="+", help="default: those of conf/<env>")
    parser.add_argument("--env", default="base", help="configuration environment of the "
                        "backbones' hyper-parameters and fields")
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    directory = Path(os.environ.get("KUAIRAND_DIR", DEFAULT_KUAIRAND_DIR))

    started = time.perf_counter()
    raw_logs = read_kuairand_dir(directory, LOG_PATTERN, LOG_COLUMNS)
    raw_videos = read_kuairand_dir(directory, VIDEO_PATTERN, VIDEO_COLUMNS)
    interactions, _, _ = ingest(raw_logs, raw_videos)
    params = parameters(args.env)
    fields = params["features"].get("fields")
    features = build_features(interactions, FeatureParams(history_length=args.history_length,
                                                          **({"fields": fields} if fields else {})))
    data = ComparisonData.from_frames(
        features.model_inputs,
        features.feedback,
        features.eval_groups_valid,
        features.eval_groups_test,
        features.feature_spec,
    )
    train_rows, spec = data.train_rows, data.spec
    labels = torch.from_numpy(fit_labels("WT", data.train_feedback)(data.feedback))
    logger.info(
        "features ready in %.1f s: %d train rows", time.perf_counter() - started, len(train_rows)
    )

    results = []
    for backbone in args.backbones or params["comparison"]["backbones"]:
        seconds = []
        for repeat in range(args.repeats):
            model = build_seeded_model(backbone, spec, params["backbones"].get(backbone), 1, 0)
            seconds.append(
                one_epoch(data.for_backbone(backbone).tensors, labels, train_rows, model,
                          args.batch_size, args.history_length))
            logger.info("%s epoch %d: %.2f s", backbone, repeat + 1, seconds[-1])
        best = min(seconds)
        results.append({
            "backbone": backbone,
            "parameters": sum(p.numel() for p in model.parameters()),
            "epoch_seconds": [round(s, 2) for s in seconds],
            "best_epoch_s": round(best, 2),
            "median_epoch_s": round(statistics.median(seconds), 2),
            "rows_per_s": round(len(train_rows) / best),
        })
        logger.info("%s epoch on %s train rows: best %.2f s (median %.2f s), %s rows/s, %d "
                    "threads", backbone, f"{len(train_rows):,}", best, statistics.median(seconds),
                    f"{results[-1]['rows_per_s']:,}", args.threads)
    result = {
        "data": str(directory),
        "env": args.env,
        "fields": list(spec.vocab_sizes),
        "train_rows": len(train_rows),
        "batch_size": args.batch_size,
        "history_length": args.history_length,
        "threads": args.threads,
        "backbones": results,
        "din_target_s": 60,
    }
    logger.info(strict_json(result))
    if args.output:
        args.output.write_text(strict_json(result, indent=2))


if __name__ == "__main__":
    main()
