"""Strict KuaiRand CSV reader and its Kedro dataset, on small files written to tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from labelcraft.datasets import KuaiRandCSVDataset
from labelcraft.kuairand.reader import (
    KuaiRandFormatError,
    find_files,
    read_csv_strict,
    read_kuairand_dir,
)
from labelcraft.kuairand.schema import LOG_COLUMNS, LOG_PATTERN

HEADER = ",".join(LOG_COLUMNS)
ROW = "0,4214,20220425,1800,1650882384975,0,0,0,0,0,0,0,1033,168241,0,0,0,0,1"
ROW2 = "1,3128,20220425,600,1650839916065,1,0,0,0,0,0,1,5149,182300,0,0,0,0,1"


def write(directory: Path, name: str, text: str | bytes) -> Path:
    """Write `text` (bytes kept as they are) to directory/name and return the path."""
    path = directory / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reads_all_strings_with_provenance(tmp_path: Path) -> None:
    path = write(tmp_path, "log_standard_a.csv", f"{HEADER}\n{ROW}\n{ROW2}\n")
    frame = read_csv_strict(path, LOG_COLUMNS)
    assert list(frame.columns) == [*LOG_COLUMNS, "source_file", "source_line"]
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in LOG_COLUMNS)
    assert frame["time_ms"].tolist() == ["1650882384975", "1650839916065"]
    assert frame["source_file"].tolist() == ["log_standard_a.csv"] * 2
    assert frame["source_line"].tolist() == [2, 3]
    assert frame["source_line"].dtype == "int64"


def test_empty_fields_stay_empty_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,b,c\n1,,3\n,,\n")
    frame = read_csv_strict(path, ["a", "b", "c"])
    assert frame["b"].tolist() == ["", ""]
    assert frame["a"].tolist() == ["1", ""]


def test_reordered_header_is_read_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "c,a,b\n3,1,2\n")
    frame = read_csv_strict(path, ["a", "b", "c"])
    assert frame[["a", "b", "c"]].iloc[0].tolist() == ["1", "2", "3"]


def test_line_numbers_count_blank_lines_crlf_and_quoted_newlines(tmp_path: Path) -> None:
    text = b'a,b,c\r\n1,"x\r\ny",3\r\n\r\n4,"5,6",7\r\n\r\n\r\n8,9,"1\n2\n3"\r\n10,11,12'
    frame = read_csv_strict(write(tmp_path, "t.csv", text), ["a", "b", "c"])
    assert frame["a"].tolist() == ["1", "4", "8", "10"]
    assert frame["b"].tolist() == ["x\r\ny", "5,6", "9", "11"]
    assert frame["source_line"].tolist() == [2, 5, 8, 11]


def test_line_numbers_with_lone_cr_line_ends(tmp_path: Path) -> None:
    frame = read_csv_strict(write(tmp_path, "t.csv", b"a,b\r1,2\r\r3,4\r"), ["a", "b"])
    assert frame["source_line"].tolist() == [2, 4]


def test_truncated_last_line_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "log_standard_cut.csv", f"{HEADER}\n{ROW}\n{ROW2}\n{ROW[:25]}")
    with pytest.raises(KuaiRandFormatError) as err:
        read_csv_strict(path, LOG_COLUMNS)
    message = str(err.value)
    assert "log_standard_cut.csv" in message
    assert "line 4 has 5 field(s) (truncated last line?)" in message
    assert ROW[:25] in message


def test_line_number_of_bad_row_after_multiline_quoted_field(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", 'a,b,c\n1,"multi\nline\nvalue",3\n\n4,5\n')
    with pytest.raises(KuaiRandFormatError, match=r"v\.csv: 1 line\(s\).*line 6 has 2 field"):
        read_csv_strict(path, ["a", "b", "c"])


def test_too_many_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "log_standard_x.csv", f"{HEADER}\n{ROW}\n{ROW},7\n{ROW2}\n")
    with pytest.raises(KuaiRandFormatError) as err:
        read_csv_strict(path, LOG_COLUMNS)
    message = str(err.value)
    assert "log_standard_x.csv" in message
    assert "line 3 has 20 field(s)" in message
    assert "truncated" not in message


def test_only_first_five_bad_lines_are_listed(tmp_path: Path) -> None:
    lines = [ROW if i % 2 == 0 else "1,2" for i in range(14)]  # bad at file lines 3, 5, ...
    path = write(tmp_path, "t.csv", HEADER + "\n" + "\n".join(lines) + "\n")
    with pytest.raises(KuaiRandFormatError) as err:
        read_csv_strict(path, LOG_COLUMNS)
    message = str(err.value)
    assert "7 line(s)" in message
    assert re.findall(r"line (\d+) has", message) == ["3", "5", "7", "9", "11"]


def test_missing_column_is_named_and_header_shown(tmp_path: Path) -> None:
    header = ",".join(c for c in LOG_COLUMNS if c != "tab")
    path = write(tmp_path, "log_standard_m.csv", f"{header}\n{ROW[:-2]}\n")
    with pytest.raises(KuaiRandFormatError) as err:
        read_csv_strict(path, LOG_COLUMNS)
    message = str(err.value)
    assert "log_standard_m.csv" in message
    assert "missing column(s) ['tab']" in message
    assert "Header found: ['user_id', 'video_id'," in message


def test_wrong_header_name(tmp_path: Path) -> None:
    path = write(tmp_path, "log_standard_w.csv", HEADER.replace("is_like", "is_liked") + "\n")
    with pytest.raises(KuaiRandFormatError) as err:
        read_csv_strict(path, LOG_COLUMNS)
    message = str(err.value)
    assert "missing column(s) ['is_like']" in message
    assert "unexpected column(s) ['is_liked']" in message


def test_extra_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f"{HEADER},extra\n{ROW},1\n")
    with pytest.raises(KuaiRandFormatError, match=r"t\.csv.*unexpected column\(s\) \['extra'\]"):
        read_csv_strict(path, LOG_COLUMNS)


def test_repeated_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,b,a\n1,2,3\n")
    with pytest.raises(KuaiRandFormatError, match=r"repeated column\(s\) \['a'\]"):
        read_csv_strict(path, ["a", "b"])


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "log_standard_e.csv", content)
    with pytest.raises(KuaiRandFormatError, match=r"log_standard_e\.csv: empty file"):
        read_csv_strict(path, LOG_COLUMNS)


@pytest.mark.parametrize("end", ["", "\n", "\r\n"])
def test_header_only_file_gives_no_rows(tmp_path: Path, end: str) -> None:
    frame = read_csv_strict(write(tmp_path, "h.csv", HEADER + end), LOG_COLUMNS)
    assert len(frame) == 0
    assert list(frame.columns) == [*LOG_COLUMNS, "source_file", "source_line"]


def test_unclosed_quote_at_end_of_file(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", 'a,b,c\n1,2,3\n4,"5,6\n')
    with pytest.raises(KuaiRandFormatError, match=r"v\.csv.*line 3 has 2 field"):
        read_csv_strict(path, ["a", "b", "c"])


def test_stray_quote_inside_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", 'a,b,c\n1,2,3\n1,a"b,3\n4,5,6\n')
    match = r"v\.csv: unbalanced .*odd number of quotes: \[3\]"
    with pytest.raises(KuaiRandFormatError, match=match):
        read_csv_strict(path, ["a", "b", "c"])


def test_invalid_utf8_names_file_column_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", b"a,b\n1,2\n\n3,\xff\n")
    match = r"v\.csv: CSV parse error: In CSV column 'b': .*invalid UTF8.*\(line 4\)"
    with pytest.raises(KuaiRandFormatError, match=match):
        read_csv_strict(path, ["a", "b"])


@pytest.mark.parametrize(("magic", "kind"), [(b"\x1f\x8b\x08\x00", "gzip"),
                                             (b"PK\x03\x04", "zip")])
def test_a_compressed_file_named_csv_says_so(tmp_path: Path, magic: bytes, kind: str) -> None:
    path = write(tmp_path, "log_standard_z.csv", magic + b"\x00\x01binary")
    with pytest.raises(KuaiRandFormatError,
                       match=rf"log_standard_z\.csv: looks {kind}-compressed.*decompress"):
        read_csv_strict(path, LOG_COLUMNS)


def test_find_files_sorted_by_name(tmp_path: Path) -> None:
    for name in ["log_standard_b.csv", "log_standard_a.csv", "other.csv"]:
        write(tmp_path, name, HEADER + "\n")
    (tmp_path / "log_standard_dir.csv").mkdir()
    files = find_files(tmp_path, LOG_PATTERN)
    assert [p.name for p in files] == ["log_standard_a.csv", "log_standard_b.csv"]


def test_find_files_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        find_files(missing, LOG_PATTERN)
    assert str(missing) in str(err.value)
    assert "does not exist" in str(err.value)
    assert LOG_PATTERN in str(err.value)


def test_find_files_no_match(tmp_path: Path) -> None:
    write(tmp_path, "video_features_basic.csv", "video_id\n")
    with pytest.raises(FileNotFoundError) as err:
        find_files(tmp_path, LOG_PATTERN)
    assert str(tmp_path) in str(err.value)
    assert LOG_PATTERN in str(err.value)
    assert "does not exist" not in str(err.value)


def test_read_dir_concatenates_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "log_standard_2.csv", f"{HEADER}\n{ROW2}\n")
    write(tmp_path, "log_standard_1.csv", f"{HEADER}\n{ROW}\n\n{ROW2}\n")
    write(tmp_path, "log_standard_3.csv", f"{HEADER}\n")
    raw = read_kuairand_dir(tmp_path, LOG_PATTERN, LOG_COLUMNS)
    assert raw.index.tolist() == [0, 1, 2]
    assert raw["source_file"].tolist() == ["log_standard_1.csv"] * 2 + ["log_standard_2.csv"]
    assert raw["source_line"].tolist() == [2, 4, 2]
    assert raw["user_id"].tolist() == ["0", "1", "1"]


def test_read_dir_error_names_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "log_standard_1.csv", f"{HEADER}\n{ROW}\n")
    write(tmp_path, "log_standard_2.csv", f"{HEADER}\n{ROW}\n{ROW[:10]}")
    with pytest.raises(KuaiRandFormatError, match=r"log_standard_2\.csv.*line 3"):
        read_kuairand_dir(tmp_path, LOG_PATTERN, LOG_COLUMNS)


def test_dataset_save_then_load_round_trip(tmp_path: Path) -> None:
    dataset = KuaiRandCSVDataset(
        str(tmp_path / "sim"), LOG_PATTERN, columns="log", save_name="log_standard_s.csv"
    )
    assert not dataset.exists()
    source = write(tmp_path, "log_standard_src.csv", f"{HEADER}\n{ROW}\n{ROW2}\n")
    data = read_csv_strict(source, LOG_COLUMNS)
    dataset.save(data[list(reversed(data.columns))])  # extra source columns and order ignored
    assert dataset.exists()
    assert (tmp_path / "sim" / "log_standard_s.csv").read_text().splitlines() == [HEADER, ROW, ROW2]
    loaded = dataset.load()
    assert loaded[LOG_COLUMNS].equals(data[LOG_COLUMNS])
    assert loaded["source_file"].tolist() == ["log_standard_s.csv"] * 2


def test_dataset_without_save_name_is_read_only(tmp_path: Path) -> None:
    dataset = KuaiRandCSVDataset(path=str(tmp_path), pattern=LOG_PATTERN, columns="log")
    with pytest.raises(DatasetError, match="no save_name"):
        dataset.save(pd.DataFrame({c: ["0"] for c in LOG_COLUMNS}))


def test_dataset_save_refuses_missing_columns(tmp_path: Path) -> None:
    dataset = KuaiRandCSVDataset(
        path=str(tmp_path), pattern=LOG_PATTERN, columns="log", save_name="log_standard_s.csv"
    )
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['tab'\]"):
        dataset.save(pd.DataFrame({c: ["0"] for c in LOG_COLUMNS if c != "tab"}))


def test_dataset_rejects_bad_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="columns must be one of"):
        KuaiRandCSVDataset(path=str(tmp_path), pattern=LOG_PATTERN, columns="logs")
    with pytest.raises(ValueError, match="does not match pattern"):
        KuaiRandCSVDataset(
            path=str(tmp_path), pattern=LOG_PATTERN, columns="log", save_name="sim.csv"
        )


def test_dataset_load_of_missing_directory_names_it(tmp_path: Path) -> None:
    dataset = KuaiRandCSVDataset(path=str(tmp_path / "absent"), pattern=LOG_PATTERN, columns="log")
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="absent.*does not exist"):
        dataset.load()
    assert dataset._describe()["pattern"] == LOG_PATTERN
