"""One LabelCraft epoch vs one plain DIN epoch on the real slice's train split (budget: ratio <= 4).

Reads the kuairand features written by `KUAIRAND_DIR=... kedro run --pipelines kuairand`
(``data/05_model_input/kuairand/*.parquet``, ``data/04_feature/kuairand/feature_spec.json``) and
the parameters of ``conf/<env>`` (``--env``, default ``benchmark``: a meta step on every batch,
the upper gradient reused ``upper_every`` times): the same LabelCraft configuration as
`kedro run --env <env>`, except the upper-gradient interval (``--upper-every``; the configured
value by default), one epoch, and the torch threads. Times, each the best of ``--repeats`` runs
from the same seeded model (the machine may be shared):

- plain: one shuffled DIN epoch on the WT label (``bench_backbone_epoch.one_epoch``: forward,
  backward, Adam step per batch, no validation), at the configured batch size;
- LabelCraft: ``train_labelcraft`` for one epoch; its train pass (``train_seconds``) and the
  whole epoch with the validation scoring (``seconds``).

    python benchmarks/bench_labelcraft_epoch.py [--upper-every 8 16 32] [--threads 2]

The last line, ``ratio <x>``, is the train-pass ratio of the first ``--upper-every`` value (the
configured one by default).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from bench_backbone_epoch import one_epoch
from saved_features import load_features, parameters

from labelcraft.datasets.strict_json import strict_json
from labelcraft.experiments import GridConfig, LabelCraftVariants
from labelcraft.labels import fit_labels
from labelcraft.meta.meta_training import LabelCraftConfig, train_labelcraft
from labelcraft.recommender import TrainConfig, build_seeded_model, score_groups

logger = logging.getLogger("bench_labelcraft_epoch")


@dataclass(frozen=True)
class Backbone:
    """The grid's first backbone (``model``: its registry name, ``model_params``) and the rules'
    fit parameters, as ``conf/<env>`` sets them."""

    model: str
    model_params: dict[str, Any]
    rule_params: dict[str, Any]


def configured(history_length: int,
               env: str = "benchmark") -> tuple[Backbone, LabelCraftConfig]:
    """The first backbone and the main LabelCraft configuration of ``conf/<env>`` (one epoch)."""
    params = parameters(env)
    model = GridConfig.from_dict(params["comparison"]).backbones[0]
    backbone = Backbone(model, params["backbones"][model], params["label_rules"])
    trainer = TrainConfig.from_dict(params["trainer"])
    main = LabelCraftVariants.from_params(params["labelcraft"], trainer).labelcraft
    trainer = dataclasses.replace(main.trainer, max_epochs=1, history_length=history_length)
    return backbone, dataclasses.replace(main, trainer=trainer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upper-every", type=int, nargs="+", help="default: the configured one")
    parser.add_argument("--env", default="benchmark")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many epochs")
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    data = load_features("kuairand")
    comparison, config = configured(data.history_length, args.env)
    batch_size = config.trainer.batch_size
    train_rows = data.train_rows
    labels = torch.from_numpy(fit_labels("WT", data.train_feedback)(data.feedback))
    model_args = (comparison.model, data.spec, comparison.model_params)
    plain = min(
        one_epoch(data.tensors, labels, train_rows, build_seeded_model(*model_args, 1, seed=0),
                  batch_size, data.history_length)
        for _ in range(args.repeats)
    )
    model = build_seeded_model(*model_args, 1, seed=0)
    started = time.perf_counter()
    score_groups(model, data.tensors, data.valid.groups, data.history_length)
    scoring = time.perf_counter() - started
    logger.info("plain DIN epoch: %.2f s (+ %.2f s validation scoring)", plain, scoring)
    result: dict[str, object] = {
        "train_rows": len(train_rows), "valid_users": len(data.valid),
        "batch_size": batch_size, "threads": args.threads,
        "valid_sample_ratio": config.valid_sample_ratio, "label_optimizer": config.label_optimizer,
        "meta_every": config.meta_every,
        "plain_epoch_s": round(plain, 2), "plain_validation_s": round(scoring, 2),
        "labelcraft": [],
    }
    for upper_every in args.upper_every or [config.upper_every]:
        run_config = dataclasses.replace(config, upper_every=upper_every)
        entry = min(
            (train_labelcraft(data.tensors, train_rows, data.valid, model_name=comparison.model,
                              model_params=comparison.model_params, spec=data.spec,
                              config=run_config, seed=0).history[0]
             for _ in range(args.repeats)),
            key=lambda epoch: epoch["train_seconds"],
        )
        row = {
            "upper_every": upper_every, "meta_steps": entry["meta_steps"],
            "upper_refreshes": entry["upper_refreshes"],
            "train_s": round(entry["train_seconds"], 2), "epoch_s": round(entry["seconds"], 2),
            "train_ratio": round(entry["train_seconds"] / plain, 2),
            "epoch_ratio": round(entry["seconds"] / (plain + scoring), 2),
        }
        result["labelcraft"].append(row)  # type: ignore[union-attr]
        logger.info("LabelCraft epoch, upper_every %d (%d meta steps): train %.2f s (ratio %.2f), "
                    "with validation %.2f s (ratio %.2f)", upper_every, row["meta_steps"],
                    row["train_s"], row["train_ratio"], row["epoch_s"], row["epoch_ratio"])
    logger.info(strict_json(result))
    if args.output:
        args.output.write_text(strict_json(result, indent=2))
    logger.info("ratio %.2f", result["labelcraft"][0]["train_ratio"])  # type: ignore[index]


if __name__ == "__main__":
    main()
