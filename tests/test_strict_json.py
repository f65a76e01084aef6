"""Strict JSON: non-finite numbers are written as null; nothing else is changed or accepted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError

from labelcraft.datasets import StrictJSONDataset
from labelcraft.datasets.strict_json import finite_or_null, strict_json


def refuse_constant(name: str) -> None:
    """``parse_constant`` of `json.loads`: fail on NaN / Infinity / -Infinity."""
    raise AssertionError(f"bare {name} in JSON")


def strict_load(text: str) -> object:
    """Parse `text` as RFC 8259 JSON (no NaN or Infinity)."""
    return json.loads(text, parse_constant=refuse_constant)


def test_finite_or_null_replaces_every_non_finite_float_at_any_depth() -> None:
    value = {"std": math.nan, "n": 3, "rows": [1.5, math.inf, (-math.inf, 2.0)], "name": "NaN"}
    assert finite_or_null(value) == {"std": None, "n": 3, "rows": [1.5, None, [None, 2.0]],
                                     "name": "NaN"}


def test_strict_json_text_parses_strictly_and_refuses_what_is_not_json() -> None:
    assert strict_load(strict_json({"auc": float("nan")})) == {"auc": None}
    with pytest.raises(AssertionError, match="bare NaN"):
        strict_load(json.dumps({"auc": float("nan")}))  # what json.dumps writes by default
    with pytest.raises(TypeError):
        strict_json({"scores": np.zeros(2)})


def test_dataset_writes_null_for_nan_and_keeps_save_args(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    dataset = StrictJSONDataset(filepath=str(path), save_args={"indent": 4})
    dataset.save({"metrics": {"AUC_hate": math.nan, "NWTG@10": 0.52}, "seeds": [0, 1]})
    text = path.read_text()
    assert '\n    "metrics"' in text  # indent 4 applied
    assert strict_load(text) == {"metrics": {"AUC_hate": None, "NWTG@10": 0.52}, "seeds": [0, 1]}
    assert dataset.load() == strict_load(text)


def test_dataset_cannot_be_told_to_allow_nan(tmp_path: Path) -> None:
    dataset = StrictJSONDataset(filepath=str(tmp_path / "r.json"), save_args={"allow_nan": True})
    dataset.save([math.nan])
    assert strict_load((tmp_path / "r.json").read_text()) == [None]
    with pytest.raises(DatasetError, match="not JSON serializable"):
        dataset.save({"weights": np.ones(3)})


def test_metric_reports_read_null_back_as_nan(tmp_path: Path) -> None:
    path = str(tmp_path / "valid_report.json")
    StrictJSONDataset(filepath=path).save({"AUC_hate": {"value": math.nan, "ci": [0.4, 0.6]}})
    plain = StrictJSONDataset(filepath=path).load()
    assert plain == {"AUC_hate": {"value": None, "ci": [0.4, 0.6]}}
    report = StrictJSONDataset(filepath=path, null_as_nan=True).load()
    assert math.isnan(report["AUC_hate"]["value"]) and report["AUC_hate"]["ci"] == [0.4, 0.6]
