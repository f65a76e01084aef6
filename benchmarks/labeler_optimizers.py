"""How the labeler's optimiser and rate change LabelCraft's labels (the study behind its defaults).

Reads the features written by `kedro run` for ``--source`` (default: simulated) and trains
LabelCraft with the pipeline's configuration (``conf/base/parameters_{comparison,labelcraft}.yml``)
for one seed, once per ``optimizer:rate`` of ``--labelers`` (``none`` = labeler frozen at its
start). Protocol of the README figures: meta step every 8 batches of 1024, 2 epochs, 1 thread.
Reports per labeler: test NWTG@10 / NEG@10 / DS@10 (means over users), the learned labels' mean
and std over the train rows and their correlation with watch time and duration.

    python benchmarks/labeler_optimizers.py [--labelers sgd:0.04 adam:0.001 adam:0.003 adam:0.01]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch
from bench_labelcraft_epoch import configured
from saved_features import load_features

from labelcraft.datasets.strict_json import strict_json
from labelcraft.evaluation import topk_metrics
from labelcraft.meta.meta_training import train_labelcraft
from labelcraft.recommender import score_groups

logger = logging.getLogger("labeler_optimizers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="simulated")
    parser.add_argument("--labelers", nargs="+",
                        default=["sgd:0.04", "adam:0.001", "adam:0.003", "adam:0.01"])
    parser.add_argument("--meta-every", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    data = load_features(args.source)
    comparison, config = configured(data.history_length)
    trainer = dataclasses.replace(config.trainer, batch_size=args.batch_size,
                                  max_epochs=args.epochs, patience=args.epochs)
    train_feedback = data.train_feedback
    results = []
    for labeler in args.labelers:
        optimizer, _, rate = labeler.partition(":")
        meta = dataclasses.replace(config.meta, lr_label=float(rate or config.meta.lr_label))
        run_config = dataclasses.replace(config, meta=meta, trainer=trainer,
                                         meta_every=args.meta_every, label_optimizer=optimizer)
        result = train_labelcraft(data.tensors, data.train_rows, data.valid,
                                  model_name=comparison.model,
                                  model_params=comparison.model_params, spec=data.spec,
                                  config=run_config, seed=args.seed, description=labeler)
        scores = score_groups(result.model, data.tensors, data.test.groups, data.history_length)
        outcomes = data.test.outcomes
        test = topk_metrics(scores, data.test.groups.mask, outcomes.watch_time, outcomes.ef,
                            outcomes.duration_s, k=trainer.k)
        labels = result.labels.numpy().astype(np.float64)
        row = {
            "labeler": labeler,
            **{f"test_{name}": round(float(values.mean()), 4) for name, values in test.items()},
            "label_mean": round(float(labels.mean()), 4),
            "label_std": round(float(labels.std()), 4),
            **{f"corr_{column}": round(float(np.corrcoef(
                labels, train_feedback[column].to_numpy(np.float64))[0, 1]), 2)
               for column in ("play_time_s", "duration_s")},
            "valid_objective": [round(result.start["valid_objective"], 4)] + [
                round(float(entry["valid_objective"]), 4) for entry in result.history],
        }
        results.append(row)
        logger.info(strict_json(row))
    if args.output:
        args.output.write_text(strict_json(results, indent=2))


if __name__ == "__main__":
    main()
