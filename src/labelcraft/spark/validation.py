"""The Spark twin of `labelcraft.kuairand.validation`: typing and row-level validation of raw
KuaiRand Spark frames into the `interactions` and `rejected_rows` tables.

Same rules, reasons, messages and report as the pandas `ingest` (built from that module's
patterns, reason list and message builders). How the rules map to Spark (Spark 4, ANSI):
- a value is parsed when it matches the pandas pattern (anchored with ``\\z``), then
  `try_cast` to the dtype's Spark type: a null result of a non-empty string is a bad value
  (text, a float in an int column, out of the dtype's range, int64 overflow);
- the distinct dates go through the pandas date parse (`log_day_ms`) in a `pandas_udf`, joined
  back by date (pandas also accepts 7-digit dates such as ``2022425``);
- ``time_ms + 8 h`` and the stamp difference use `try_add`/`try_subtract`: an overflow (null)
  counts as far, which is what numpy's wrapping gives for non-negative ``time_ms``;
- the exact duplicates are the rows after the first, by (source_file, source_line), of a window
  partitioned by the 19 typed values (rows that passed the other rules only).
Only small aggregates and the first offending rows reach the driver.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from labelcraft.kuairand.rates import RATE_FLAGS, SHORT_PLAY_MS
from labelcraft.kuairand.reader import MAX_REPORTED, KuaiRandFormatError
from labelcraft.kuairand.schema import (
    DATE_TIME_TOLERANCE_MS,
    FLAG_COLUMNS,
    LOG_COLUMNS,
    LOG_INT_TYPES,
    LOG_UTC_OFFSET_MS,
    MAX_PLAY_TIME_MS,
    NON_NEGATIVE_COLUMNS,
    SOURCE_COLUMNS,
    TAB_VALUES,
    VIDEO_ATTRIBUTE_COLUMNS,
    VIDEO_TYPES,
)
from labelcraft.kuairand.validation import (
    FLOAT_PATTERN,
    INT_PATTERN,
    REJECTION_REASONS,
    TAG_LIST_PATTERN,
    WHITESPACE,
    anchored,
    bad_tags_message,
    bad_values_problem,
    empty_user_id_message,
    format_offenders,
    log_day_ms,
    log_report,
    report_from_counts,
    video_id_problems,
)
from labelcraft.spark.parquet import SPARK_TYPES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

_FILE, _LINE = SOURCE_COLUMNS
RAW_PREFIX = "_raw_"
"""`parse_columns_spark` keeps the original string of a parsed column c as ``_raw_<c>``."""
_REASON = "reason"


def spark_type(dtype: np.dtype) -> str:
    """The Spark SQL type of a numpy dtype (tinyint .. bigint, double)."""
    return SPARK_TYPES[pa.from_numpy_dtype(np.dtype(dtype))]


def files_label_spark(raw: DataFrame) -> str:
    """Comma-separated names of the files of `raw` (in name order, the reader's order)."""
    names = sorted(row[_FILE] for row in raw.select(_FILE).distinct().collect())
    return ", ".join(names) or "<no rows>"


def _offenders(raw: DataFrame, bad: Column, shown: Column | None) -> str:
    """`file:line='value'` of the first MAX_REPORTED rows of `raw` where `bad` holds, in file and
    line order; `shown` None shows what pandas shows for the typed value of an empty field."""
    value = F.lit(None) if shown is None else shown
    rows = (raw.filter(bad).select(_FILE, _LINE, value.alias("_shown"))
            .orderBy(_FILE, _LINE).limit(MAX_REPORTED).collect())
    values = ([row["_shown"] for row in rows] if shown is not None
              else pd.Series([pd.NA] * len(rows), dtype="Int64").to_numpy())
    return format_offenders([r[_FILE] for r in rows], [r[_LINE] for r in rows], values)


def _parsed(raw: Column, dtype: np.dtype) -> Column:
    """`raw` (string) as `dtype`'s Spark type where it matches the pandas pattern, else null."""
    pattern = INT_PATTERN if np.issubdtype(dtype, np.integer) else FLOAT_PATTERN
    return F.when(raw.rlike(anchored(pattern)), raw.try_cast(spark_type(dtype)))


def parse_columns_spark(raw: DataFrame, types: Mapping[str, np.dtype]) -> DataFrame:
    """`raw` [N, ...] (strings + source_file/source_line) with the columns of `types` parsed.

    Returns a frame [N, ...]: each column c of `types` as the Spark type of its dtype (null for
    ""), its original string as ``_raw_<c>``, the other columns unchanged. Raises
    KuaiRandFormatError with `parse_columns`' message when a column is missing or a non-empty
    value is not a valid value of its type (one aggregation; one query per bad column).
    """
    missing = [c for c in [*types, *SOURCE_COLUMNS] if c not in raw.columns]
    if missing:
        raise KuaiRandFormatError(f"{files_label_spark(raw)}: missing column(s) {missing}")
    bad = {c: (F.col(c) != "") & _parsed(F.col(c), t).isNull() for c, t in types.items()}
    counts = raw.agg(*[F.count_if(flag).alias(c) for c, flag in bad.items()]).first()
    problems = [bad_values_problem(c, counts[c], types[c], _offenders(raw, bad[c], F.col(c)))
                for c in types if counts[c]]
    if problems:
        raise KuaiRandFormatError(f"{files_label_spark(raw)}: " + "; ".join(problems))
    others = [F.col(c) for c in raw.columns if c not in types]
    return raw.select(*[_parsed(F.col(c), t).alias(c) for c, t in types.items()], *others,
                      *[F.col(c).alias(RAW_PREFIX + c) for c in types])


def parse_videos_spark(raw_videos: DataFrame) -> DataFrame:
    """Video attributes [V, 4] like `parse_videos`: video_id (bigint), author_id (bigint,
    nullable), first_tag (bigint: first int of the `tag` list, null if empty or beyond int64),
    video_duration_ms (double, nullable). Raises KuaiRandFormatError like `parse_videos`."""
    typed = parse_columns_spark(raw_videos, VIDEO_TYPES)
    tag, video_id = F.col("tag"), F.col("video_id")
    bad_tags = (tag != "") & ~tag.rlike(TAG_LIST_PATTERN)
    repeated = video_id.isNotNull() & (F.count(F.lit(1)).over(Window.partitionBy(video_id)) > 1)
    flagged = typed.select("*", bad_tags.alias("_bad_tag"), video_id.isNull().alias("_empty"),
                           repeated.alias("_repeated"))
    counts = flagged.agg(*[F.count_if(c).alias(c) for c in ("_bad_tag", "_empty", "_repeated")]
                         ).first()
    if counts["_bad_tag"]:
        raise KuaiRandFormatError(bad_tags_message(
            files_label_spark(raw_videos), counts["_bad_tag"],
            _offenders(flagged, F.col("_bad_tag"), tag)))
    empty = _offenders(flagged, F.col("_empty"), None) if counts["_empty"] else None
    shared = (_offenders(flagged, F.col("_repeated"), F.col(RAW_PREFIX + "video_id"))
              if counts["_repeated"] else "")
    problems = video_id_problems(empty, counts["_repeated"], shared)
    if problems:
        raise KuaiRandFormatError(f"{files_label_spark(raw_videos)}: column 'video_id': "
                                  + "; ".join(problems))
    first_tag = F.regexp_extract(tag, rf"^{WHITESPACE}*({INT_PATTERN})", 1).try_cast("bigint")
    return typed.select("video_id", "author_id", first_tag.alias("first_tag"),
                        F.col("video_duration").alias("video_duration_ms"))


def parse_user_ids_spark(raw_users: DataFrame) -> DataFrame:
    """The user ids [U] (one bigint column ``user_id``) of the raw user file(s); raises
    KuaiRandFormatError like `parse_user_ids`."""
    typed = parse_columns_spark(raw_users, {"user_id": np.dtype(np.int64)})
    empty = F.col("user_id").isNull()
    if typed.filter(empty).limit(1).count():
        raise KuaiRandFormatError(empty_user_id_message(
            files_label_spark(raw_users), _offenders(typed, empty, None)))
    return typed.select("user_id")


@F.pandas_udf("bigint")
def _day_ms(date: pd.Series) -> pd.Series:
    """`log_day_ms` of a batch of (non-null) dates."""
    return log_day_ms(date)


def _plausibility_rules(day_ms: Column) -> list[Column]:
    """The pandas plausibility rules (same order) given each row's `day_ms` (null: no day)."""
    date, hourmin, time_ms = F.col("date"), F.col("hourmin"), F.col("time_ms")
    bad_date = date.isNotNull() & day_ms.isNull()
    bad_hour = (hourmin % 100 != 0) | (hourmin < 0) | (hourmin > 2300)
    checkable = (~bad_date & ~bad_hour & day_ms.isNotNull() & time_ms.isNotNull()
                 & hourmin.isNotNull())
    stamp_ms = day_ms + hourmin.cast("bigint") * (3_600_000 // 100)  # hourmin on the hour
    gap = F.try_subtract(stamp_ms, F.try_add(time_ms, F.lit(LOG_UTC_OFFSET_MS)))
    far = checkable & (gap.isNull() | (gap > DATE_TIME_TOLERANCE_MS)
                       | (gap < -DATE_TIME_TOLERANCE_MS))
    return [bad_date, bad_hour, ~F.col("tab").isin(*TAB_VALUES),
            F.col("play_time_ms") > MAX_PLAY_TIME_MS, far]


def _first_reason(known_video: Column, day_ms: Column) -> Column:
    """The first violated rule's reason (REJECTION_REASONS order, before the duplicate rule),
    null for a row that passes."""
    rules = [F.col(c).isNull() for c in LOG_COLUMNS]
    rules += [F.col(c) < 0 for c in NON_NEGATIVE_COLUMNS]
    rules += [~F.col(c).isin(0, 1) for c in FLAG_COLUMNS]
    rules += _plausibility_rules(day_ms)
    rules.append(F.col("video_id").isNotNull() & known_video.isNull())
    reason = None
    for label, violated in zip(REJECTION_REASONS[:-1], rules, strict=True):
        reason = (F.when(violated, label) if reason is None
                  else reason.when(violated, label))
    return reason


def _classified(typed: DataFrame, videos: DataFrame) -> DataFrame:
    """`typed` logs with the video attributes and ``reason`` (null: kept), checkpointed."""
    days = (typed.select("date").where(F.col("date").isNotNull()).distinct()
            .select("date", _day_ms("date").alias("_day_ms")))
    known = videos.select("*", F.lit(True).alias("_known"))
    joined = (typed.join(F.broadcast(days), "date", "left")
              .join(known, "video_id", "left"))
    first = joined.select("*", _first_reason(F.col("_known"), F.col("_day_ms")).alias("_first"))
    copies = Window.partitionBy(F.col("_first").isNull(), *LOG_COLUMNS).orderBy(_FILE, _LINE)
    duplicate = F.when(F.row_number().over(copies) > 1, REJECTION_REASONS[-1])
    reason = F.coalesce(F.col("_first"), duplicate).alias(_REASON)
    columns = [c for c in joined.columns if c not in ("_day_ms", "_known")]
    return first.select(*columns, reason).localCheckpoint()


def _report_spark(classified: DataFrame) -> dict[str, Any]:
    """`report_from_counts` of the classified rows (one aggregation: rows and first line by
    file and reason)."""
    counts = classified.groupBy(_FILE, _REASON).agg(
        F.count(F.lit(1)).alias("n"), F.min(_LINE).alias("first")).collect()
    files: dict[str, list[int]] = {}  # file -> [rows, rejected]
    reasons: dict[str, list[Any]] = {}  # reason -> [rows, (file, line) of the first]
    for row in sorted(counts, key=lambda r: (r[_FILE], r["first"])):
        rejected = row["n"] if row[_REASON] is not None else 0
        totals = files.setdefault(row[_FILE], [0, 0])
        totals[0] += row["n"]
        totals[1] += rejected
        if rejected:
            reasons.setdefault(row[_REASON], [0, (row[_FILE], row["first"])])[0] += rejected
    by_reason = sorted(reasons.items(), key=lambda item: (-item[1][0], item[1][1]))
    kept = sum(rows - rejected for rows, rejected in files.values())
    return report_from_counts(kept, [(reason, n) for reason, (n, _) in by_reason],
                              [(name, rows, rejected) for name, (rows, rejected) in files.items()])


def ingest_spark(
    raw_logs: DataFrame, raw_videos: DataFrame
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """Type, validate and enrich raw log rows, like `ingest`.

    raw_logs [N, 19 + 2] and raw_videos [V, 12 + 2]: string Spark frames from the Spark reader.
    Returns (unordered Spark frames, for `SparkParquetDataset`)
    - interactions [K, 22 + 2]: the kept rows, log columns as the Spark types of LOG_INT_TYPES,
      author_id (bigint), first_tag (bigint), video_duration_ms (double), plus source_file and
      source_line (the row order);
    - rejected [N - K, 22]: original strings of the 19 log columns, source_file, source_line,
      reason;
    - report: `ingest`'s report.
    """
    typed = parse_columns_spark(raw_logs, LOG_INT_TYPES)
    classified = _classified(typed, parse_videos_spark(raw_videos))
    kept = F.col(_REASON).isNull()
    interactions = classified.where(kept).select(*LOG_COLUMNS, *VIDEO_ATTRIBUTE_COLUMNS,
                                                 *SOURCE_COLUMNS)
    rejected = classified.where(~kept).select(
        *[F.col(RAW_PREFIX + c).alias(c) for c in LOG_COLUMNS], *SOURCE_COLUMNS, _REASON)
    report = _report_spark(classified)
    log_report(report)
    return interactions, rejected, report


def missing_users_spark(interactions: DataFrame, known_users: DataFrame) -> tuple[int, list[int]]:
    """The number of distinct users of `interactions` absent from `known_users` (a user_id
    column) and the first MAX_REPORTED of them, sorted."""
    missing = (interactions.select("user_id").distinct()
               .join(known_users, "user_id", "left_anti"))
    count = missing.count()
    first = missing.orderBy("user_id").limit(MAX_REPORTED).collect() if count else []
    return count, [row["user_id"] for row in first]


def interaction_rates_spark(interactions: DataFrame) -> dict[str, float]:
    """`interaction_rates` of a Spark frame of the 19 log columns (one aggregation)."""
    play = F.col("play_time_ms")

    def mean_of(condition: Column) -> Column:
        return F.avg(condition.cast("int"))

    columns = {
        **{name: F.avg(flag) for name, flag in RATE_FLAGS.items()},
        "skip_rate": mean_of(play < SHORT_PLAY_MS),
        "zero_play_rate": mean_of(play == 0),
        "comment_view_rate": mean_of(F.col("comment_stay_time") > 0),
        "mean_play_time_s": F.avg(play) / 1000.0,
        "mean_duration_s": F.avg("duration_ms") / 1000.0,
        "rows": F.count(F.lit(1)),
        "users": F.count_distinct("user_id"),
        "videos": F.count_distinct("video_id"),
        "days": F.count_distinct("date"),
    }
    row = interactions.agg(*[c.alias(name) for name, c in columns.items()]).first()
    return {name: float("nan") if row[name] is None else float(row[name]) for name in columns}
