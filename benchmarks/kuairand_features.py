"""Load the kuairand features written by `kedro run --pipelines kuairand`, for the benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from labelcraft.experiments.rules import model_spec_from_features
from labelcraft.features.split import TRAIN
from labelcraft.features.tensors import InteractionTensors
from labelcraft.models import ModelSpec
from labelcraft.training import EvalSet

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class KuaiRandFeatures:
    """Row tensors, feedback table, model spec, L, validation users and train rows `[T]`."""

    tensors: InteractionTensors
    feedback: pd.DataFrame
    spec: ModelSpec
    history_length: int
    valid: EvalSet
    train_rows: torch.Tensor


def load_kuairand_features(data: Path = DATA) -> KuaiRandFeatures:
    """Read `data/05_model_input/kuairand` and `data/04_feature/kuairand/feature_spec.json`."""
    folder = data / "05_model_input" / "kuairand"
    feedback = pd.read_parquet(folder / "feedback.parquet")
    tensors = InteractionTensors.from_frames(pd.read_parquet(folder / "model_inputs.parquet"),
                                             feedback)
    feature_spec = json.loads((data / "04_feature/kuairand/feature_spec.json").read_text())
    return KuaiRandFeatures(
        tensors=tensors,
        feedback=feedback,
        spec=model_spec_from_features(feature_spec),
        history_length=int(feature_spec["history_length"]),
        valid=EvalSet.from_frames(pd.read_parquet(folder / "eval_groups_valid.parquet"), feedback),
        train_rows=torch.nonzero(tensors.split == TRAIN).flatten(),
    )
