"""Label new logs with a registered labeler: the feedback of every ingested interaction in, its
learned label out."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from tqdm.auto import tqdm

from labelcraft.config import from_params
from labelcraft.experiments.cells import LABEL_COLUMNS
from labelcraft.features import FeatureParams
from labelcraft.features.feedback import FEEDBACK_SOURCES, build_feedback

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class LabellingParams:
    """``params:labelling``: the model to label with (any MLflow model URI: ``models:/<name>/
    <version>``, ``runs:/...``, a local folder) and the rows per ``predict`` call."""

    model_uri: str = "models:/labelcraft-labeler-kuairand-din/latest"
    chunk_rows: int = 65_536

    def __post_init__(self) -> None:
        """Check the chunk size."""
        if isinstance(self.chunk_rows, bool) or not isinstance(self.chunk_rows, int) or (
                self.chunk_rows < 1):
            raise ValueError(f"labelling.chunk_rows must be an int >= 1, got {self.chunk_rows!r}")


def label_interactions(interactions: pd.DataFrame, labelling: dict[str, Any],
                       features: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(user_id, video_id, time_ms, label) of every interaction, and the labelling report.

    The feedback matrix is the features stage's (`build_feedback`, the skip rule of
    ``features.skip_seconds``); a model whose input columns it cannot provide is refused, naming
    them. Rows are labelled ``chunk_rows`` at a time (progress bar), in the table's order.
    """
    params = from_params(LabellingParams, labelling, "labelling parameter")
    skip_seconds = FeatureParams.from_dict(features or {}).skip_seconds
    try:
        model = mlflow.pyfunc.load_model(params.model_uri)
    except (MlflowException, OSError) as error:
        raise ValueError(f"labelling.model_uri {params.model_uri!r}: cannot load the model "
                         f"({str(error)[:300]}); register one with a LabelCraft run or pass "
                         "--params labelling.model_uri=<uri>") from error
    schema = model.metadata.get_input_schema()
    if schema is None:
        raise ValueError(f"model {params.model_uri!r} has no input signature: its input "
                         "columns are unknown")
    inputs = schema.input_names()
    feedback = build_feedback(interactions[list(FEEDBACK_SOURCES)].reset_index(drop=True),
                              skip_seconds).astype(np.float64)
    missing = [name for name in inputs if name not in feedback.columns]
    if missing:
        raise ValueError(f"model {params.model_uri!r} needs input column(s) {missing} that the "
                         f"logs cannot provide; their feedback columns are "
                         f"{list(feedback.columns)}")
    started = time.perf_counter()
    parts = [model.predict(feedback.iloc[start : start + params.chunk_rows][inputs])["label"]
             .to_numpy(np.float64)
             for start in tqdm(range(0, len(feedback), params.chunk_rows), desc="labelling",
                               unit="chunk")]
    seconds = time.perf_counter() - started
    labels = np.concatenate(parts) if parts else np.zeros(0)
    table = pd.DataFrame({**{key: interactions[key].to_numpy() for key in LABEL_COLUMNS},
                          "label": labels})
    report = {
        "model_uri": params.model_uri, "inputs": list(inputs), "rows": len(table),
        "seconds": round(seconds, 3),
        "rows_per_second": round(len(table) / seconds) if seconds > 0 else None,
        "label": ({"mean": float(labels.mean()), "std": float(labels.std()),
                   "min": float(labels.min()), "max": float(labels.max())} if len(labels)
                  else None),
    }
    logger.info("labelled %d interactions with %s in %.1f s", len(table), params.model_uri,
                seconds)
    return table, report
