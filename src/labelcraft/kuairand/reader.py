"""Strict reading of KuaiRand CSV files into all-string DataFrames with line provenance.

Every value is kept as the exact string of the file (typing is done by `validation`), and
each row carries `source_file` (file name) and `source_line` (1-based physical line number of
the row's first line in the file, header = line 1). Line numbers count every physical line,
including blank lines (skipped) and line breaks inside quoted fields, so they match what an
editor shows. Line ends may be LF, CRLF or CR.

Limitation: the line mapping treats every `"` as a quote character. A stray `"` inside an
unquoted field (e.g. `ab"c`, legal for the parser) makes the mapping ambiguous; such files
are rejected with an error listing the lines that hold an odd number of quotes.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

from labelcraft.kuairand.schema import SOURCE_COLUMNS

logger = logging.getLogger(__name__)

MAX_REPORTED = 5
"""How many offending lines an error message lists."""

_MAX_TEXT = 120
_LF, _CR, _QUOTE = 10, 13, 34


class NamedFile(Protocol):
    """A file the messages can name: its base `name`, and its full path or URI as ``str``."""

    @property
    def name(self) -> str: ...


class KuaiRandFormatError(ValueError):
    """A KuaiRand file is malformed; the message names the file, column and offending lines."""


@dataclass
class LineLayout:
    """Where the non-empty CSV records of a file are.

    starts, ends: [R] byte offsets of each record (end excludes the line break);
    lines: [R] 1-based physical line of each record's first byte;
    breaks, quotes: byte offsets of every line break and every `"` in the file.
    """

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    breaks: np.ndarray
    quotes: np.ndarray

    def odd_quote_lines(self) -> np.ndarray:
        """Physical line numbers (1-based) holding an odd number of `"` characters."""
        line_starts = np.concatenate([[0], self.breaks + 1])
        line_ends = np.concatenate([self.breaks, [np.iinfo(np.int64).max]])
        counts = np.searchsorted(self.quotes, line_ends) - np.searchsorted(self.quotes, line_starts)
        return np.flatnonzero(counts % 2 == 1) + 1


def line_layout(data: bytes) -> LineLayout:
    """Locate the records of `data` the way pyarrow splits them (vectorised over all bytes)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    lf = np.flatnonzero(buf == _LF)
    cr = np.flatnonzero(buf == _CR)
    lone_cr = cr[buf[np.minimum(cr + 1, buf.size - 1)] != _LF]  # a final CR is never followed
    breaks = np.sort(np.concatenate([lf, lone_cr])) if lone_cr.size else lf
    quotes = np.flatnonzero(buf == _QUOTE)
    terminators = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    starts = np.concatenate([[0], terminators + 1])
    ends = np.concatenate([terminators, [buf.size]])
    crlf = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR) if buf.size else ends > starts
    ends = ends - crlf
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    lines = np.searchsorted(breaks, starts) + 1
    return LineLayout(starts, ends, lines.astype(np.int64), breaks, quotes)


@dataclass
class _InvalidRows:
    """pyarrow `invalid_row_handler`: counts bad rows and keeps the first few (skips them all)."""

    count: int = 0
    first: list[tuple[int, int, str]] = field(default_factory=list)

    def __call__(self, row: pacsv.InvalidRow) -> str:
        self.count += 1
        if len(self.first) < MAX_REPORTED:
            self.first.append((row.number, row.actual_columns, row.text))
        return "skip"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _parse_header(name: str, data: bytes, layout: LineLayout) -> list[str]:
    """Column names of the first non-empty record."""
    raw = data[layout.starts[0] : layout.ends[0]]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KuaiRandFormatError(
            f"{name}: header (line {layout.lines[0]}) is not valid UTF-8: {raw[:_MAX_TEXT]!r}"
        ) from exc
    return next(csv.reader([text]))


def _check_header(name: str, header: list[str], line: int, expected: Sequence[str]) -> None:
    """Raise unless `header` holds exactly the `expected` names (in any order, no repeats)."""
    problems = []
    missing = [c for c in expected if c not in header]
    extra = list(dict.fromkeys(c for c in header if c not in expected))
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra:
        problems.append(f"unexpected column(s) {extra}")
    if repeated:
        problems.append(f"repeated column(s) {repeated}")
    if problems:
        raise KuaiRandFormatError(
            f"{name}: wrong header (line {line}): {'; '.join(problems)}. "
            f"Header found: {header}. Expected: {list(expected)}"
        )


def _arrow_error(name: str, exc: pa.ArrowInvalid, layout: LineLayout,
                 header: Sequence[str]) -> KuaiRandFormatError:
    """Re-word a pyarrow parse/conversion error with the file name, the column by name (pyarrow
    numbers them from 0) and the physical line."""
    message = str(exc)
    column = re.search(r"CSV column #(\d+)", message)
    if column and int(column.group(1)) < len(header):
        message = message.replace(column.group(0),
                                  f"CSV column {header[int(column.group(1))]!r}")
    found = re.search(r"Row #(\d+)", message)
    if found and 0 < int(found.group(1)) <= layout.lines.size:
        message += f" (line {layout.lines[int(found.group(1)) - 1]})"
    return KuaiRandFormatError(f"{name}: CSV parse error: {message}")


class FieldCountOffender(NamedTuple):
    """A record whose field count differs from the header's: its physical line, field count and
    text, and whether it is the file's last record (a short last record is likely truncated)."""

    line: int
    fields: int
    text: str
    last: bool


def field_count_error(
    name: str, count: int, first: Sequence[FieldCountOffender], n_fields: int
) -> KuaiRandFormatError:
    """Error listing the first records (of `count`) whose field count differs from the header's."""
    shown = []
    for offender in first:
        hint = " (truncated last line?)" if offender.last and offender.fields < n_fields else ""
        shown.append(f"line {offender.line} has {offender.fields} field(s){hint}: "
                     f"{_shorten(offender.text)!r}")
    return KuaiRandFormatError(
        f"{name}: {count} line(s) do not have the {n_fields} fields of the header; "
        f"first {len(shown)}: " + "; ".join(shown)
    )


def odd_quotes_error(name: str, lines: Sequence[int]) -> KuaiRandFormatError:
    """Error naming the first physical lines that hold an odd number of `"` characters."""
    return KuaiRandFormatError(
        f"{name}: unbalanced or stray '\"' characters: rows cannot be mapped to lines "
        f"(lines with an odd number of quotes: {list(lines)}); quote whole fields only"
    )


_COMPRESSED: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"), (b"PK\x03\x04", "zip"), (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
"""Magic bytes of compressed files, which a user may have named ``.csv``."""


def check_not_compressed(path: Path | NamedFile, data: bytes) -> None:
    """Raise KuaiRandFormatError when the file's leading bytes `data` are a compressed stream."""
    for magic, kind in _COMPRESSED:
        if data.startswith(magic):
            raise KuaiRandFormatError(f"{path.name}: looks {kind}-compressed, not CSV text; "
                                      f"decompress it first (path {path})")


def read_header(
    path: Path | NamedFile, data: bytes, layout: LineLayout, expected_columns: Sequence[str]
) -> list[str]:
    """The column names of the file's first non-empty record (`data` holds at least that record,
    `layout` is `line_layout(data)`).

    Raises KuaiRandFormatError for an empty file and for a header that is not valid UTF-8 or not
    exactly `expected_columns` (in any order).
    """
    name = path.name
    if layout.starts.size == 0:
        raise KuaiRandFormatError(f"{name}: empty file (no header line); path {path}")
    header = _parse_header(name, data, layout)
    _check_header(name, header, int(layout.lines[0]), expected_columns)
    return header


def read_csv_strict(path: Path | str, expected_columns: Sequence[str]) -> pd.DataFrame:
    """Read one CSV file as strings, refusing any malformed line.

    Returns a DataFrame [rows, len(expected_columns) + 2]: the expected columns (dtype str, in
    `expected_columns` order, empty fields as ""), then `source_file` (str) and `source_line`
    (int64). Raises KuaiRandFormatError (naming the file and lines) for an empty file, a header
    that is not exactly `expected_columns`, rows with a wrong number of fields, unbalanced
    quotes or undecodable text.
    """
    path = Path(path)
    name = path.name
    data = path.read_bytes()
    if data and data[-1] not in (_LF, _CR):
        data += b"\n"  # pyarrow cannot read a header-only file without a final line break
    check_not_compressed(path, data)
    layout = line_layout(data)
    header = read_header(path, data, layout, expected_columns)

    invalid = _InvalidRows()
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _arrow_error(name, exc, layout, header) from exc
    if layout.starts.size != 1 + table.num_rows + invalid.count:
        raise odd_quotes_error(name, layout.odd_quote_lines()[:MAX_REPORTED].tolist())
    if invalid.count:
        first = [FieldCountOffender(int(layout.lines[number - 1]), actual, text,
                                    number == layout.lines.size)
                 for number, actual, text in invalid.first]
        raise field_count_error(name, invalid.count, first, len(header))

    frame = table.select(list(expected_columns)).to_pandas()
    frame[SOURCE_COLUMNS[0]] = pd.Series(name, index=frame.index, dtype="str")
    frame[SOURCE_COLUMNS[1]] = layout.lines[1:]
    logger.debug("read %s: %d rows", name, len(frame))
    return frame


def missing_directory_error(directory: Path | NamedFile, pattern: str) -> FileNotFoundError:
    """The error for a KuaiRand directory that is absent or not a directory."""
    return FileNotFoundError(
        f"KuaiRand directory {directory} does not exist (or is not a directory); "
        f"looked for files matching {pattern!r}"
    )


def no_match_error(directory: Path | NamedFile, pattern: str) -> FileNotFoundError:
    """The error for a KuaiRand directory without a file matching `pattern`."""
    return FileNotFoundError(f"no file matching {pattern!r} in directory {directory}")


def find_files(directory: Path | str, pattern: str) -> list[Path]:
    """Files of `directory` matching the glob `pattern`, sorted by name.

    Raises FileNotFoundError naming the directory and the pattern when nothing matches.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise missing_directory_error(directory, pattern)
    files = sorted((p for p in directory.glob(pattern) if p.is_file()), key=lambda p: p.name)
    if not files:
        raise no_match_error(directory, pattern)
    return files


def read_kuairand_dir(
    directory: Path | str, pattern: str, expected_columns: Sequence[str]
) -> pd.DataFrame:
    """Concatenate `read_csv_strict` over all files of `directory` matching `pattern`.

    Rows are in file-name order, then line order; the index is 0..N-1.
    """
    files = find_files(directory, pattern)
    frames = [
        read_csv_strict(p, expected_columns)
        for p in tqdm(files, desc=f"reading {pattern}", disable=len(files) < 2)
    ]
    raw = pd.concat(frames, ignore_index=True)
    logger.info(
        "read %d rows from %d file(s) matching %r in %s", len(raw), len(files), pattern, directory
    )
    return raw
