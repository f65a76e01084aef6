"""The Spark ingestion gives the pandas ingestion's tables, report, errors and node behaviour."""

from __future__ import annotations

import json
import logging
import math
import time
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
from tests.test_kuairand_validation import VIDEO_HEADER, VIDEOS, log_line, write_dir

pytestmark = pytest.mark.spark

PATTERNS = {"logs": (LOG_PATTERN, LOG_COLUMNS), "videos": (VIDEO_PATTERN, VIDEO_COLUMNS),
            "users": (USER_PATTERN, USER_COLUMNS)}
TIE = log_line(is_click=1)  # same (user, video, time) as BASE, differs elsewhere: kept
SYNTHETIC = {
    "log_standard_a.csv": [
        log_line(), log_line(), TIE, log_line(user_id=""), log_line(play_time_ms=-1),
        log_line(is_like=2), log_line(date=20220231), log_line(date=2022425), log_line(hourmin=1230),
        log_line(hourmin=-100), log_line(tab=15), log_line(play_time_ms=24 * 3_600_000 + 1),
        log_line(date=20220426), log_line(video_id=99), log_line(time_ms=2**63 - 1000),
        log_line(date=""), log_line(user_id=3, tab=""), log_line(user_id=3), TIE,
    ],
    "log_standard_b.csv": [log_line(), log_line(user_id=4), log_line(user_id=4), log_line(tab=16)],
}
"""Two log files: at least one row per reason, a 7-digit date pandas accepts (kept), a time_ms
whose +8 h overflows int64, copies within and across files, and (user, video, time) ties."""


def read_raw(spark: Any, directory: Path, kind: str) -> tuple[pd.DataFrame, Any]:
    """The pandas and the Spark raw frame of one file kind of `directory`."""
    from labelcraft.spark.reader import read_kuairand_dir_spark  # noqa: PLC0415

    pattern, columns = PATTERNS[kind]
    return (read_kuairand_dir(directory, pattern, columns),
            read_kuairand_dir_spark(spark, directory, pattern, columns))


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


def assert_same_ingest(spark: Any, directory: Path, out: Path) -> tuple[float, float]:
    """Spark and pandas ingestion of `directory` give equal files and reports; returns the
    seconds of each (pandas, Spark: reading, ingesting and writing both tables)."""
    from labelcraft.spark.validation import ingest_spark  # noqa: PLC0415

    start = time.perf_counter()
    (logs, spark_logs), (videos, spark_videos) = (read_raw(spark, directory, kind)
                                                  for kind in ("logs", "videos"))
    interactions, rejected, report = ingest(logs, videos)
    pandas_seconds = time.perf_counter() - start  # includes the Spark readers' header checks
    start = time.perf_counter()
    spark_interactions, spark_rejected, spark_report = ingest_spark(spark_logs, spark_videos)
    got_interactions = written(spark_interactions, out, "interactions")
    got_rejected = written(spark_rejected, out, "rejected_rows")
    spark_seconds = time.perf_counter() - start
    pd.testing.assert_frame_equal(got_interactions, interactions, check_exact=True)
    pd.testing.assert_frame_equal(got_rejected, rejected, check_exact=True)
    assert_same_report(spark_report, report)
    return pandas_seconds, spark_seconds


def test_synthetic_logs_give_the_pandas_tables_and_report(spark: Any, tmp_path: Path) -> None:
    directory = write_dir(tmp_path / "raw", SYNTHETIC)
    assert_same_ingest(spark, directory, tmp_path)
    _, rejected, report = ingest(*(read_raw(spark, directory, k)[0] for k in ("logs", "videos")))
    assert {"null:user_id", "negative:play_time_ms", "flag_out_of_range:is_like", "invalid_date",
            "hourmin_out_of_range", "tab_out_of_range", "implausible_play_time",
            "date_time_mismatch", "unknown_video", "exact_duplicate", "null:date",
            "null:tab"} == set(report["rejected_by_reason"])
    assert "2022425" not in set(rejected["date"])  # pandas keeps the 7-digit date


@pytest.mark.parametrize(
    ("logs", "videos"),
    [
        ([log_line(play_time_ms="abc"), log_line(tab="1.5"), log_line(tab=" 1"),
          log_line(time_ms="9223372036854775808"), log_line(is_click=300)], VIDEOS),
        ([log_line()], [*VIDEOS, '4,700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,"1,x"']),
        ([log_line()], [*VIDEOS, "1,700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,",
                        ",700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,"]),
        ([log_line()], [*VIDEOS, "5,700,N,2022-04-10,Web,0.0,1.5f,7.0,1.0,9,9.0,"]),
        ([log_line()], [*VIDEOS, "5,700,N,2022-04-10,Web,0.0,1.0,7.0,1.0,9,9.0,\u000b3"]),
    ],
    ids=["log_values", "tag_list", "video_ids", "float", "vertical_tab_in_tags"],
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
        lines = [",".join([i, *[""] * (len(USER_COLUMNS) - 1)]) for i in ids]
        (tmp_path / "user_features.csv").write_text("\n".join([",".join(USER_COLUMNS), *lines]))
        raw, spark_raw = read_raw(spark, tmp_path, "users")
        with pytest.raises(KuaiRandFormatError) as expected:
            parse_user_ids(raw)
        with pytest.raises(KuaiRandFormatError) as got:
            parse_user_ids_spark(spark_raw)
        assert str(got.value) == str(expected.value)


def test_node_gives_the_pandas_report_and_errors(spark: Any, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    directory = write_dir(tmp_path / "ok", SYNTHETIC)
    (directory / "user_features.csv").write_text("\n".join(
        [",".join(USER_COLUMNS), *[",".join([i, *[""] * (len(USER_COLUMNS) - 1)])
                                   for i in ("0", "9")]]))
    raw = [read_raw(spark, directory, kind) for kind in ("logs", "videos", "users")]
    warning = "2 user(s) of the logs are missing from the user file"
    with caplog.at_level("WARNING"):
        _, _, report = ingest_logs(*(pandas for pandas, _ in raw))
        assert warning in caplog.text and "first ids [3, 4]" in caplog.text
        caplog.clear()
        interactions, rejected, spark_report = ingest_logs(*(frame for _, frame in raw))
        assert warning in caplog.text and "first ids [3, 4]" in caplog.text
    assert_same_report(spark_report, report)
    assert {"source_file", "source_line"} <= set(interactions.columns)
    assert rejected.count() == report["rejected_rows"]

    bad = write_dir(tmp_path / "bad", {"log_standard_b.csv": [log_line(tab=15),
                                                              log_line(video_id=99)]})
    (bad / "user_features.csv").write_text(",".join(USER_COLUMNS) + "\n")
    raw = [read_raw(spark, bad, kind) for kind in ("logs", "videos", "users")]
    with pytest.raises(ValueError, match="every one of the 2 log rows") as expected:
        ingest_logs(*(pandas for pandas, _ in raw))
    with pytest.raises(ValueError, match="every one of the 2 log rows") as got:
        ingest_logs(*(frame for _, frame in raw))
    assert str(got.value) == str(expected.value)


def test_header_only_logs_stop_like_pandas(spark: Any, tmp_path: Path) -> None:
    directory = write_dir(tmp_path, {"log_standard_e.csv": []})
    (directory / "user_features.csv").write_text(",".join(USER_COLUMNS) + "\n")
    raw = [read_raw(spark, directory, kind) for kind in ("logs", "videos", "users")]
    with pytest.raises(ValueError) as expected:
        ingest_logs(*(pandas for pandas, _ in raw))
    with pytest.raises(ValueError) as got:
        ingest_logs(*(frame for _, frame in raw))
    assert str(got.value) == str(expected.value)


@pytest.mark.real_data
def test_real_slice_gives_the_pandas_tables_and_report(spark: Any, kuairand_dir: Path,
                                                       tmp_path: Path) -> None:
    pandas_seconds, spark_seconds = assert_same_ingest(spark, kuairand_dir, tmp_path)
    written_rows = pd.read_parquet(tmp_path / "rejected_rows.parquet", columns=["reason"])
    assert written_rows["reason"].value_counts().to_dict() == {"exact_duplicate": 4_677}
    logging.getLogger(__name__).info("real slice ingestion: pandas %.1f s, Spark %.1f s",
                                     pandas_seconds, spark_seconds)
