"""The Spark ingestion gives the pandas ingestion's tables, report, errors and node behaviour."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelcraft.datasets import SparkParquetDataset
from labelcraft.kuairand.reader import KuaiRandFormatError, read_kuairand_dir
from labelcraft.kuairand.schema import (
    LOG_COLUMNS,
    LOG_PATTERN,
    USER_COLUMNS,
    USER_PATTERN,
    VIDEO_COLUMNS,
    VIDEO_PATTERN,
)
from labelcraft.kuairand.validation import ingest, parse_user_ids
from labelcraft.pipelines.ingestion.nodes import ingest_logs
from tests.test_kuairand_validation import VIDEOS, log_line, write_dir

pytestmark = pytest.mark.spark

PATTERNS = {"logs": (LOG_PATTERN, LOG_COLUMNS), "videos": (VIDEO_PATTERN, VIDEO_COLUMNS),
            "users": (USER_PATTERN, USER_COLUMNS)}
TIE = log_line(is_click=1)  # same (user, video, time) as BASE, differs elsewhere: kept
SYNTHETIC = {
    "log_standard_a.csv": [
        log_line(), log_line(), TIE, log_line(user_id=""), log_line(play_time_ms=-1),
        log_line(is_like=2), log_line(date=20220231), log_line(date=2022425),
        log_line(hourmin=1230),
        log_line(hourmin=-100), log_line(tab=15), log_line(play_time_ms=24 * 3_600_000 + 1),
        log_line(date=20220426), log_line(video_id=99), log_line(time_ms=2**63 - 1000),
        log_line(date=""), log_line(user_id=3, tab=""), log_line(user_id=3), TIE,
    ],
    "log_standard_b.csv": [log_line(), log_line(user_id=4), log_line(user_id=4), log_line(tab=16)],
}
"""Two log files: at least one row per reason, a 7-digit date pandas accepts (kept), a time_ms
whose +8 h overflows int64, copies within and across files, and (user, video, time) ties."""


def read_raw(spark: Any, directory: Path, kind: str) -> tuple[pd.DataFrame, Any]:
    """The pandas raw frame of one file kind of `directory`, and the same rows as a Spark frame
    (what the Spark reader gives, see tests/spark/test_reader.py; built from the pandas frame
    to spare the reader's jobs on tiny files)."""
    pattern, columns = PATTERNS[kind]
    raw = read_kuairand_dir(directory, pattern, columns)
    schema = ", ".join([*(f"`{c}` string" for c in columns), "source_file string",
                        "source_line bigint"])
    return raw, spark.createDataFrame(raw.astype(object), schema=schema)


def written(frame: Any, directory: Path, table: str) -> pd.DataFrame:
    """A Spark frame saved by SparkParquetDataset, read back with pandas."""
    path = directory / f"{table}.parquet"
    SparkParquetDataset(filepath=str(path), table=table).save(frame)
    return pd.read_parquet(path)


def assert_same_report(spark_report: dict, pandas_report: dict) -> None:
    """Equal reports, keys in the same order, floats within 1e-9."""
    assert list(spark_report) == list(pandas_report)
    for key, expected in pandas_report.items():
        if key == "rates":
            assert list(spark_report[key]) == list(expected)
            for name, value in expected.items():
                got = spark_report[key][name]
                assert (math.isnan(got) and math.isnan(value)) or abs(got - value) <= 1e-9, name
        else:
            assert json.dumps(spark_report[key]) == json.dumps(expected), key


@pytest.mark.parametrize(
    ("logs", "videos"),
    [
        ([log_line(play_time_ms="abc"), log_line(tab="1.5"), log_line(tab=" 1"),
          log_line(time_ms="9223372036854775808"), log_line(is_click=300)], VIDEOS),
        ([log_line()], [*VIDEOS, "1,700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,",
                        ",700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,"]),
        ([log_line()], [*VIDEOS, "5,700,N,2022-04-10,Web,0.0,1.5f,7.0,1.0,9,9.0,"]),
        ([log_line()], [*VIDEOS, "5,700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,\u000b3"]),
    ],
    ids=["log_values", "video_ids", "float", "vertical_tab_in_tags"],
)
def test_file_level_errors_are_the_pandas_ones(spark: Any, tmp_path: Path, logs: list[str],
                                               videos: list[str]) -> None:
    from labelcraft.spark.validation import ingest_spark  # noqa: PLC0415

    directory = write_dir(tmp_path, {"log_standard_e.csv": logs}, videos)
    (raw_logs, spark_logs), (raw_videos, spark_videos) = (read_raw(spark, directory, kind)
                                                          for kind in ("logs", "videos"))
    with pytest.raises(KuaiRandFormatError) as expected:
        ingest(raw_logs, raw_videos)
    with pytest.raises(KuaiRandFormatError) as got:
        ingest_spark(spark_logs, spark_videos)
    assert str(got.value) == str(expected.value)


def test_user_id_errors_are_the_pandas_ones(spark: Any, tmp_path: Path) -> None:
    from labelcraft.spark.validation import parse_user_ids_spark  # noqa: PLC0415

    for ids in (["1", "", "x2"], ["1", "", "3"]):
        users_file(tmp_path, ids)
        raw, spark_raw = read_raw(spark, tmp_path, "users")
        with pytest.raises(KuaiRandFormatError) as expected:
            parse_user_ids(raw)
        with pytest.raises(KuaiRandFormatError) as got:
            parse_user_ids_spark(spark_raw)
        assert str(got.value) == str(expected.value)


def users_file(directory: Path, ids: list[str]) -> None:
    lines = [",".join([i, *[""] * (len(USER_COLUMNS) - 1)]) for i in ids]
    (directory / "user_features.csv").write_text("\n".join([",".join(USER_COLUMNS), *lines]))


def test_node_on_spark_frames_gives_the_pandas_tables_and_report(
        spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = write_dir(tmp_path / "raw", SYNTHETIC)
    users_file(directory, ["0", "9"])
    raw = [read_raw(spark, directory, kind) for kind in ("logs", "videos", "users")]
    warning = "2 user(s) of the logs are missing from the user file"
    with caplog.at_level("WARNING"):
        interactions, rejected, report = ingest_logs(*(pandas for pandas, _ in raw))
        assert warning in caplog.text and "first ids [3, 4]" in caplog.text
        caplog.clear()
        spark_interactions, spark_rejected, spark_report = ingest_logs(*(f for _, f in raw))
        assert warning in caplog.text and "first ids [3, 4]" in caplog.text
    pd.testing.assert_frame_equal(written(spark_interactions, tmp_path, "interactions"),
                                  interactions, check_exact=True)
    pd.testing.assert_frame_equal(written(spark_rejected, tmp_path, "rejected_rows"), rejected,
                                  check_exact=True)
    assert_same_report(spark_report, report)
    assert set(report["rejected_by_reason"]) == {
        "null:user_id", "negative:play_time_ms", "flag_out_of_range:is_like", "invalid_date",
        "hourmin_out_of_range", "tab_out_of_range", "implausible_play_time",
        "date_time_mismatch", "unknown_video", "exact_duplicate", "null:date", "null:tab"}
    assert "2022425" in set(interactions["date"].astype(str))  # pandas keeps the 7-digit date


@pytest.mark.parametrize(
    "logs", [[log_line(tab=15), log_line(video_id=99)], []], ids=["all_rejected", "no_rows"])
def test_node_stops_like_pandas_when_nothing_is_kept(spark: Any, tmp_path: Path,
                                                     logs: list[str]) -> None:
    directory = write_dir(tmp_path, {"log_standard_b.csv": logs})
    users_file(directory, [])
    raw = [read_raw(spark, directory, kind) for kind in ("logs", "videos", "users")]
    with pytest.raises(ValueError, match="every one of the 2 log rows|a header and no rows") as (
            expected):
        ingest_logs(*(pandas for pandas, _ in raw))
    with pytest.raises(ValueError) as got:
        ingest_logs(*(frame for _, frame in raw))
    assert str(got.value) == str(expected.value)
