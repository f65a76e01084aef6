"""Where the Spark path reads and writes: a local path or a URI that Spark and fsspec both read.

On one machine every path is local. On a cluster the raw logs and the tables live on shared
storage (``s3a://bucket/...``, ``gs://...``, ``abfss://...``, ``hdfs://...``): Spark's executors
read and write them through Hadoop, while the driver's own small reads (a file's header, the
list of part files, the merge into one Parquet file) go through fsspec, Kedro's file-system
layer, with the same URI (fsspec knows ``s3a`` as an alias of ``s3``; the protocol's package,
such as ``s3fs`` or ``gcsfs``, must be installed on the driver).
"""

from __future__ import annotations

import os
import posixpath
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import split_protocol, url_to_fs

from labelcraft.kuairand.reader import missing_directory_error, no_match_error

LOCAL_PROTOCOLS = ("file", "local")


@dataclass(frozen=True)
class Location:
    """One file or folder: `path` as its fsspec file system `fs` names it (absolute when local),
    and `spark`, the URI Spark reads: `prefix` + `path` (``file://`` + the absolute path when
    local, since on a cluster a path without protocol means the cluster's default file system;
    ``s3a://``, ``hdfs://namenode:8020`` ... as the URI was given otherwise)."""

    prefix: str
    path: str
    fs: fsspec.AbstractFileSystem = field(compare=False, repr=False)

    @classmethod
    def of(cls, where: str | Path, storage_options: dict[str, Any] | None = None) -> Location:
        """The location of a local path or URI; `storage_options` go to the fsspec file
        system (credentials; none are needed for local files)."""
        text = str(where).rstrip("/") or "/"
        protocol, local = split_protocol(text)
        if protocol in (None, *LOCAL_PROTOCOLS):
            return cls("file://", os.path.abspath(local), fsspec.filesystem("file"))
        fs, path = url_to_fs(text, **(storage_options or {}))
        prefix = text[:-len(path)] if path and text.endswith(path) else f"{protocol}://"
        return cls(prefix, path, fs)

    @property
    def is_local(self) -> bool:
        return self.prefix == "file://"

    @property
    def spark(self) -> str:
        return self.prefix + self.path

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> Location:
        return Location(self.prefix, posixpath.dirname(self.path), self.fs)

    def child(self, name: str) -> Location:
        return Location(self.prefix, posixpath.join(self.path, name), self.fs)

    def temporary_sibling(self) -> Location:
        """A hidden, unique name in the same folder (``.<name>.<hex>.tmp``), for a write that a
        move then puts in place."""
        return self.parent.child(f".{self.name}.{uuid.uuid4().hex}.tmp")

    def __str__(self) -> str:
        """The path as messages show it: the local path, or the URI."""
        return self.path if self.is_local else self.spark


def find_files(directory: Location, pattern: str) -> list[Location]:
    """Files of `directory` matching the glob `pattern`, sorted by name (`reader.find_files`
    on any file system; the same FileNotFoundError messages)."""
    if not directory.fs.isdir(directory.path):
        raise missing_directory_error(directory, pattern)
    found = directory.fs.glob(posixpath.join(directory.path, pattern), detail=True)
    files = sorted((Location(directory.prefix, path, directory.fs)
                    for path, info in found.items() if info["type"] == "file"),
                   key=lambda location: location.name)
    if not files:
        raise no_match_error(directory, pattern)
    return files
