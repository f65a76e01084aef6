"""The labeler artefact: weights and a JSON description, loaded without running any code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from kedro.io import DatasetError

from labelcraft.datasets import LabelerDataset
from labelcraft.datasets.labeler_artifact import FORMAT
from labelcraft.meta import Labeler
from tests.test_meta import fitted_labeler, random_feedback


def saved(tmp_path: Path) -> tuple[LabelerDataset, Labeler]:
    labeler = fitted_labeler(seed=3).eval()
    dataset = LabelerDataset(str(tmp_path / "cell" / "labeler.pt"))
    dataset.save(labeler.to_artifact())
    return dataset, labeler


def test_round_trip_gives_the_same_labels(tmp_path: Path) -> None:
    dataset, labeler = saved(tmp_path)
    assert dataset.exists()
    again = Labeler.from_artifact(dataset.load())
    feedback = random_feedback(20, seed=5)
    with torch.no_grad():
        np.testing.assert_array_equal(again(feedback).numpy(), labeler(feedback).numpy())
    raw = torch.load(tmp_path / "cell" / "labeler.pt", weights_only=True)
    assert raw["format"] == FORMAT and json.loads(raw["description"])["feedback_columns"]


def _rewrite(path: Path, change) -> None:
    raw = torch.load(path, weights_only=True)
    change(raw)
    torch.save(raw, path)


def test_tampered_artefacts_are_refused(tmp_path: Path) -> None:
    dataset, _ = saved(tmp_path)
    path = tmp_path / "cell" / "labeler.pt"
    original = path.read_bytes()

    def description(**changes):
        def change(raw):
            text = json.loads(raw["description"])
            text["config"].update(changes)
            raw["description"] = json.dumps(text)
        return change

    def first_tensor(raw):
        name = next(iter(raw["state_dict"]))
        raw["state_dict"][name] = torch.zeros(3, 1, 4)

    cases = [
        (lambda raw: raw.update(format="other/9"), "format tag"),
        (description(hiden=[4]), "unknown labeler parameter"),
        (first_tensor, "size mismatch"),
        (lambda raw: raw.update(payload=np.dtype), "not a plain-data labeler file"),
    ]
    for change, message in cases:
        path.write_bytes(original)
        if message == "not a plain-data labeler file":  # a pickled class inside the file
            torch.save({**torch.load(path, weights_only=True), "payload": np.dtype}, path)
        else:
            _rewrite(path, change)
        with pytest.raises(DatasetError, match=message):
            dataset.load()
    with pytest.raises(DatasetError, match="no labeler saved yet"):
        LabelerDataset(str(tmp_path / "none.pt")).load()
