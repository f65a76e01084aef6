"""Kedro dataset: one Parquet table file that a Spark or a pandas node may save."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.pandas import ParquetDataset

from labelcraft.spark import active_session, is_spark_frame
from labelcraft.spark.parquet import write_single_parquet
from labelcraft.spark.schemas import TABLES

logger = logging.getLogger(__name__)

LOAD_AS = ("pandas", "spark")


class SparkParquetDataset(AbstractDataset[Any, Any]):
    """The Parquet file of the project table `table` (a key of `schemas.TABLES`) at `filepath`.

    save: a Spark DataFrame is written by `spark.parquet.write_single_parquet`: sorted by the
    table's order columns, merged into one file with the table's exact dtypes (what the pandas
    path writes at the same path). A pandas DataFrame must already have those columns and
    dtypes; it is written by kedro-datasets' ``pandas.ParquetDataset``.
    load: ``load_as="pandas"`` gives the pandas frame [N, C] (``pandas.ParquetDataset``),
    ``load_as="spark"`` a Spark DataFrame over the file (``_metadata.row_index`` is the row).

    Example catalog entry::

        kuairand.interactions:
          type: labelcraft.datasets.SparkParquetDataset
          filepath: data/02_intermediate/kuairand/interactions.parquet
          table: interactions
          load_as: spark
    """

    def __init__(
        self,
        filepath: str,
        table: str,
        load_as: str = "pandas",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if table not in TABLES:
            raise ValueError(f"table must be one of {sorted(TABLES)}, got {table!r}")
        if load_as not in LOAD_AS:
            raise ValueError(f"load_as must be one of {list(LOAD_AS)}, got {load_as!r}")
        if "://" in filepath and not filepath.startswith("file://"):
            raise ValueError(f"SparkParquetDataset writes local files only, got {filepath!r}")
        local = filepath.removeprefix("file://")
        self._filepath = Path(local)
        self._protocol = None  # local file: read by the provenance hook
        self._table = table
        self._load_as = load_as
        self._pandas = ParquetDataset(filepath=local)
        self.metadata = metadata

    def load(self) -> Any:
        if self._load_as == "pandas":
            return self._pandas.load()
        return active_session().read.parquet(str(self._filepath.resolve()))

    def save(self, data: Any) -> None:
        schema = TABLES[self._table]
        if is_spark_frame(data):
            write_single_parquet(data, self._filepath, schema, self._label())
            return
        if not isinstance(data, pd.DataFrame):
            raise DatasetError(f"{self._label()}: cannot save a {type(data).__name__}; "
                               "expected a Spark or a pandas DataFrame")
        expected = schema.empty_frame().dtypes
        if list(data.columns) != list(expected.index) or not data.dtypes.equals(expected):
            found = {c: str(t) for c, t in data.dtypes.items()}
            raise DatasetError(
                f"{self._label()}: the pandas frame's columns and dtypes {found} differ from the "
                f"table's {({c: str(t) for c, t in expected.items()})}"
            )
        self._pandas.save(data)
        logger.info("wrote %d rows of %s to %s (pandas)", len(data), self._table, self._filepath)

    def _label(self) -> str:
        return f"table {self._table!r} ({self._filepath})"

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "table": self._table, "load_as": self._load_as}
