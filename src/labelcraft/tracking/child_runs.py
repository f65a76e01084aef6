"""One MLflow child run per trained label method and seed, nested under the active run.

Used as the `on_seed_run` callback of `labelcraft.experiments.run_rule_experiment`. Without an
active MLflow run (plain scripts, tracking disabled) it does nothing, so callers need no MLflow.
Every child run has the same metric names, so the MLflow compare view lines methods up:
per-epoch curves ``train_loss`` and ``valid.<metric>`` (step = epoch; LabelCraft adds its
validation objectives as ``valid.objective``, ``valid.usage_time`` ... and the means over the
epoch's meta steps as ``meta.<name>``: objectives M1-M3, their adaptive weights, the virtual
loss) and the label statistics as ``labels.<name>`` (mean, std, corr_<outcome>), final
metrics ``final.<split>.<metric>`` (``NWTG.10``, ``AUC_EF`` ...), and the first
seed's weights as artifacts ``weights/<name>_state_dict.pt`` (``model``; LabelCraft's
``labeler`` too).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import torch

from labelcraft.meta.meta_training import META_CURVES
from labelcraft.tracking.metrics import metric_name
from labelcraft.tracking.provenance import DATA_SOURCE_TAG

if TYPE_CHECKING:
    from labelcraft.experiments import SeedRun

logger = logging.getLogger(__name__)

SUMMARY_VALUE = "mean"
"""Field of a top-k metric summary logged as its final value (AUCs log their ``value``)."""
WEIGHTS_PATH = "weights"


def final_metrics(report: Mapping[str, Mapping[str, Any]], split: str) -> dict[str, float]:
    """``final.<split>.<metric>`` of one `evaluate_rankings` report (mean, or AUC value)."""
    return {
        metric_name("final", split, name): float(entry.get(SUMMARY_VALUE, entry.get("value")))
        for name, entry in report.items()
    }


def curve_metrics(entry: Mapping[str, float | int]) -> dict[str, float]:
    """Per-epoch metrics of a history entry: ``train_loss``, ``valid.*``, ``meta.*``, ``labels.*``.

    Keys an entry lacks are not logged (LabelCraft's epoch 0, the untrained model, has only
    validation entries).
    """
    metrics = {}
    for key, value in entry.items():
        if key == "train_loss":
            metrics[key] = float(value)
        elif key.startswith("valid_"):
            metrics[metric_name("valid", key.removeprefix("valid_"))] = float(value)
        elif key in META_CURVES:
            metrics[metric_name("meta", key)] = float(value)
        elif key.startswith("label_"):
            metrics[metric_name("labels", key.removeprefix("label_"))] = float(value)
    return metrics


class MlflowSeedRuns:
    """Callback logging each `SeedRun` as a child run tagged method, backbone, data_source, seed."""

    def __init__(self, data_source: str, label: str | None = None) -> None:
        """``label``: the method's name in the run names (default the method; a grid of several
        backbones passes "<backbone>/<method>")."""
        self.data_source, self.label = data_source, label

    def __call__(self, run: SeedRun) -> None:
        """Log `run` in a nested child run; a no-op when no MLflow run is active."""
        if mlflow.active_run() is None:
            return
        tags = {
            "method": run.method,
            "backbone": run.backbone,
            DATA_SOURCE_TAG: self.data_source,
            "seed": str(run.seed),
        }
        name = f"{self.data_source}/{self.label or run.method}/seed{run.seed}"
        with mlflow.start_run(run_name=name, nested=True, tags=tags):
            for entry in run.history:
                mlflow.log_metrics(curve_metrics(entry), step=int(entry["epoch"]))
            final = {"best_epoch": float(run.best_epoch)}
            for split, report in run.final.items():
                final |= final_metrics(report, split)
            mlflow.log_metrics(final)
            with tempfile.TemporaryDirectory() as folder:
                for weights, state in run.state_dicts.items():
                    path = Path(folder) / f"{weights}_state_dict.pt"
                    torch.save(state, path)
                    mlflow.log_artifact(str(path), artifact_path=WEIGHTS_PATH)
        logger.info("Logged MLflow child run %s", name)
