"""For the scripts: a source's features written by `kedro run` (e.g. `--pipelines kuairand`), and
the project's parameters in a configuration environment."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from kedro.config import OmegaConfigLoader

from labelcraft import settings
from labelcraft.experiments import ComparisonData

DATA = Path(__file__).resolve().parents[1] / "data"
CONF = Path(__file__).resolve().parents[1] / "conf"


def parameters(env: str) -> dict:
    """The project's parameters in configuration environment ``env`` (as `kedro run --env`)."""
    loader = OmegaConfigLoader(str(CONF), base_env="base", default_run_env=env,
                               **{key: value for key, value in settings.CONFIG_LOADER_ARGS.items()
                                  if key not in ("base_env", "default_run_env")})
    return loader["parameters"]


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
