"""One LabelCraft epoch vs one plain DIN epoch on the real slice's train split (budget: ratio <= 4).

Reads the kuairand features written by `KUAIRAND_DIR=... kedro run --pipelines kuairand`
(``data/05_model_input/kuairand/*.parquet``, ``data/04_feature/kuairand/feature_spec.json``).
Times, with ``--threads`` torch threads and batch ``--batch-size``, each figure the best of
``--repeats`` runs from the same seeded model (the machine may be shared):

- plain: one shuffled DIN epoch on the WT label (``bench_din_epoch.one_epoch``: forward,
  backward, Adam step per batch, no validation);
- LabelCraft: ``train_labelcraft`` for one epoch, for each ``--meta-every`` value (default
  paper settings otherwise: half of the validation users per meta step); its train pass
  (``train_seconds``) and the whole epoch with the validation scoring (``seconds``).

    python benchmarks/bench_labelcraft_epoch.py [--meta-every 1 4] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from bench_din_epoch import one_epoch
from kuairand_features import load_kuairand_features

from labelcraft.labels import fit_labels
from labelcraft.meta.training import LabelCraftConfig, train_labelcraft
from labelcraft.training import build_seeded_model, score_groups

logger = logging.getLogger("bench_labelcraft_epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-every", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many epochs")
    parser.add_argument("--output", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    features = load_kuairand_features()
    tensors, feedback, spec = features.tensors, features.feedback, features.spec
    history_length, valid, train_rows = features.history_length, features.valid, features.train_rows
    labels = torch.from_numpy(fit_labels("WT", feedback.iloc[train_rows.numpy()])(feedback))

    plain = min(
        one_epoch(tensors, labels, train_rows, build_seeded_model("din", spec, None, 1, seed=0),
                  args.batch_size, history_length)
        for _ in range(args.repeats)
    )
    model = build_seeded_model("din", spec, None, 1, seed=0)
    started = time.perf_counter()
    score_groups(model, tensors, valid.groups, history_length)
    scoring = time.perf_counter() - started
    logger.info("plain DIN epoch: %.2f s (+ %.2f s validation scoring)", plain, scoring)
    result: dict[str, object] = {
        "train_rows": len(train_rows), "valid_users": len(valid),
        "batch_size": args.batch_size, "threads": args.threads,
        "plain_epoch_s": round(plain, 2), "plain_validation_s": round(scoring, 2),
        "labelcraft": [],
    }
    for meta_every in args.meta_every:
        config = LabelCraftConfig.from_dict({
            "meta_every": meta_every,
            "trainer": {"batch_size": args.batch_size, "max_epochs": 1,
                        "history_length": history_length, "num_threads": args.threads},
        })
        entry = min(
            (train_labelcraft(tensors, train_rows, valid, model_name="din", model_params=None,
                              spec=spec, config=config, seed=0).history[0]
             for _ in range(args.repeats)),
            key=lambda epoch: epoch["train_seconds"],
        )
        row = {
            "meta_every": meta_every, "meta_steps": entry["meta_steps"],
            "train_s": round(entry["train_seconds"], 2), "epoch_s": round(entry["seconds"], 2),
            "train_ratio": round(entry["train_seconds"] / plain, 2),
            "epoch_ratio": round(entry["seconds"] / (plain + scoring), 2),
        }
        result["labelcraft"].append(row)  # type: ignore[union-attr]
        logger.info("LabelCraft epoch, meta_every %d (%d meta steps): train %.2f s (ratio %.2f), "
                    "with validation %.2f s (ratio %.2f)", meta_every, row["meta_steps"],
                    row["train_s"], row["train_ratio"], row["epoch_s"], row["epoch_ratio"])
    logger.info(json.dumps(result))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
