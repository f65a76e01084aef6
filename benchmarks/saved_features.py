"""Load a source's features written by `kedro run` (e.g. `--pipelines kuairand`), for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from labelcraft.experiments import ComparisonData

DATA = Path(__file__).resolve().parents[1] / "data"


def load_features(source: str = "kuairand", data: Path = DATA) -> ComparisonData:
    """Read `data/05_model_input/<source>` and `data/04_feature/<source>/feature_spec.json`."""
    folder = data / "05_model_input" / source
    return ComparisonData.from_frames(
        pd.read_parquet(folder / "model_inputs.parquet"),
        pd.read_parquet(folder / "feedback.parquet"),
        pd.read_parquet(folder / "eval_groups_valid.parquet"),
        pd.read_parquet(folder / "eval_groups_test.parquet"),
        json.loads((data / "04_feature" / source / "feature_spec.json").read_text()),
    )
