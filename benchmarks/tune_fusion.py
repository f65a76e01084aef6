"""Search the fusion weights of a multi-objective cell on validation; report them on test.

The ranking score of a multi-objective cell is the weighted product of its heads
(`labelcraft.multiobjective.objective.fuse_heads`, ``params:multi_objective.fusion``). Its
``task_predictions.parquet`` holds every head on every validation and test slot, so other
weights need no retraining: every combination of ``--grid`` values per task ranks the saved
predictions, the best mean validation NWTG@10 over seeds is selected, and its test metrics are
reported beside the shipped weights' (all 1). The models were early-stopped on the shipped
weights' score, so this is a lower bound on tuning the fusion with training.

    python benchmarks/tune_fusion.py --cell feedback_aware/multi_objective [--data data]
"""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from saved_features import DATA, load_features
from tqdm.auto import tqdm

from labelcraft.datasets.strict_json import strict_json
from labelcraft.experiments.multi_objective import PREDICTION_KEYS, watch_time_scale
from labelcraft.experiments.reports import scores_from_table
from labelcraft.multiobjective.objective import fuse_heads
from labelcraft.multiobjective.tasks import REGRESSION_TASKS, WatchTimeScale
from labelcraft.recommender import EvalSet, epoch_metrics

logger = logging.getLogger("tune_fusion")


def head_tensors(predictions: pd.DataFrame, split: str, eval_set: EvalSet, seeds: list[int],
                 tasks: list[str], scale: WatchTimeScale) -> list[torch.Tensor]:
    """Per seed, the head scores ``[G, M, T]`` of the saved predictions (watch time back on
    the head's scale)."""
    part = predictions[predictions["split"] == split]
    columns = [scores_from_table(part, eval_set, seeds, column=task) for task in tasks]
    heads = []
    for index in range(len(seeds)):
        stacked = torch.stack([column[index] for column in columns], dim=-1).to(torch.float64)
        for t, task in enumerate(tasks):
            if task in REGRESSION_TASKS:
                stacked[..., t] = torch.from_numpy(scale.encode(stacked[..., t].numpy()))
        heads.append(stacked)
    return heads


def mean_metrics(heads: list[torch.Tensor], eval_set: EvalSet, tasks: list[str],
                 fusion: dict[str, float], scale) -> dict[str, float]:
    """Means over seeds of the plain user means of NWTG@10, NEG@10, DS@10."""
    per_seed = [epoch_metrics(torch.where(eval_set.groups.mask,
                                          fuse_heads(h, tasks, fusion, scale), 0.0),
                              eval_set, 10) for h in heads]
    return {name: float(np.mean([m[name] for m in per_seed])) for name in per_seed[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", required=True, help="<backbone slug>/<method slug>")
    parser.add_argument("--source", default="kuairand")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--grid", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--quantile", type=float, default=0.999,
                        help="multi_objective.watch_time_quantile of the run")
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logger.setLevel(logging.INFO)
    data = load_features(args.source, args.data)
    scale = watch_time_scale(data, args.quantile)
    predictions = pd.read_parquet(args.data / "07_model_output" / args.source / args.cell
                                  / "task_predictions.parquet")
    tasks = [c for c in predictions.columns if c not in PREDICTION_KEYS]
    seeds = sorted(int(seed) for seed in predictions["seed"].unique())
    heads = {split: head_tensors(predictions, split, eval_set, seeds, tasks, scale)
             for split, eval_set in (("valid", data.valid), ("test", data.test))}
    trials = []
    for values in tqdm(list(itertools.product(args.grid, repeat=len(tasks))), desc="weights",
                       mininterval=5.0):
        if sum(values) == 0:
            continue
        fusion = dict(zip(tasks, values, strict=True))
        trials.append((mean_metrics(heads["valid"], data.valid, tasks, fusion, scale)["NWTG@10"],
                       fusion))
    best_valid, best = max(trials, key=lambda trial: trial[0])
    shipped = dict.fromkeys(tasks, 1.0)
    result = {"cell": args.cell, "tasks": tasks, "trials": len(trials), "best_fusion": best,
              "best_valid_NWTG@10": best_valid}
    for name, fusion in (("shipped", shipped), ("best", best)):
        result[f"{name}_test"] = mean_metrics(heads["test"], data.test, tasks, fusion, scale)
        result[f"{name}_valid"] = mean_metrics(heads["valid"], data.valid, tasks, fusion, scale)
    logger.info(strict_json(result, indent=1))
    if args.output:
        args.output.write_text(strict_json(result, indent=2))


if __name__ == "__main__":
    main()
