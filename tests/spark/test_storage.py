"""Locations of the Spark path: local paths and URIs, file listing on any fsspec file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labelcraft.kuairand.reader import find_files as find_local_files
from labelcraft.spark.storage import Location, find_files


def test_local_path_and_file_uri_are_one_location(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = Location.of("data/x.parquet")
    assert relative == Location.of(f"file://{tmp_path}/data/x.parquet")
    assert relative.is_local and relative.path == os.path.join(tmp_path, "data", "x.parquet")
    assert relative.spark == f"file://{tmp_path}/data/x.parquet"
    assert str(relative) == relative.path  # messages show the local path as it is
    assert relative.name == "x.parquet" and relative.parent == Location.of(tmp_path / "data")
    hidden = relative.temporary_sibling()
    assert hidden.parent == relative.parent and hidden.name.startswith(".x.parquet.")
    assert hidden != relative.temporary_sibling()


def test_remote_location_keeps_its_protocol_for_spark() -> None:
    location = Location.of("memory://bucket/tables/feedback.parquet")
    assert not location.is_local
    assert location.path == "/bucket/tables/feedback.parquet"  # fsspec's memory paths
    assert location.spark == str(location) == "memory://bucket/tables/feedback.parquet"
    assert location.parent.child("x").spark == "memory://bucket/tables/x"


def test_find_files_sorts_by_name_and_names_what_is_missing(tmp_path: Path) -> None:
    for name in ("log_b.csv", "log_a.csv", "other.csv"):
        (tmp_path / name).write_text("a\n")
    (tmp_path / "log_dir.csv").mkdir()  # a folder matching the pattern is not a file
    local = find_files(Location.of(tmp_path), "log_*.csv")
    assert [Path(file.path) for file in local] == find_local_files(tmp_path, "log_*.csv")
    remote = Location.of("memory://find-files-test")
    for name in ("log_2.csv", "log_1.csv"):
        remote.fs.pipe(remote.child(name).path, b"a\n")
    assert [file.name for file in find_files(remote, "log_*.csv")] == ["log_1.csv", "log_2.csv"]
    for directory, pattern in ((tmp_path / "absent", "log_*.csv"), (tmp_path, "nope_*.csv"),
                               ("memory://find-files-test/absent", "log_*.csv")):
        location = Location.of(directory)
        with pytest.raises(FileNotFoundError) as ours:
            find_files(location, pattern)
        if location.is_local:
            with pytest.raises(FileNotFoundError) as pandas_error:
                find_local_files(directory, pattern)
            assert str(ours.value) == str(pandas_error.value)
        else:
            assert "memory://find-files-test/absent does not exist" in str(ours.value)
