"""Search one backbone's hyper-parameters on the validation split with WT labels.

Every combination of ``tuning.<backbone>`` (``conf/<env>/parameters_tuning.yml``) is one trial:
the backbone with those values over its ``backbones.<backbone>`` parameters is trained on the WT
labels of the train rows (seed 0, the environment's trainer, early-stopped on validation) and
scored by its best validation NWTG@10; the test split is never read. Every trial is written to
``data/08_reporting/<source>/benchmark/tuning/<backbone>.csv`` (trial, parameters as JSON,
valid metric, best epoch, seconds); the last line is the best trial's parameters as YAML, to be
copied into ``backbones.<backbone>`` so that every label method uses them. Run after a
``kedro run --env <env>`` of the source (it reads the saved features).

    python benchmarks/tune_backbone.py --backbone dcnv2 [--source kuairand] [--env zoo]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from pathlib import Path

import pandas as pd
import torch
import yaml
from saved_features import DATA, load_features, parameters

from labelcraft.labels import fit_labels
from labelcraft.recommender import TrainConfig, build_seeded_model, train_model

logger = logging.getLogger("tune_backbone")


def trials(space: dict[str, list]) -> list[dict]:
    """Every combination of the search space, in its order."""
    names = list(space)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(space[name] for name in names))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--source", default="kuairand")
    parser.add_argument("--env", default="zoo")
    parser.add_argument("--data", type=Path, default=DATA, help="the run's data folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    torch.set_num_threads(args.threads)
    params = parameters(args.env)
    space = params.get("tuning", {}).get(args.backbone)
    if not space:
        raise SystemExit(f"no search space tuning.{args.backbone} in conf/{args.env}")
    data = load_features(args.source, args.data)
    trainer = TrainConfig.from_dict(params["trainer"]).resolve_history_length(
        data.history_length)
    labels = torch.tensor(fit_labels("WT", data.train_feedback, params["label_rules"])(
        data.feedback))
    base = dict(params["backbones"].get(args.backbone) or {})
    rows = []
    for index, trial in enumerate(trials(space)):
        started = time.perf_counter()
        model = build_seeded_model(args.backbone, data.spec, {**base, **trial}, 1, seed=0)
        result = train_model(model, data.tensors, labels, data.train_rows, data.valid, trainer,
                             seed=0, description=f"{args.backbone} trial {index}")
        rows.append({"trial": index, "parameters": json.dumps(trial),
                     f"valid_{trainer.eval_metric}": result.best_metric,
                     "best_epoch": result.best_epoch,
                     "seconds": round(time.perf_counter() - started, 1)})
        logger.info("trial %d %s: valid %s %.4f", index, trial, trainer.eval_metric,
                    result.best_metric)
    table = pd.DataFrame(rows)
    folder = args.data / "08_reporting" / args.source / "benchmark" / "tuning"
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / f"{args.backbone}.csv", index=False)
    best = table.loc[table[f"valid_{trainer.eval_metric}"].idxmax()]
    logger.info("trials: %s", folder / f"{args.backbone}.csv")
    logger.info("best (trial %d, valid %.4f), for backbones.%s: %s", best["trial"],
                best[f"valid_{trainer.eval_metric}"], args.backbone,
                yaml.safe_dump({**base, **json.loads(best["parameters"])},
                               default_flow_style=True, width=1000).strip())


if __name__ == "__main__":
    main()
