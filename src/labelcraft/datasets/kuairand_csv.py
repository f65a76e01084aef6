"""Kedro dataset over a directory of KuaiRand CSV files (strict reader, all-string frames)."""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from labelcraft.kuairand.reader import find_files, read_kuairand_dir
from labelcraft.kuairand.schema import COLUMN_SETS

logger = logging.getLogger(__name__)


class KuaiRandCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """All files of `path` matching `pattern`, read as one string DataFrame.

    load: [N, C + 2] DataFrame of strings (C = expected columns of `columns`) plus
    `source_file`/`source_line`, files in name order (see `read_kuairand_dir`).
    save: writes the expected columns (in schema order, no index) to `path / save_name`,
    creating the directory; `save_name` must match `pattern` so that load reads it back.

    Example catalog entry::

        kuairand_logs:
          type: labelcraft.datasets.KuaiRandCSVDataset
          path: ${globals:kuairand_dir}
          pattern: log_standard_*.csv
          columns: log
    """

    def __init__(
        self,
        path: str,
        pattern: str,
        columns: str,
        save_name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if columns not in COLUMN_SETS:
            raise ValueError(f"columns must be one of {sorted(COLUMN_SETS)}, got {columns!r}")
        if save_name is not None and not fnmatch.fnmatch(save_name, pattern):
            raise ValueError(
                f"save_name {save_name!r} does not match pattern {pattern!r}: "
                "a saved file would not be loaded back"
            )
        self._path = Path(path)
        self._filepath = self._path / save_name if save_name is not None else None  # save target
        self._pattern = pattern
        self._columns = columns
        self._save_name = save_name
        self.metadata = metadata

    def source_files(self) -> list[Path]:
        """The files a load reads, in name order (FileNotFoundError when none match)."""
        return find_files(self._path, self._pattern)

    def load(self) -> pd.DataFrame:
        return read_kuairand_dir(self._path, self._pattern, COLUMN_SETS[self._columns])

    def save(self, data: pd.DataFrame) -> None:
        if self._save_name is None:
            raise DatasetError(
                f"KuaiRandCSVDataset({self._path}, {self._pattern!r}) has no save_name: "
                "it is read-only"
            )
        expected = COLUMN_SETS[self._columns]
        missing = [c for c in expected if c not in data.columns]
        if missing:
            raise DatasetError(f"cannot save {self._save_name}: missing column(s) {missing}")
        self._path.mkdir(parents=True, exist_ok=True)
        target = self._path / self._save_name
        data[expected].to_csv(target, index=False)
        logger.info("wrote %d rows to %s", len(data), target)

    def _exists(self) -> bool:
        try:
            find_files(self._path, self._pattern)
        except FileNotFoundError:
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "pattern": self._pattern,
            "columns": self._columns,
            "save_name": self._save_name,
        }
