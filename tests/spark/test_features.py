"""The Spark features stage writes the pandas path's tables and spec (real slice, edge cases)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from labelcraft.datasets import SparkParquetDataset
from labelcraft.features import FeatureParams, FeatureSet, build_features
from labelcraft.pipelines.features.nodes import build_model_inputs
from tests.spark.conftest import session_conf
from tests.synthetic_features import TINY_PARAMS, tiny_interactions

pytestmark = pytest.mark.spark

SPARK_TABLES = ("model_inputs", "feedback", "vocab_users", "vocab_videos", "vocab_tags",
                "vocab_authors", "eval_groups_valid", "eval_groups_test")
"""The FeatureSet tables the Spark path returns as Spark frames (written by the dataset)."""
SMALL_SPLITS = {"spark.sql.files.maxPartitionBytes": "8192",
                "spark.sql.files.openCostInBytes": "0"}
"""Spark settings that read a Parquet file of a few tens of KB in several tasks."""


def spark_features(interactions: pd.DataFrame, params: FeatureParams, tmp_path: Path,
                   row_group_size: int | None = None,
                   node: bool = False) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """`build_features_spark` (or, with `node`, the node `build_model_inputs`) of `interactions`
    saved by pandas (in row groups of `row_group_size` rows) and loaded by Spark: every table as
    written by `SparkParquetDataset` and read back by pandas, and the spec."""
    from labelcraft.spark.features import build_features_spark  # noqa: PLC0415 (pyspark)

    source = tmp_path / "interactions.parquet"
    interactions.to_parquet(source, row_group_size=row_group_size)
    frame = SparkParquetDataset(str(source), "interactions", load_as="spark").load()
    if node:
        names = [f.name for f in dataclasses.fields(FeatureSet)]
        result = dict(zip(names, build_model_inputs(frame, dataclasses.asdict(params)),
                          strict=True))
    else:
        result = vars(build_features_spark(frame, params))
    tables = {}
    for name in SPARK_TABLES:
        target = tmp_path / f"{name}.parquet"
        SparkParquetDataset(str(target), name).save(result[name])
        tables[name] = pd.read_parquet(target)
    tables["duration_buckets"] = result["duration_buckets"]
    return tables, result["feature_spec"]


def assert_close(got: Any, want: Any, where: str = "spec") -> None:
    """`got` equals `want` (nested dicts and lists, same types), floats within 1e-9."""
    assert type(got) is type(want), (where, got, want)
    if isinstance(want, dict):
        assert list(got) == list(want), where
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert abs(got - want) <= 1e-9, (where, got, want)
    else:
        assert got == want, (where, got, want)


def assert_parity(interactions: pd.DataFrame, params: FeatureParams, tmp_path: Path,
                  **options: Any) -> FeatureSet:
    """The Spark tables and spec of `interactions` (`spark_features` with `options`) equal
    `build_features`' (returned)."""
    tables, spec = spark_features(interactions, params, tmp_path, **options)
    expected = build_features(pd.read_parquet(tmp_path / "interactions.parquet"), params)
    for name, got in tables.items():
        pd.testing.assert_frame_equal(got, getattr(expected, name), check_exact=False, rtol=0,
                                      atol=1e-9, obj=name)
    assert_close(spec, expected.feature_spec)
    return expected


def edge_case_interactions() -> pd.DataFrame:
    """`tiny_interactions` with ties on (user, time, video) in shuffled row order, users under
    `min_items` in valid and test, ids unseen in train, null tags and authors, null durations."""
    base = tiny_interactions(seed=3)
    day = base["date"].to_numpy() - 20240101
    few = base["user_id"].isin([1, 2, 3]) & (day >= 2) & (np.arange(len(base)) % 2 == 0)
    base = base[~few]
    ties = base.iloc[::7].assign(play_time_ms=lambda f: f["play_time_ms"] + 500,
                                 is_like=np.int8(1))
    newcomer = base[(base["user_id"] == 4) & (day[~few] >= 2)].assign(user_id=np.int64(99))
    frame = pd.concat([base, ties, newcomer], ignore_index=True)
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    late = (frame["date"] >= 20240105).to_numpy() & (np.arange(len(frame)) % 3 == 0)
    frame.loc[late, "video_id"] = 999
    frame.loc[late, "first_tag"] = 77
    frame.loc[late, "author_id"] = 555
    frame.loc[np.arange(len(frame)) % 5 == 1, "first_tag"] = pd.NA
    frame.loc[np.arange(len(frame)) % 6 == 2, "author_id"] = pd.NA
    frame["duration_ms"] = frame["duration_ms"].astype("Int64")
    frame.loc[np.arange(len(frame)) % 11 == 4, "duration_ms"] = pd.NA
    return frame


def test_edge_cases_equal_the_pandas_path(spark: Any, tmp_path: Path) -> None:
    """Through the node, which dispatches the Spark frame to the Spark path."""
    frame = edge_case_interactions()
    with session_conf(spark, SMALL_SPLITS):  # file positions across several input splits
        expected = assert_parity(frame, TINY_PARAMS, tmp_path, row_group_size=40, node=True)
    mi = expected.model_inputs
    keys = ["user_id", "time_ms", "video_id"]
    assert mi.duplicated(keys).any()  # ties broken by the row position
    assert (mi["duration_bucket"] == 0).any() and (mi["tag_idx"] == 0).any()
    assert (mi.loc[mi["split"] > 0, ["user_idx", "video_idx", "author_idx"]] == 0).any().all()
    groups = expected.eval_groups_test
    assert 99 in set(groups["user_id"]) and not {1, 2, 3} & set(groups["user_id"])


@pytest.mark.parametrize("case", ["missing_column", "null", "negative", "date", "hourmin"])
def test_input_errors_equal_the_pandas_path(spark: Any, tmp_path: Path, case: str) -> None:
    frame = tiny_interactions()
    if case == "missing_column":
        frame = frame.drop(columns=["first_tag", "tab"])
    elif case == "null":
        frame["play_time_ms"] = frame["play_time_ms"].astype("Int64")
        frame.loc[[8, 3, 40, 41, 42, 43, 44], "play_time_ms"] = pd.NA
    elif case == "negative":
        frame.loc[[9, 2], "duration_ms"] = -1
    elif case == "date":  # error rows are timeline rows
        frame.loc[[60, 7], "date"] = 20240231
    else:
        frame.loc[[50, 6, 100], "hourmin"] = 2500
    with pytest.raises(ValueError) as pandas_error:
        build_features(frame, TINY_PARAMS)
    with pytest.raises(ValueError) as spark_error:
        spark_features(frame, TINY_PARAMS, tmp_path)
    assert str(spark_error.value) == str(pandas_error.value)
