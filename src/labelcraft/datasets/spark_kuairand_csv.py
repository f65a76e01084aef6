"""Kedro dataset over a directory of KuaiRand CSV files, read by Spark (strict, all strings)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from labelcraft.kuairand.schema import COLUMN_SETS
from labelcraft.spark import active_session
from labelcraft.spark.storage import Location, find_files

logger = logging.getLogger(__name__)


class SparkKuaiRandCSVDataset(AbstractDataset[Any, Any]):
    """All files of `path` (a local folder, or a URI such as ``s3a://bucket/KuaiRand-27K/data``
    on a cluster; `credentials` are fsspec's storage options for the driver's reads) matching
    `pattern`, read as one string Spark DataFrame (read-only).

    load: Spark frame [N, C + 2] of strings (C = expected columns of `columns`) plus
    `source_file`/`source_line`, the rows `KuaiRandCSVDataset` loads (unordered; see
    `labelcraft.spark.reader.read_kuairand_dir_spark`). Uses the active Spark session.

    Example catalog entry::

        kuairand.raw_logs:
          type: labelcraft.datasets.SparkKuaiRandCSVDataset
          path: ${globals:kuairand_dir}
          pattern: log_standard_*.csv
          columns: log
    """

    def __init__(
        self,
        path: str,
        pattern: str,
        columns: str,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if columns not in COLUMN_SETS:
            raise ValueError(f"columns must be one of {sorted(COLUMN_SETS)}, got {columns!r}")
        self._path = path
        self._storage_options = credentials
        self._pattern = pattern
        self._columns = columns
        self.metadata = metadata

    def _location(self) -> Location:
        return Location.of(self._path, self._storage_options)

    def source_files(self) -> list[Path]:
        """The local files a load reads, in name order (FileNotFoundError when none match);
        none for a remote folder, whose files the provenance check does not hash."""
        location = self._location()
        if not location.is_local:
            logger.info("Provenance of the raw files in %s not checked: remote storage",
                        location)
            return []
        return [Path(file.path) for file in find_files(location, self._pattern)]

    def load(self) -> Any:
        from labelcraft.spark.reader import read_kuairand_dir_spark  # noqa: PLC0415 (pyspark)

        return read_kuairand_dir_spark(active_session(), self._path, self._pattern,
                                       COLUMN_SETS[self._columns], self._storage_options)

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"SparkKuaiRandCSVDataset({self._path}, {self._pattern!r}) is read-only"
        )

    def _exists(self) -> bool:
        try:
            find_files(self._location(), self._pattern)
        except FileNotFoundError:
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "pattern": self._pattern, "columns": self._columns}
