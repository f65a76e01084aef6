"""The labeler as a registered MLflow model, and labelling new logs with it (``label_logs``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from labelcraft.datasets.labeler_artifact import LabelerDataset
from labelcraft.features.feedback import FEEDBACK_COLUMNS, FEEDBACK_SOURCES, build_feedback
from labelcraft.pipelines.label_logs.nodes import label_interactions
from labelcraft.tracking.labeler_model import LabelerPredictor, log_labeler_model
from tests.conftest import run_session
from tests.synthetic_features import tiny_interactions
from tests.test_meta import fitted_labeler, random_feedback

ARTIFACT = fitted_labeler(seed=3).to_artifact()
INPUTS = list(ARTIFACT["config"]["inputs"])


def feedback_frame(n: int, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(random_feedback(n, seed=seed).numpy(), columns=list(FEEDBACK_COLUMNS))


def test_predictions_are_the_labelers() -> None:
    frame = feedback_frame(50)
    expected = fitted_labeler(seed=3)(torch.tensor(frame.to_numpy(np.float32))).detach()
    got = LabelerPredictor(ARTIFACT).predict(frame[INPUTS])["label"].to_numpy()
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-6)


def test_bad_input_is_named() -> None:
    predictor = LabelerPredictor(ARTIFACT)
    with pytest.raises(ValueError, match=r"lacks the labeler's input column\(s\) \['like'\]"):
        predictor.predict(feedback_frame(3).drop(columns=["like"]))
    frame = feedback_frame(6)
    frame.loc[4, "play_time_s"] = -1.0
    with pytest.raises(ValueError, match=r"'play_time_s' has 1 negative.*first rows \[4\]"):
        predictor.predict(frame)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A temporary tracking store and registry with the labeler registered as version 1."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)  # artifacts under tmp_path/mlruns
    with mlflow.start_run():
        uri = log_labeler_model(ARTIFACT, name="labeler", registered_model_name="test-labeler")
    assert uri is not None
    return "models:/test-labeler/1"


def test_registered_model_labels_logs_like_the_labeler(registry: str) -> None:
    interactions = tiny_interactions()
    model = mlflow.pyfunc.load_model(registry)
    assert model.metadata.get_input_schema().input_names() == INPUTS
    labels, report = label_interactions(interactions, {"model_uri": registry, "chunk_rows": 100},
                                        {"skip_seconds": 3.0})
    assert labels.columns.tolist() == ["user_id", "video_id", "time_ms", "label"]
    assert labels[["user_id", "video_id", "time_ms"]].equals(
        interactions[["user_id", "video_id", "time_ms"]].reset_index(drop=True))
    feedback = build_feedback(interactions[list(FEEDBACK_SOURCES)], 3.0)
    expected = fitted_labeler(seed=3)(torch.tensor(feedback.to_numpy(np.float32))).detach()
    np.testing.assert_allclose(labels["label"].to_numpy(), expected.numpy(), rtol=1e-5)
    assert report["rows"] == len(interactions) and report["inputs"] == INPUTS
    assert 0 <= report["label"]["min"] <= report["label"]["max"] <= 1


def test_a_model_needing_columns_the_logs_lack_is_refused(tmp_path: Path,
                                                          registry: str) -> None:
    path = tmp_path / "labeler.pt"
    LabelerDataset(filepath=str(path)).save(ARTIFACT)
    signature = ModelSignature(inputs=Schema([ColSpec("double", name)
                                              for name in [*INPUTS, "dwell_time"]]))
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="odd", loader_module="labelcraft.tracking.labeler_model",
                                data_path=str(path), signature=signature,
                                registered_model_name="odd-labeler")
    with pytest.raises(ValueError, match=r"needs input column\(s\) \['dwell_time'\]"):
        label_interactions(tiny_interactions(), {"model_uri": "models:/odd-labeler/1"}, {})
    with pytest.raises(ValueError, match="cannot load the model"):
        label_interactions(tiny_interactions(), {"model_uri": "models:/no-such-model/1"}, {})


def test_label_logs_run_with_the_labeler_a_labelcraft_run_registered(
        default_run: Path, project_copy: Path, kuairand_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The default run (conf/test) registered its LabelCraft labeler; ``kedro run --pipelines
    label_logs`` labels every kept row of the real slice with it."""
    shutil.copy(default_run / "mlflow.db", project_copy / "mlflow.db")
    model_uri = "models:/labelcraft-labeler-simulated-din/1"
    monkeypatch.setenv("KUAIRAND_DIR", str(kuairand_dir))
    run_session(project_copy, "label_logs", runtime_params={"labelling": {"model_uri": model_uri}})
    data = project_copy / "data"
    ingestion = json.loads((data / "08_reporting/label_logs/ingestion_report.json").read_text())
    report = json.loads((data / "08_reporting/label_logs/labelling_report.json").read_text())
    labels = pd.read_parquet(data / "07_model_output/label_logs/labels.parquet")
    assert len(labels) == report["rows"] == ingestion["kept_rows"] == 180_384
    assert labels["label"].between(0, 1).all() and labels["label"].std() > 0
    assert report["model_uri"] == model_uri and report["rows_per_second"] > 0
