"""The inputs every trained label method of a comparison shares: rows, split and eval users."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from labelcraft.features.split import TRAIN
from labelcraft.features.tensors import InteractionTensors
from labelcraft.models import MODEL_REGISTRY, ModelSpec
from labelcraft.recommender import EvalSet


@dataclass(frozen=True)
class ComparisonData:
    """Row tensors, the train rows ``[T]`` and their feedback, valid / test users, model spec.

    history_length: the features' L (a trainer's ``history_length: null`` resolves to it).
    """

    tensors: InteractionTensors
    feedback: pd.DataFrame
    train_rows: torch.Tensor
    valid: EvalSet
    test: EvalSet
    spec: ModelSpec
    history_length: int

    @classmethod
    def from_frames(
        cls,
        model_inputs: pd.DataFrame,
        feedback: pd.DataFrame,
        eval_groups_valid: pd.DataFrame,
        eval_groups_test: pd.DataFrame,
        feature_spec: Mapping[str, Any],
    ) -> ComparisonData:
        """From the features stage's outputs; a ValueError when there are no train rows."""
        tensors = InteractionTensors.from_frames(model_inputs, feedback)
        train_rows = torch.nonzero(tensors.split == TRAIN).flatten()
        if len(train_rows) == 0:
            raise ValueError("model_inputs has no train rows (split == 0)")
        return cls(
            tensors=tensors,
            feedback=feedback,
            train_rows=train_rows,
            valid=EvalSet.from_frames(eval_groups_valid, feedback),
            test=EvalSet.from_frames(eval_groups_test, feedback),
            spec=ModelSpec.from_feature_spec(feature_spec),
            history_length=int(feature_spec["history_length"]),
        )

    def for_backbone(self, backbone: str) -> ComparisonData:
        """The data as ``backbone`` reads it: without the history feedback unless the model
        declares ``reads_history_feedback`` (gathering it costs about 0.6 s per epoch of the
        real slice that a backbone ignoring it would pay for nothing)."""
        if getattr(MODEL_REGISTRY[backbone], "reads_history_feedback", False):
            return self
        return dataclasses.replace(
            self, tensors=dataclasses.replace(self.tensors, history_feedback={}))

    @property
    def train_feedback(self) -> pd.DataFrame:
        """Feedback rows of the train split, in ``train_rows`` order."""
        return self.feedback.iloc[self.train_rows.numpy()]
