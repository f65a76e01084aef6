"""Kedro dataset: one Parquet table file that a Spark or a pandas node may save."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_protocol_and_path
from kedro_datasets.pandas import ParquetDataset

from labelcraft.spark import active_session, is_spark_frame
from labelcraft.spark.parquet import write_single_parquet
from labelcraft.spark.schemas import TABLES
from labelcraft.spark.storage import Location

logger = logging.getLogger(__name__)

LOAD_AS = ("pandas", "spark")


class SparkParquetDataset(AbstractDataset[Any, Any]):
    """The Parquet file of the project table `table` (a key of `schemas.TABLES`) at `filepath`,
    a local path or a URI that Spark and fsspec both read (``s3a://bucket/...`` on a cluster;
    `credentials` are fsspec's storage options, as in kedro-datasets).

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
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if table not in TABLES:
            raise ValueError(f"table must be one of {sorted(TABLES)}, got {table!r}")
        if load_as not in LOAD_AS:
            raise ValueError(f"load_as must be one of {list(LOAD_AS)}, got {load_as!r}")
        self._storage_options = credentials
        self._protocol, path = get_protocol_and_path(filepath)
        self._filepath = PurePosixPath(path)  # with `_protocol`, as kedro-datasets keep them
        self._target = filepath
        self._table = table
        self._load_as = load_as
        self._pandas = ParquetDataset(filepath=filepath, credentials=credentials)
        self.metadata = metadata

    def load(self) -> Any:
        if self._load_as == "pandas":
            return self._pandas.load()
        return active_session().read.parquet(self._location().spark)

    def save(self, data: Any) -> None:
        schema = TABLES[self._table]
        if is_spark_frame(data):
            write_single_parquet(data, self._target, schema, self._label(),
                                 self._storage_options)
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

    def _location(self) -> Location:
        return Location.of(self._target, self._storage_options)

    def _label(self) -> str:
        return f"table {self._table!r} ({self._target})"

    def _exists(self) -> bool:
        location = self._location()
        return location.fs.isfile(location.path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._target, "protocol": self._protocol, "table": self._table,
                "load_as": self._load_as}
