"""Write a Spark frame as the single Parquet file the pandas path writes for the same table.

Spark writes a folder of part files without pandas metadata (a nullable bigint reads back as
float64) and a later pandas save cannot replace a folder. So `write_single_parquet` sorts the
frame by the table's order columns, writes the parts to a sibling folder ``<file>.parts``, then
streams them, one row group at a time, into one file with the table's exact Arrow schema and
pandas metadata (`schemas.TableSchema.arrow_schema`). Along the way it checks that the rows come
in strictly increasing order and that no column pandas reads as a non-nullable dtype holds a
null. The file is written under a hidden name next to its target and moved onto it.

The target may be a local path or a URI (`spark.storage`): the driver lists, reads and writes
the files through fsspec, one row group in memory at a time.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelcraft.kuairand.reader import MAX_REPORTED
from labelcraft.spark.schemas import TableSchema
from labelcraft.spark.storage import Location

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

SPARK_TYPES: dict[pa.DataType, str] = {
    pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
    pa.float32(): "float", pa.float64(): "double", pa.string(): "string",
    pa.large_string(): "string",
}
"""The Spark SQL type a frame's column must have for each Arrow type of an output table."""

_PART = re.compile(r"part-(\d+)-.*-c(\d+)(\.[a-z0-9]+)*\.parquet")


class ParquetWriteError(ValueError):
    """A Spark frame does not fit its table's schema or order; the message names the column."""


def parts_folder(filepath: Location) -> Location:
    """The sibling folder ``<file>.parts`` that holds Spark's part files during a write."""
    return filepath.parent.child(filepath.name + ".parts")


def check_frame(frame: DataFrame, schema: TableSchema, label: str) -> list[str]:
    """The columns [C + helper order columns] to write; raises ParquetWriteError (naming every
    problem) unless `frame` has exactly the table's columns plus its helper order columns, each
    output column with the Spark type of its dtype."""
    target = schema.arrow_schema()
    spark_types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    helpers = [c for c in schema.order if c not in schema.dtypes]
    wanted = [*schema.columns, *helpers]
    problems = []
    missing = [c for c in wanted if c not in spark_types]
    extra = [c for c in spark_types if c not in wanted]
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra:
        problems.append(f"unexpected column(s) {extra}")
    problems += [
        f"column {f.name!r} is {spark_types[f.name]}, expected {SPARK_TYPES[f.type]}"
        f" (pandas {schema.dtypes[f.name]})"
        for f in target if f.name in spark_types and spark_types[f.name] != SPARK_TYPES[f.type]
    ]
    if problems:
        raise ParquetWriteError(f"{label}: " + "; ".join(problems)
                                + f". Expected columns {wanted}")
    return wanted


def part_files(folder: Location) -> list[Location]:
    """Spark's Parquet part files of `folder` in row order: by task partition, then file counter
    (``part-<partition>-<uuid>-c<counter>...parquet``; ``_SUCCESS`` and ``.crc`` files ignored)."""
    keyed = []
    for path in folder.fs.ls(folder.path, detail=False):
        part = Location(folder.prefix, path, folder.fs)
        if part.name.startswith(("_", ".")):
            continue
        found = _PART.fullmatch(part.name)
        if found is None:
            raise ParquetWriteError(f"unexpected file {part.name!r} among the part files of "
                                    f"{folder}")
        keyed.append(((int(found.group(1)), int(found.group(2))), part))
    return [part for _, part in sorted(keyed, key=lambda item: item[0])]


def _not_increasing(keys: pa.Table) -> np.ndarray:
    """Positions i [k] where row i + 1 of `keys` does not come strictly after row i
    (lexicographic over its columns; a null key never counts as in order)."""
    if keys.num_rows < 2:
        return np.zeros(0, dtype=np.int64)
    ahead = np.zeros(keys.num_rows - 1, dtype=bool)
    tied = np.ones_like(ahead)
    for column in keys.columns:
        before, after = column.slice(0, keys.num_rows - 1), column.slice(1)
        ahead |= tied & pc.fill_null(pc.less(before, after), False).to_numpy()
        tied &= pc.fill_null(pc.equal(before, after), False).to_numpy()
    return np.flatnonzero(~ahead)


def _conform(group: pa.Table, target: pa.Schema, first_row: int, label: str) -> pa.Table:
    """One row group of the parts cast to `target` (NaN written as null, like pandas does);
    raises ParquetWriteError for a null in a column pandas reads as a non-nullable dtype."""
    numpy_types = {c["name"]: c["numpy_type"] for c in target.pandas_metadata["columns"]}
    columns = []
    for field in target:
        column = group.column(field.name)
        if pa.types.is_floating(field.type):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        if numpy_types[field.name].startswith(("int", "uint")) and column.null_count:
            rows = pc.indices_nonzero(pc.is_null(column))[:MAX_REPORTED].to_numpy() + first_row
            raise ParquetWriteError(
                f"{label}: column {field.name!r} (pandas {numpy_types[field.name]}, not "
                f"nullable) holds null(s), first at output row(s) {rows.tolist()}")
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=target)


def _num_rows(part: Location) -> int:
    with part.fs.open(part.path, "rb") as handle:
        return pq.read_metadata(handle).num_rows


def merge_parts(parts: Sequence[Location], filepath: Location, schema: TableSchema,
                label: str) -> int:
    """Stream `parts` (in order) into one Parquet file at `filepath` with the table's schema.

    Reads one row group at a time; checks the order columns increase strictly across all rows
    (ParquetWriteError naming the first output rows out of order). Writes a hidden temporary
    file in the same folder and moves it onto `filepath` (on a local disk an atomic rename).
    Returns the number of rows written.
    """
    total = sum(_num_rows(part) for part in parts)
    target = schema.arrow_schema(total)
    order = list(schema.order)
    tmp = filepath.temporary_sibling()
    rows = 0
    previous: pa.Table | None = None
    try:
        with filepath.fs.open(tmp.path, "wb") as sink, pq.ParquetWriter(sink, target) as writer:
            for part in parts:
                with part.fs.open(part.path, "rb") as handle:
                    parquet = pq.ParquetFile(handle)
                    for index in range(parquet.num_row_groups):
                        group = parquet.read_row_group(index)
                        keys = group.select(order)
                        checked = keys if previous is None else pa.concat_tables([previous, keys])
                        offset = 0 if previous is None else 1
                        bad = _not_increasing(checked)
                        if bad.size:
                            first = (bad[:MAX_REPORTED] + rows - offset + 1).tolist()
                            raise ParquetWriteError(
                                f"{label}: rows are not in strictly increasing order of {order} "
                                f"at output row(s) {first} (equal keys leave the order undefined)")
                        writer.write_table(_conform(group, target, rows, label))
                        previous = keys.slice(keys.num_rows - 1) if keys.num_rows else previous
                        rows += group.num_rows
        assert rows == total, (rows, total)
        filepath.fs.mv(tmp.path, filepath.path)
    finally:
        if filepath.fs.exists(tmp.path):
            filepath.fs.rm(tmp.path)
    return rows


def write_single_parquet(frame: DataFrame, filepath: Path | str, schema: TableSchema,
                         label: str, storage_options: dict[str, Any] | None = None) -> int:
    """Write Spark `frame` as one Parquet file at `filepath` (a local path or a URI;
    `storage_options` for its fsspec file system) that ``pd.read_parquet`` reads as
    the table `schema` ([N, C], its dtypes, rows in `schema.order`). `label` names the table in
    errors. Returns N.

    The frame holds the table's columns plus any helper order columns (dropped). Raises
    ParquetWriteError before any Spark job when columns or types differ, and during the merge
    for rows out of order or nulls in non-nullable columns (the target is then unchanged).
    """
    target = Location.of(filepath, storage_options)
    columns = check_frame(frame, schema, label)
    if target.fs.isdir(target.path):
        raise ParquetWriteError(f"{label}: {target} is a folder (a plain Spark write?); "
                                "remove it, the table is written as a single file")
    target.fs.makedirs(target.parent.path, exist_ok=True)
    folder = parts_folder(target)
    start = time.perf_counter()
    frame.orderBy(*schema.order).select(*columns).write.mode("overwrite").parquet(folder.spark)
    parts = part_files(folder)
    written = time.perf_counter()
    rows = merge_parts(parts, target, schema, label)
    merge_s = time.perf_counter() - written
    folder.fs.rm(folder.path, recursive=True)
    logger.info("wrote %d rows of %s from %d part file(s) (Spark job %.1f s, merge on the driver "
                "%.1f s)", rows, label, len(parts), written - start, merge_s,
                extra={"merge_s": merge_s})
    return rows
