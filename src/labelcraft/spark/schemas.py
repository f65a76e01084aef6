"""The pandas dtypes and row order of every table the Spark path writes as Parquet.

A Spark frame saved as table ``t`` is written with exactly ``TABLES[t].dtypes`` (in that column
order), so that ``pd.read_parquet`` gives the frame the pandas path writes, nullable ``Int64``
included. Column names and dtypes come from the pandas modules' constants where they exist;
``tests/spark/test_schemas.py`` checks every table against the pandas path's own output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from labelcraft.features.feedback import FEEDBACK_COLUMNS
from labelcraft.features.history_feedback import HISTORY_FEEDBACK_COLUMNS
from labelcraft.kuairand.schema import (
    LOG_COLUMNS,
    LOG_INT_TYPES,
    SOURCE_COLUMNS,
    VIDEO_ATTRIBUTE_COLUMNS,
)

_STR = pd.api.types.pandas_dtype("str")
_NULLABLE_INT64 = pd.Int64Dtype()
_I8, _I16, _I32, _I64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


@dataclass(frozen=True)
class TableSchema:
    """One output table: `dtypes` (column -> pandas dtype, in file order) and `order`, the
    columns of the Spark frame that give the row order (ascending, ties impossible). Order
    columns that are not in `dtypes` are helper columns: sorted on, then dropped."""

    dtypes: dict[str, np.dtype | pd.api.extensions.ExtensionDtype]
    order: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return list(self.dtypes)

    def empty_frame(self) -> pd.DataFrame:
        """A frame [0, C] with exactly these dtypes."""
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in self.dtypes.items()})

    def arrow_schema(self, num_rows: int = 0) -> pa.Schema:
        """The Arrow schema pandas writes for such a frame of `num_rows` rows, with its
        ``pandas`` metadata (a RangeIndex 0..num_rows-1, stored as metadata only)."""
        schema = pa.Schema.from_pandas(self.empty_frame())
        metadata = schema.pandas_metadata
        (index,) = metadata["index_columns"]
        index["stop"] = num_rows
        return schema.with_metadata({**schema.metadata, b"pandas": json.dumps(metadata).encode()})


_VIDEO_ATTRIBUTE_TYPES = dict(
    zip(VIDEO_ATTRIBUTE_COLUMNS, (_NULLABLE_INT64, _NULLABLE_INT64, _F64), strict=True)
)


def _vocab(id_column: str, idx_column: str) -> TableSchema:
    return TableSchema({id_column: _I64, idx_column: _I32}, order=(id_column,))


_EVAL_GROUPS = TableSchema(
    {"group": _I32, "user_idx": _I32, "user_id": _I64, "row": _I64}, order=("row",)
)

TABLES: dict[str, TableSchema] = {
    "interactions": TableSchema(
        {**LOG_INT_TYPES, **_VIDEO_ATTRIBUTE_TYPES}, order=tuple(SOURCE_COLUMNS)
    ),
    "rejected_rows": TableSchema(
        {**dict.fromkeys(LOG_COLUMNS, _STR), SOURCE_COLUMNS[0]: _STR, SOURCE_COLUMNS[1]: _I64,
         "reason": _STR},
        order=tuple(SOURCE_COLUMNS),
    ),
    "vocab_users": _vocab("user_id", "user_idx"),
    "vocab_videos": _vocab("video_id", "video_idx"),
    "vocab_tags": _vocab("tag", "tag_idx"),
    "vocab_authors": _vocab("author_id", "author_idx"),
    "duration_buckets": TableSchema(
        {"bucket": _I16, "lower_s": _F64, "upper_s": _F64}, order=("bucket",)
    ),
    "model_inputs": TableSchema(
        {"user_id": _I64, "video_id": _I64, "user_idx": _I32, "video_idx": _I32,
         "duration_bucket": _I16, "tag_idx": _I32, "author_idx": _I32, "split": _I8,
         "day": _I32, "time_ms": _I64, "timeline_start": _I64, "history_end": _I64,
         **dict.fromkeys(HISTORY_FEEDBACK_COLUMNS, _I8)},
        order=("row",),
    ),
    "feedback": TableSchema(dict.fromkeys(FEEDBACK_COLUMNS, _F32), order=("row",)),
    "eval_groups_valid": _EVAL_GROUPS,
    "eval_groups_test": _EVAL_GROUPS,
}
"""Every table the Spark path writes, by the name a `SparkParquetDataset` gives as `table`.

Row orders: interactions and rejected rows in input order (file name, line); the model inputs,
feedback and eval groups in timeline order, via the global timeline row ``row`` (a column of the
eval groups, a helper column of the other two); vocabularies by id; buckets by number."""
