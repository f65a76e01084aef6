"""Spark frames written as the single Parquet file of the pandas path (dtypes, order, errors)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from labelcraft.datasets import SparkParquetDataset
from labelcraft.spark import is_spark_frame
from labelcraft.spark.parquet import (
    ParquetWriteError,
    merge_parts,
    part_files,
    parts_folder,
    write_single_parquet,
)
from labelcraft.spark.schemas import TABLES, TableSchema
from labelcraft.spark.storage import Location
from tests.spark.conftest import session_conf
from tests.synthetic_features import tiny_features

pytestmark = pytest.mark.spark

MIXED = TableSchema(
    {"i8": np.dtype(np.int8), "i16": np.dtype(np.int16), "i32": np.dtype(np.int32),
     "i64": np.dtype(np.int64), "f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
     "s": pd.api.types.pandas_dtype("str"), "n": pd.Int64Dtype()},
    order=("key",),
)
SPLIT = {"spark.sql.shuffle.partitions": "4",
         "spark.sql.adaptive.coalescePartitions.enabled": "false"}
"""Spark settings that make a sort write several part files even for tiny frames."""
MIXED_DDL = ("i8 tinyint, i16 smallint, i32 int, i64 bigint, f32 float, f64 double, s string, "
             "n bigint, key bigint")


def mixed_frame(n: int) -> pd.DataFrame:
    """[n, 8] frame of MIXED's dtypes in `key` order 0..n-1 (nulls and NaNs included)."""
    i = np.arange(n)
    return pd.DataFrame({
        "i8": (i % 100 - 50).astype(np.int8), "i16": (i * 3).astype(np.int16),
        "i32": (i * 1000).astype(np.int32), "i64": i.astype(np.int64) * 10**12,
        "f32": (i / 7).astype(np.float32), "f64": np.where(i % 5 == 0, np.nan, i / 3),
        "s": pd.Series([f"s{j}," if j % 4 else "" for j in i], dtype="str"),
        "n": pd.array([None if j % 3 == 0 else j - 10**15 for j in i], dtype="Int64"),
    })


def to_spark(spark: Any, frame: pd.DataFrame, ddl: str, seed: int = 0) -> Any:
    """Spark frame of `frame` (plus `key` = row position) with schema `ddl`, rows shuffled."""
    shuffled = frame.assign(key=np.arange(len(frame))).sample(frac=1.0, random_state=seed)
    rows = [tuple(None if pd.isna(v) else v.item() if hasattr(v, "item") else v for v in row)
            for row in shuffled.itertuples(index=False)]
    return spark.createDataFrame(rows, ddl).repartition(3)


def test_mixed_dtypes_round_trip_in_order(spark: Any, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    expected = mixed_frame(500)
    target = tmp_path / "out" / "mixed.parquet"
    with caplog.at_level(logging.INFO, "labelcraft.spark.parquet"), session_conf(spark, SPLIT):
        rows = write_single_parquet(to_spark(spark, expected, MIXED_DDL), target, MIXED, "mixed")
    assert rows == 500
    assert "from 4 part file(s)" in caplog.text
    assert target.is_file() and not Path(parts_folder(Location.of(target)).path).exists()
    pd.testing.assert_frame_equal(pd.read_parquet(target), expected, check_exact=True)
    pandas_table = pa.Table.from_pandas(expected)  # what pandas writes: NaN as null, metadata
    assert pq.read_table(target).equals(pandas_table, check_metadata=True)
    assert list(target.parent.iterdir()) == [target]  # no temporary file left


@pytest.mark.parametrize("uri", [False, True], ids=["path", "file-uri"])
def test_dataset_spark_save_then_pandas_save_at_the_same_path(spark: Any, tmp_path: Path,
                                                              uri: bool) -> None:
    feedback = tiny_features().feedback
    filepath = f"file://{tmp_path}/feedback.parquet" if uri else str(tmp_path / "feedback.parquet")
    dataset = SparkParquetDataset(filepath=filepath, table="feedback")
    ddl = ", ".join(f"{c} float" for c in feedback.columns) + ", row bigint"
    frame = to_spark(spark, feedback, ddl).withColumnRenamed("key", "row")
    dataset.save(frame)
    pd.testing.assert_frame_equal(dataset.load(), feedback, check_exact=True)
    dataset.save(feedback.iloc[::-1].reset_index(drop=True))
    pd.testing.assert_frame_equal(dataset.load(), feedback.iloc[::-1].reset_index(drop=True))
    loaded = SparkParquetDataset(filepath, "feedback", "spark").load()
    assert is_spark_frame(loaded) and loaded.count() == len(feedback)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["feedback.parquet"]


def test_merge_on_another_file_system_reads_checks_and_moves_there() -> None:
    """The driver's half of a write on remote storage (fsspec's in-memory file system here):
    part files listed in order, merged row group by row group, checked, moved in place."""
    expected = mixed_frame(90)
    table = pa.Table.from_pandas(expected.assign(key=np.arange(90)), preserve_index=False)
    target = Location.of("memory://merge-test/tables/mixed.parquet")
    folder = parts_folder(target)
    for partition, start in ((10, 60), (2, 0), (2, 30)):  # names give the order, not listing
        counter = start // 30 if partition == 2 else 0
        name = f"part-{partition:05d}-0b1c-c{counter:03d}.snappy.parquet"
        with folder.fs.open(folder.child(name).path, "wb") as sink:
            pq.write_table(table.slice(start, 30), sink, row_group_size=7)
    folder.fs.pipe(folder.child("_SUCCESS").path, b"")
    parts = part_files(folder)
    assert [part.name[:12] for part in parts] == ["part-00002-0", "part-00002-0", "part-00010-0"]
    assert merge_parts(parts, target, MIXED, "mixed") == 90
    files = sorted([folder.path, target.path])  # no temporary file left
    with target.fs.open(target.path, "rb") as handle:
        pd.testing.assert_frame_equal(pd.read_parquet(handle), expected, check_exact=True)
    assert sorted(target.fs.ls(target.parent.path, detail=False)) == files
    with folder.fs.open(parts[0].path, "wb") as sink:  # out of order: refused, target unchanged
        pq.write_table(table.slice(40, 10), sink)
    with pytest.raises(ParquetWriteError, match=r"at output row\(s\) \[10\]"):
        merge_parts(part_files(folder), target, MIXED, "mixed")
    with target.fs.open(target.path, "rb") as handle:
        assert len(pd.read_parquet(handle)) == 90
    assert sorted(target.fs.ls(target.parent.path, detail=False)) == files


def test_interactions_with_nullable_ints_and_helper_order_columns(spark: Any,
                                                                   tmp_path: Path) -> None:
    dtypes = TABLES["interactions"].dtypes
    expected = pd.DataFrame({c: np.arange(40).astype(t) if c not in ("author_id", "first_tag")
                             else pd.array([None, *range(39)], dtype=t)
                             for c, t in dtypes.items()})
    types = {np.dtype(np.int8): "tinyint", np.dtype(np.int16): "smallint",
             np.dtype(np.int32): "int", np.dtype(np.float64): "double"}
    ddl = ", ".join(f"{c} {types.get(t, 'bigint')}" for c, t in expected.dtypes.items())
    frame = to_spark(spark, expected, ddl + ", key bigint")
    frame = frame.selectExpr("*", "'log_standard_1.csv' AS source_file",
                             "key + 2 AS source_line").drop("key")
    path = tmp_path / "interactions.parquet"
    SparkParquetDataset(str(path), "interactions").save(frame)
    got = pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["first_tag"].dtype == "Int64"


def test_wrong_columns_and_types_are_named_before_any_job(spark: Any, tmp_path: Path) -> None:
    frame = spark.createDataFrame([(1, 2.0)], "i8 bigint, other double")
    with pytest.raises(ParquetWriteError) as err:
        write_single_parquet(frame, tmp_path / "m.parquet", MIXED, "mixed")
    message = str(err.value)
    assert "missing column(s) ['i16', 'i32'" in message
    assert "unexpected column(s) ['other']" in message
    assert "column 'i8' is bigint, expected tinyint (pandas int8)" in message


def test_tied_order_keys_and_nulls_in_plain_ints_are_refused(spark: Any, tmp_path: Path) -> None:
    target = tmp_path / "m.parquet"
    target.write_bytes(b"old")
    frame = to_spark(spark, mixed_frame(30), MIXED_DDL)
    tied = frame.selectExpr(*[c for c in frame.columns if c != "key"], "key DIV 2 AS key")
    with pytest.raises(ParquetWriteError, match=r"not in strictly increasing order of \['key'\]"):
        write_single_parquet(tied, target, MIXED, "mixed")
    holes = frame.selectExpr(*[c for c in frame.columns if c != "i32"],
                             "IF(key IN (4, 7), NULL, i32) AS i32")
    with pytest.raises(ParquetWriteError, match=r"'i32' \(pandas int32.*output row\(s\) \[4, 7\]"):
        write_single_parquet(holes, target, MIXED, "mixed")
    assert target.read_bytes() == b"old"


def test_pandas_save_with_other_dtypes_is_refused(tmp_path: Path) -> None:
    dataset = SparkParquetDataset(str(tmp_path / "v.parquet"), "vocab_users")
    with pytest.raises(DatasetError, match="differ from the table's"):
        dataset.save(pd.DataFrame({"user_id": [1], "user_idx": [1]}))
    with pytest.raises(ValueError, match="table must be one of"):
        SparkParquetDataset(str(tmp_path / "v.parquet"), "vocab")
