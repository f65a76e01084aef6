"""The Spark CSV reader gives the pandas reader's rows, line numbers and file-level errors."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kedro.io import DatasetError

from labelcraft.datasets import KuaiRandCSVDataset, SparkKuaiRandCSVDataset
from labelcraft.kuairand.reader import KuaiRandFormatError, read_kuairand_dir
from labelcraft.kuairand.schema import (
    COLUMN_SETS,
    LOG_PATTERN,
    SOURCE_COLUMNS,
    USER_PATTERN,
    VIDEO_PATTERN,
)
from tests.spark.conftest import session_conf

pytestmark = pytest.mark.spark

ABC = ["a", "b", "c"]
TINY_BLOCKS = {"spark.sql.files.maxPartitionBytes": "4096", "spark.sql.files.openCostInBytes": "0"}
"""Spark settings that cut a file of a few KB into several blocks (one task each)."""


def read_spark(spark: Any, directory: Path | str, pattern: str, columns: list[str]) -> Any:
    """`read_kuairand_dir_spark` (imported here: the module needs pyspark, and the `spark`
    fixture skips the test without it)."""
    from labelcraft.spark.reader import read_kuairand_dir_spark  # noqa: PLC0415

    return read_kuairand_dir_spark(spark, directory, pattern, columns)


def spark_frame(spark: Any, directory: Path | str, pattern: str,
                columns: list[str]) -> pd.DataFrame:
    """`read_kuairand_dir_spark` as pandas, in file and line order, with the pandas dtypes."""
    frame = read_spark(spark, directory, pattern, columns).toPandas()
    frame = frame.sort_values(SOURCE_COLUMNS, ignore_index=True)
    return frame.astype({**dict.fromkeys([*columns, SOURCE_COLUMNS[0]], "str"),
                         SOURCE_COLUMNS[1]: "int64"})


def assert_same_rows(spark: Any, directory: Path, pattern: str, columns: list[str]) -> None:
    expected = read_kuairand_dir(directory, pattern, columns)
    pd.testing.assert_frame_equal(spark_frame(spark, directory, pattern, columns), expected,
                                  check_exact=True)


def random_lines(seed: int, n: int) -> list[str]:
    """`n` data lines of 3 fields: quoted commas, "" escapes, spaces, empty fields, blanks."""
    rng = random.Random(seed)
    values = ["1", "", " x ", '"q,1"', '"say ""hi"""', '""', "-7", '"a ,b"', "é"]
    return ["" if rng.random() < 0.05 else ",".join(rng.choice(values) for _ in range(3))
            for _ in range(n)]


def test_rows_and_lines_equal_the_pandas_reader(spark: Any, tmp_path: Path) -> None:
    files = {
        "t_1.csv": b"\xef\xbb\xbfa,b,c\n1,\"x,y\",\"q\"\"q\"\n\n,,\n 2 , b ,\n",  # BOM, LF
        "t_2.csv": b"\r\n\r\nc,a,b\r\n3,1,2\r\n\r\n6,4,\"5,5\"",  # CRLF, reordered, no final end
        "t_3.csv": b"a,b,c\r1,2,3\r\r4,5,6\r",  # lone CR
        "t_4.csv": b"b,c,a",  # header only
        "t_5.csv": "\n".join(["a,b,c", *random_lines(1, 1500)]).encode(),  # several blocks
        "t_6.csv": "\r\n".join(["c,b,a", *random_lines(2, 1500)]).encode() + b"\r\n",
        "t_7.csv": "\r".join(["a,c,b", *random_lines(3, 800)]).encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with session_conf(spark, TINY_BLOCKS):
        assert_same_rows(spark, tmp_path, "t_*.csv", ABC)
        by_uri = spark_frame(spark, f"file://{tmp_path}", "t_*.csv", ABC)  # a URI: as on a cluster
    pd.testing.assert_frame_equal(by_uri, read_kuairand_dir(tmp_path, "t_*.csv", ABC))


def bad_directory(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


GOOD = b"a,b,c\n1,2,3\n"
ERROR_CASES: dict[str, tuple[dict[str, bytes], list[str]]] = {
    "no file": ({"other.csv": GOOD}, ["no file matching 't_*.csv' in directory"]),
    "gzip": ({"t_1.csv": b"\x1f\x8b\x08\x00rest"}, ["t_1.csv: looks gzip-compressed"]),
    "empty": ({"t_1.csv": b"\n\r\n"}, ["t_1.csv: empty file (no header line)"]),
    "header": ({"t_1.csv": b"\na,b,d\n1,2,3\n"},
               ["t_1.csv: wrong header (line 2): missing column(s) ['c']; unexpected column(s) "
                "['d']"]),
    "fields": ({"t_0.csv": GOOD, "t_1.csv": b"a,b,c\n1,2,3\n1,2,3,4\n\n\"5,5\",6"},
               ["t_1.csv: 2 line(s) do not have the 3 fields of the header; first 2: line 3 "
                "has 4 field(s): '1,2,3,4'; line 5 has 2 field(s) (truncated last line?): "
                "'\"5,5\",6'"]),
    "many fields": ({"t_1.csv": ("a,b,c\n" + "1,2\n1,2,3\n" * 8).encode()},
                    ["8 line(s) do not have", "line 2 has 2 field(s): '1,2'; line 4 has",
                     "line 10 has 2 field(s): '1,2'"]),
    "odd quotes": ({"t_1.csv": b'a,b,c\n1,2,3\n1,a"b,3\n4,5,6\n'},
                   ["t_1.csv: unbalanced or stray '\"' characters", "odd number of quotes: [3]"]),
    "utf-8": ({"t_1.csv": b"a,b,c\n1,2,3\n\n3,\xff,4\n"},
              ["t_1.csv: CSV parse error", "invalid UTF8", "line 4"]),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_file_errors_equal_the_pandas_reader(spark: Any, tmp_path: Path, case: str) -> None:
    files, parts = ERROR_CASES[case]
    directory = bad_directory(tmp_path, files)
    with pytest.raises((KuaiRandFormatError, FileNotFoundError)) as pandas_error:
        read_kuairand_dir(directory, "t_*.csv", ABC)
    with pytest.raises(pandas_error.type) as spark_error:
        read_spark(spark, directory, "t_*.csv", ABC)
    for part in parts:
        assert part in str(pandas_error.value)
        assert part in str(spark_error.value)


def test_missing_directory_is_named(spark: Any, tmp_path: Path) -> None:
    dataset = SparkKuaiRandCSVDataset(str(tmp_path / "absent"), LOG_PATTERN, "log")
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="absent.*does not exist"):
        dataset.load()
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(spark.range(1))


@pytest.mark.real_data
def test_real_slice_equals_the_pandas_reader(spark: Any, kuairand_dir: Path) -> None:
    for pattern, columns in ((LOG_PATTERN, "log"), (VIDEO_PATTERN, "video"),
                             (USER_PATTERN, "user")):
        dataset = SparkKuaiRandCSVDataset(str(kuairand_dir), pattern, columns)
        assert [path.resolve() for path in dataset.source_files()] == [
            path.resolve() for path in KuaiRandCSVDataset(
                str(kuairand_dir), pattern, columns).source_files()]
        assert_same_rows(spark, kuairand_dir, pattern, COLUMN_SETS[columns])
