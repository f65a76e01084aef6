"""Strict reading of KuaiRand CSV files into all-string Spark frames with line provenance.

The Spark twin of `labelcraft.kuairand.reader.read_kuairand_dir`: the same rows, strings,
``source_file`` and ``source_line`` (1-based physical line, header = 1, blank lines counted and
skipped; LF, CRLF and CR line ends), and the same file-level errors, built by that module's
checks and message builders.

How: the driver lists the files and reads only the beginning of each (compression magic bytes,
header), through fsspec, so the folder may be a local path or a URI (`spark.storage`). Spark
reads every file as text lines; a line's number is its position in its file block plus the
lines of the file's earlier blocks (a small per-block table), so no step funnels all rows
through one task. Fields are split by ``from_csv`` (RFC 4180 quotes, ``""`` escapes)
and counted apart (``from_csv`` pads short and truncates long rows).

Limitation: a quoted field cannot span lines (the pandas reader allows it): such a record shows
as lines with an odd number of ``"`` and is refused with the pandas reader's message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from labelcraft.kuairand.reader import (
    MAX_REPORTED,
    FieldCountOffender,
    KuaiRandFormatError,
    check_not_compressed,
    field_count_error,
    line_layout,
    odd_quotes_error,
    read_header,
)
from labelcraft.kuairand.schema import SOURCE_COLUMNS
from labelcraft.spark.storage import Location, find_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

_HEAD_BYTES = 1 << 16
"""First read size of a file's beginning on the driver (doubled until the header is whole)."""
_FILE, _LINE = SOURCE_COLUMNS
T = TypeVar("T")


@dataclass(frozen=True)
class FileHeader:
    """A file's header as the driver read it: its column names in file order and its physical
    line (1-based; blank lines may precede it)."""

    path: Location
    columns: list[str]
    line: int


def read_file_header(path: Location, expected_columns: Sequence[str]) -> FileHeader:
    """Check the beginning of `path` and return its header; reads only the bytes up to the end
    of the first non-empty record.

    Raises KuaiRandFormatError like the pandas reader for a compressed or empty file and for a
    header that is not valid UTF-8 or not exactly `expected_columns` (in any order).
    """
    with path.fs.open(path.path, "rb") as stream:
        data = stream.read(_HEAD_BYTES)
        check_not_compressed(path, data)
        layout = line_layout(data)
        while layout.starts.size == 0 or layout.ends[0] == len(data):  # header may go on
            more = stream.read(len(data))
            if not more:
                break
            data += more
            layout = line_layout(data)
    columns = read_header(path, data, layout, expected_columns)
    return FileHeader(path, columns, int(layout.lines[0]))


def _numbered_lines(spark: SparkSession, headers: Sequence[FileHeader]) -> DataFrame:
    """The non-empty lines after each file's header: (source_file, source_line, value)."""
    text = spark.read.text([h.path.spark for h in headers]).select(
        "value",
        F.col("_metadata.file_name").alias(_FILE),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_id"),
    ).localCheckpoint()  # freezes the ids: a block's lines are consecutive ids of one task
    earlier = Window.partitionBy(_FILE).orderBy("_block").rowsBetween(
        Window.unboundedPreceding, -1)
    blocks = text.groupBy(_FILE, "_block").agg(
        F.count(F.lit(1)).alias("_lines"), F.min("_id").alias("_first"))
    lines_before = F.coalesce(F.sum("_lines").over(earlier), F.lit(0))
    blocks = blocks.select(  # a line's number is its id + _to_line
        _FILE, "_block", (lines_before - F.col("_first") + 1).alias("_to_line"))
    header_line = _by_file({h.path.name: h.line for h in headers}, F.lit)
    lines = text.join(F.broadcast(blocks), [_FILE, "_block"]).select(
        _FILE, (F.col("_id") + F.col("_to_line")).alias(_LINE), "value")
    return lines.filter((F.col("value") != "") & (F.col(_LINE) > header_line))


def _by_file(values: dict[str, T], to_column: Callable[[T], Column]) -> Column:
    """`to_column` of `values[source_file]` for each row (file name -> value); a plain
    expression when every file has the same value."""
    if len(set(values.values())) == 1:
        return to_column(next(iter(values.values())))
    cases = None
    for name, value in values.items():
        condition = F.col(_FILE) == F.lit(name)
        column = to_column(value)
        cases = F.when(condition, column) if cases is None else cases.when(condition, column)
    return cases


def _check_lines(lines: DataFrame, headers: Sequence[FileHeader], n_fields: int) -> int:
    """Raise KuaiRandFormatError for the first file (in name order) holding undecodable text,
    a line with an odd number of quotes or a wrong field count (in that order of precedence,
    like the pandas reader). Returns the number of rows."""
    # a line's field count: 1 + its commas outside quoted fields
    fields = F.size(F.split(F.regexp_replace("value", '"[^"]*"', ""), ",", -1))
    flags = {
        "undecodable": ~F.is_valid_utf8("value"),
        "odd_quotes": (F.length("value") - F.length(F.regexp_replace("value", '"', ""))) % 2 == 1,
        "bad_fields": fields != n_fields,
    }
    stats = {row[_FILE]: row for row in lines.groupBy(_FILE).agg(
        F.count(F.lit(1)).alias("rows"), F.max(_LINE).alias("last"),
        *[F.count_if(flag).alias(name) for name, flag in flags.items()]).collect()}
    for header in headers:
        name = header.path.name
        found = stats.get(name)
        problem = next((p for p in flags if found is not None and found[p]), None)
        if problem is None:
            continue
        first = (lines.filter((F.col(_FILE) == name) & flags[problem])
                 .select(_LINE, "value", fields.alias("fields"))
                 .orderBy(_LINE).limit(MAX_REPORTED).collect())
        if problem == "undecodable":
            shown = ", ".join(f"line {row[_LINE]}" for row in first)
            raise KuaiRandFormatError(f"{name}: CSV parse error: invalid UTF8 data in "
                                      f"{found[problem]} line(s), first: {shown}")
        if problem == "odd_quotes":
            error = odd_quotes_error(name, [row[_LINE] for row in first])
            raise KuaiRandFormatError(f"{error}; the Spark reader also refuses line breaks "
                                      "inside quoted fields (the pandas reader accepts them)")
        offenders = [FieldCountOffender(row[_LINE], row["fields"], row["value"],
                                        row[_LINE] == found["last"]) for row in first]
        raise field_count_error(name, found[problem], offenders, n_fields)
    return sum(row["rows"] for row in stats.values())


def read_kuairand_dir_spark(
    spark: SparkSession, directory: Path | str, pattern: str, expected_columns: Sequence[str],
    storage_options: dict[str, Any] | None = None,
) -> DataFrame:
    """All files of `directory` (a local path or a URI; `storage_options` for its fsspec file
    system) matching `pattern`, read strictly as one Spark frame.

    Returns a frame [N, C + 2] of the same rows as `read_kuairand_dir`: the expected columns
    (string, in `expected_columns` order, empty fields as ""), `source_file` (string) and
    `source_line` (bigint); unordered (sort by source_file, source_line for the file order).
    The checks run at once (the text is read and checkpointed, then one aggregation; a failed
    check adds one query for its first offending lines) and raise FileNotFoundError or
    KuaiRandFormatError with the pandas reader's messages.
    """
    files = find_files(Location.of(directory, storage_options), pattern)
    headers = [read_file_header(path, expected_columns) for path in files]
    lines = _numbered_lines(spark, headers)
    n_fields = len(expected_columns)
    rows = _check_lines(lines, headers, n_fields)
    schema = ", ".join(f"_c{i} string" for i in range(n_fields))
    fields = F.from_csv(F.col("value"), schema, {"escape": '"'})
    columns = [
        F.coalesce(_by_file({h.path.name: h.columns.index(c) for h in headers},
                            lambda i: fields[f"_c{i}"]), F.lit("")).alias(c)
        for c in expected_columns
    ]
    logger.info("read %d rows from %d file(s) matching %r in %s (Spark)", rows, len(files),
                pattern, directory)
    return lines.select(*columns, _FILE, _LINE)
