"""The learned labeler as an MLflow model, registered so a platform loads it by name.

``mlflow.pyfunc`` through this module (``loader_module``): the model directory holds the
labeler's ``labeler.pt`` (weights plus a JSON description, `LabelerDataset`, loaded with
``weights_only=True``) and an MLmodel file naming this module; no pickle and no code travels
with the model, so loading it needs ``labelcraft`` installed and never runs code from the
artefact. Its signature is the labeler's input feedback columns (float64) to ``label``.

    model = mlflow.pyfunc.load_model("models:/labelcraft-labeler-kuairand-din/1")
    labels = model.predict(feedback_frame)["label"]
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from labelcraft.datasets.labeler_artifact import LabelerDataset
from labelcraft.meta.labeler import Labeler

logger = logging.getLogger(__name__)

REGISTERED_NAME = "labelcraft-labeler-{source}-{backbone}"
"""The model registry name of a source's and backbone's LabelCraft labeler."""
CHUNK_ROWS = 65_536  # rows labelled per forward pass


class LabelerPredictor:
    """``predict(frame) -> frame["label"]`` of a labeler artifact (`Labeler.to_artifact`)."""

    def __init__(self, artifact: Mapping[str, Any]) -> None:
        self.labeler = Labeler.from_artifact(artifact)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The feedback columns the labeler reads."""
        return tuple(self.labeler.config.inputs)

    def feedback_matrix(self, frame: pd.DataFrame, where: str = "model input") -> torch.Tensor:
        """The labeler's feedback matrix ``[N, F]`` of ``frame`` (its input columns; the columns
        it does not read are 0). A ValueError names missing columns, or a column with negative
        or non-finite values and its first rows."""
        missing = [name for name in self.inputs if name not in frame.columns]
        if missing:
            raise ValueError(f"{where} lacks the labeler's input column(s) {missing}; it reads "
                             f"{list(self.inputs)}")
        matrix = np.zeros((len(frame), len(self.labeler.feedback_columns)), dtype=np.float32)
        for name in self.inputs:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
            bad = ~(np.isfinite(values) & (values >= 0))
            if bad.any():
                rows = frame.index[np.flatnonzero(bad)[:5]].tolist()
                raise ValueError(f"{where} column {name!r} has {int(bad.sum())} negative, "
                                 f"missing or non-numeric value(s), first rows {rows}")
            matrix[:, self.labeler.feedback_columns.index(name)] = values
        return torch.from_numpy(matrix)

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        """Labels in [0, 1] of every row: a frame with one column ``label`` (float64)."""
        matrix = self.feedback_matrix(model_input)
        with torch.no_grad():
            labels = [self.labeler(part) for part in matrix.split(CHUNK_ROWS)]
        values = torch.cat(labels).numpy().astype(np.float64) if labels else np.zeros(0)
        return pd.DataFrame({"label": values}, index=model_input.index)


def _load_pyfunc(data_path: str) -> LabelerPredictor:
    """MLflow's ``loader_module`` entry point: the predictor of the saved ``labeler.pt``."""
    return LabelerPredictor(LabelerDataset(filepath=data_path).load())


def labeler_signature(artifact: Mapping[str, Any]) -> ModelSignature:
    """The model's signature: the labeler's input columns (double) -> ``label`` (double)."""
    inputs = LabelerPredictor(artifact).inputs
    return ModelSignature(inputs=Schema([ColSpec("double", name) for name in inputs]),
                          outputs=Schema([ColSpec("double", "label")]))


def log_labeler_model(artifact: Mapping[str, Any], *, name: str,
                      registered_model_name: str) -> str | None:
    """Log the labeler to the active MLflow run as a pyfunc model and register it under
    ``registered_model_name``; its model URI, or None (logged) when no run is active."""
    if mlflow.active_run() is None:
        logger.info("no active MLflow run: labeler model %s not logged", registered_model_name)
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labeler.pt"
        LabelerDataset(filepath=str(path)).save(dict(artifact))
        info = mlflow.pyfunc.log_model(
            name=name, loader_module=__name__, data_path=str(path),
            signature=labeler_signature(artifact), registered_model_name=registered_model_name,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}",
                              f"mlflow=={mlflow.__version__}", "pandas", "labelcraft"])
    logger.info("labeler logged as %s and registered as %s version %s", info.model_uri,
                registered_model_name, info.registered_model_version)
    return info.model_uri
