"""The Spark path's table schemas equal the dtypes the pandas path writes (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from labelcraft.kuairand.reader import read_kuairand_dir
from labelcraft.kuairand.schema import LOG_COLUMNS, LOG_PATTERN, VIDEO_COLUMNS, VIDEO_PATTERN
from labelcraft.kuairand.validation import ingest
from labelcraft.spark.schemas import TABLES
from tests.synthetic_features import tiny_features
from tests.test_kuairand_validation import log_line, write_dir


def _assert_schema(table: str, frame: pd.DataFrame) -> None:
    expected = TABLES[table].empty_frame()
    assert list(frame.columns) == list(expected.columns), table
    assert frame.dtypes.to_dict() == expected.dtypes.to_dict(), table
    written = pa.Schema.from_pandas(frame)  # what pandas writes, pandas metadata included
    assert TABLES[table].arrow_schema(len(frame)).equals(written, check_metadata=True), table


def test_ingestion_tables_match_the_pandas_path(tmp_path: Path) -> None:
    directory = write_dir(tmp_path, {"log_standard_1.csv": [log_line(), log_line(),
                                                            log_line(video_id=2)]})
    interactions, rejected, _ = ingest(read_kuairand_dir(directory, LOG_PATTERN, LOG_COLUMNS),
                                       read_kuairand_dir(directory, VIDEO_PATTERN, VIDEO_COLUMNS))
    assert len(rejected) == 1 and interactions["first_tag"].isna().any()
    _assert_schema("interactions", interactions)
    _assert_schema("rejected_rows", rejected)


def test_feature_tables_match_the_pandas_path() -> None:
    features = tiny_features()
    for table in TABLES:
        if table not in ("interactions", "rejected_rows"):
            _assert_schema(table, getattr(features, table))

