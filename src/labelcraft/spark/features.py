"""The features stage on Spark: `build_features_spark`, equal to `features.build.build_features`.

The input is the interactions table as a Spark scan of its Parquet file (`SparkParquetDataset`
with ``load_as="spark"``): its ``_metadata.row_index`` (the pandas row position) breaks the ties
of the timeline sort, as pandas' stable sort does. Global numbers (the timeline row, vocabulary
indices, eval group numbers) come from per-partition offsets (`rowindex.with_row_index`);
per-user values from windows partitioned by user. Only small aggregates reach the driver: the
distinct dates, the duration percentiles, partition sizes and counts. The split, the bucket
edges and the feature spec are computed there by the pandas path's own functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 (Spark convention)

from labelcraft.features.build import (
    NON_NEGATIVE_COLUMNS,
    NON_NULL_COLUMNS,
    REQUIRED_COLUMNS,
    UNKNOWN_ID_COLUMNS,
    FeatureParams,
    assemble_feature_spec,
    bad_values_message,
    missing_columns_message,
)
from labelcraft.features.feedback import FEEDBACK_COLUMNS, FLAG_SOURCES
from labelcraft.features.history_feedback import (
    ACTION_FLAGS,
    HISTORY_FEEDBACK_COLUMNS,
    LONG_VIEW,
    MAX_TAB,
    PLAY,
    PLAY_RATIO_EDGES,
    SKIP,
    hourmin_message,
)
from labelcraft.features.split import (
    SPLIT_NAMES,
    TEST,
    TRAIN,
    VALID,
    SplitDays,
    invalid_dates_message,
    parse_dates,
    split_by_days,
)
from labelcraft.features.timeline import TIMELINE_ORDER
from labelcraft.features.vocab import (
    NO_TRAIN_DURATION,
    DurationBuckets,
    buckets_from_quantiles,
    quantile_levels,
)
from labelcraft.kuairand.reader import MAX_REPORTED
from labelcraft.spark.rowindex import with_row_index
from labelcraft.spark.schemas import TABLES

logger = logging.getLogger(__name__)

POSITION = "_position"
"""Helper column: the row's position in the interactions file (the stable-sort tie-break)."""

BROADCAST_MAX_IDS = 1_000_000
"""Vocabularies of up to this many ids (16 bytes each) are broadcast to the lookup joins."""

# vocabulary name -> (interactions column, vocabulary id column, index column)
_VOCABS: dict[str, tuple[str, str, str]] = {
    "users": ("user_id", "user_id", "user_idx"),
    "videos": ("video_id", "video_id", "video_idx"),
    "tags": ("first_tag", "tag", "tag_idx"),
    "authors": ("author_id", "author_id", "author_idx"),
}


@dataclass
class SparkFeatureSet:
    """The outputs of `build_features_spark`, named as in `features.build.FeatureSet`.

    The Spark frames hold the columns of their `schemas.TABLES` entry plus its helper order
    column: model_inputs and feedback carry ``row`` (bigint, the timeline row); vocabularies
    and eval groups need none. duration_buckets is the pandas table; feature_spec the dict.
    """

    model_inputs: DataFrame
    feedback: DataFrame
    vocab_users: DataFrame
    vocab_videos: DataFrame
    vocab_tags: DataFrame
    vocab_authors: DataFrame
    duration_buckets: pd.DataFrame
    eval_groups_valid: DataFrame
    eval_groups_test: DataFrame
    feature_spec: dict[str, Any] = field(default_factory=dict)


def _first_rows(frame: DataFrame, condition: Column, row: str) -> list[int]:
    """The first `MAX_REPORTED` values of column `row` among the rows meeting `condition`."""
    found = frame.filter(condition).select(row).orderBy(row).limit(MAX_REPORTED).collect()
    return [r[0] for r in found]


def _check_input(interactions: DataFrame) -> DataFrame:
    """The REQUIRED_COLUMNS of `interactions` plus POSITION (bigint); raises the ValueError of the
    pandas check (columns missing, nulls, negative times) with the first row positions."""
    missing = [c for c in REQUIRED_COLUMNS if c not in interactions.columns]
    if missing:
        raise ValueError(missing_columns_message(missing))
    frame = interactions.select(*REQUIRED_COLUMNS, F.col("_metadata.row_index").alias(POSITION))
    checks = [(c, "missing", F.col(c).isNull()) for c in NON_NULL_COLUMNS]
    checks += [(c, "negative", F.col(c) < 0) for c in NON_NEGATIVE_COLUMNS]
    counts = frame.select(*[F.count_if(cond) for _, _, cond in checks]).first()
    for (column, problem, condition), count in zip(checks, counts, strict=True):
        if count:
            raise ValueError(bad_values_message(column, problem,
                                                _first_rows(frame, condition, POSITION)))
    return frame


def _split(ordered: DataFrame, params: FeatureParams) -> tuple[Column, SplitDays]:
    """The split (tinyint column over ``date``) and the split days, by `split_by_days` of the
    distinct dates; invalid dates raise its error, with the first timeline rows."""
    dates = np.array(sorted(r[0] for r in ordered.select("date").distinct().collect()),
                     dtype=np.int64)
    bad = parse_dates(dates).isna().to_numpy()
    if bad.any():
        values = dates[bad]
        rows = _first_rows(ordered, F.col("date").isin(values.tolist()), "row")
        raise ValueError(invalid_dates_message(values[:MAX_REPORTED].tolist(), rows))
    split, days = split_by_days(dates, params.test_days, params.valid_days)
    pairs = [F.lit(x) for d, s in zip(dates.tolist(), split.tolist(), strict=True) for x in (d, s)]
    return F.try_element_at(F.create_map(*pairs), F.col("date")).cast("tinyint"), days


def _vocab(train: DataFrame, column: str, id_column: str, idx_column: str) -> DataFrame:
    """Vocabulary (id_column bigint, idx_column int 1..V) of the distinct non-null `column`
    values of `train`, by raw id."""
    ids = train.filter(F.col(column).isNotNull()).select(
        F.col(column).cast("bigint").alias(id_column)).distinct()
    vocab = with_row_index(ids, [id_column], idx_column, start=1)
    return vocab.select(id_column, F.col(idx_column).cast("int"))


def _lookup(frame: DataFrame, vocab: DataFrame, size: int, column: str, id_column: str,
            idx_column: str) -> DataFrame:
    """`frame` plus idx_column (int): the vocabulary index of `column`, 0 if unknown or null
    (a join with the `size` ids of `vocab`, broadcast up to BROADCAST_MAX_IDS)."""
    keyed = vocab.withColumnRenamed(id_column, column)
    if size <= BROADCAST_MAX_IDS:
        keyed = F.broadcast(keyed)
    return frame.join(keyed, column, "left").withColumn(
        idx_column, F.coalesce(F.col(idx_column), F.lit(0)))


@F.pandas_udf("double")
def _log1p(values: pd.Series) -> pd.Series:
    """numpy's log1p (Spark's differs by 1 ulp on some values)."""
    return pd.Series(np.log1p(values.to_numpy(np.float64, na_value=np.nan)), index=values.index)


def _duration_s() -> Column:
    """The log's duration in seconds (double; null if missing), as pandas computes it."""
    return F.col("duration_ms").cast("double") / 1000.0


def _fit_buckets(train: DataFrame, num_buckets: int) -> DurationBuckets:
    """The duration buckets of the train rows: exact Spark percentiles of numpy's log1p."""
    levels = [float(x) for x in quantile_levels(num_buckets)]
    quantiles = train.filter(F.col("duration_ms").isNotNull()).select(
        F.percentile(_log1p(_duration_s()), levels)).first()[0]
    if quantiles is None:
        raise ValueError(NO_TRAIN_DURATION)
    return buckets_from_quantiles(np.array(quantiles, dtype=np.float64), num_buckets)


def _bucket_udf(buckets: DurationBuckets) -> Any:
    """A pandas UDF: durations in seconds (double) -> `buckets.assign` (smallint)."""

    @F.pandas_udf("smallint")
    def assign(duration_s: pd.Series) -> pd.Series:
        values = duration_s.to_numpy(np.float64, na_value=np.nan)
        return pd.Series(buckets.assign(values), index=duration_s.index)

    return assign


def _feedback_columns(skip_seconds: float) -> list[Column]:
    """The FEEDBACK_COLUMNS (float) of `build_feedback`, as Spark columns."""
    play_ms, duration_ms = F.col("play_time_ms").cast("double"), F.col("duration_ms")
    skip = F.coalesce((play_ms < skip_seconds * 1000.0) & (play_ms < duration_ms.cast("double")),
                      F.lit(False))
    columns = {
        "play_time_s": (play_ms / 1000.0).cast("float"),
        "duration_s": _duration_s().cast("float"),
        **{out: F.col(src).cast("float") for out, src in FLAG_SOURCES.items()},
        "skip": skip.cast("float"),
        "profile_enter": F.col("is_profile_enter").cast("float"),
    }
    return [columns[name].alias(name) for name in FEEDBACK_COLUMNS]


def _history_columns() -> list[Column]:
    """The history feedback codes (tinyint) of `history_feedback_columns`, from the float
    feedback columns (widened to double, as pandas does), ``tab`` and ``hourmin``."""
    play, duration = F.col("play_time_s").cast("double"), F.col("duration_s").cast("double")
    ratio = play / F.greatest(duration, F.lit(1e-3))
    above = sum(F.when(ratio >= edge, 1).otherwise(0) for edge in PLAY_RATIO_EDGES)
    bits = sum(F.when(F.col(name) > 0, 1 << bit).otherwise(0)
               for bit, name in enumerate(ACTION_FLAGS))
    columns = {
        "feedback_class": F.when(F.col("skip") > 0, SKIP)
        .when(F.col("long_view") > 0, LONG_VIEW).otherwise(PLAY),
        "action_bits": bits,
        # numpy sorts a NaN ratio (missing duration) after every edge
        "play_ratio_bucket": F.when(duration.isNull(), len(PLAY_RATIO_EDGES) + 1)
        .otherwise(above + 1),
        "tab_idx": F.least(F.greatest(F.col("tab"), F.lit(0)), F.lit(MAX_TAB)) + 1,
        "hour_idx": _hour() + 1,
    }
    return [column.cast("tinyint").alias(name) for name, column in columns.items()]


def _hour() -> Column:
    """The hour of day of ``hourmin`` (floor division by 100, as numpy's ``//``)."""
    return F.floor(F.col("hourmin").cast("double") / 100.0)


def _eval_groups(rows: DataFrame, which: int, min_items: int) -> tuple[DataFrame, int]:
    """Eval groups of split `which` (group int 0..G-1 by user_id, user_idx, user_id, row) of the
    users with more than `min_items` rows in it, `build_eval_groups`' table; and G."""
    split_rows = rows.filter(F.col("split") == which)
    users = split_rows.groupBy("user_id").count().filter(F.col("count") > min_items)
    groups = with_row_index(users.select("user_id"), ["user_id"], "group")
    table = split_rows.join(groups, "user_id").select(
        F.col("group").cast("int"), "user_idx", "user_id", "row")
    return table, groups.count()


def _row_counts(rows: DataFrame, eval_users: dict[str, int]) -> dict[str, Any]:
    """split_rows, unknown_rows and eval_users of the spec (`build._row_counts`)."""
    zeros = [F.count_if(F.col(c) == 0).alias(name) for name, c in UNKNOWN_ID_COLUMNS.items()]
    found = {r["split"]: r for r in rows.groupBy("split").agg(F.count("*").alias("n"), *zeros)
             .collect()}
    return {
        "split_rows": {SPLIT_NAMES[s]: int(found[s]["n"]) if s in found else 0
                       for s in SPLIT_NAMES},
        "unknown_rows": {SPLIT_NAMES[s]: {name: int(found[s][name]) if s in found else 0
                                          for name in UNKNOWN_ID_COLUMNS}
                         for s in (VALID, TEST)},
        "eval_users": eval_users,
    }


def build_features_spark(interactions: DataFrame, params: FeatureParams) -> SparkFeatureSet:
    """`build_features` on Spark: the same tables (as Spark frames, see `SparkFeatureSet`) and
    spec for `interactions`, a Spark scan of the interactions Parquet file [N, >= the
    REQUIRED_COLUMNS of the pandas path]."""
    frame = _check_input(interactions)
    ordered = with_row_index(frame, [*TIMELINE_ORDER, POSITION], "row")
    split, days = _split(ordered, params)
    ordered = ordered.withColumn("split", split)
    train = ordered.filter(F.col("split") == TRAIN)
    vocabs = {name: _vocab(train, *spec) for name, spec in _VOCABS.items()}
    vocab_lengths = {name: vocab.count() for name, vocab in vocabs.items()}
    buckets = _fit_buckets(train, params.num_duration_buckets)
    hours = _first_rows(ordered, (_hour() < 0) | (_hour() > 23), "row")
    if hours:
        raise ValueError(hourmin_message(hours))
    joined = ordered
    for name, spec in _VOCABS.items():
        joined = _lookup(joined, vocabs[name], vocab_lengths[name], *spec)
    looked_up = ["row", "user_id", "video_id", "time_ms", "split", "tab", "hourmin",
                 *(idx for _, _, idx in _VOCABS.values())]
    with_feedback = joined.select(
        *looked_up,
        _bucket_udf(buckets)(_duration_s()).alias("duration_bucket"),
        F.col("date").cast("int").alias("day"),
        F.min("row").over(Window.partitionBy("user_id")).alias("timeline_start"),
        F.min("row").over(Window.partitionBy("user_id", "time_ms")).alias("history_end"),
        *_feedback_columns(params.skip_seconds),
    )
    per_row = [c for c in TABLES["model_inputs"].columns if c not in HISTORY_FEEDBACK_COLUMNS]
    rows = with_feedback.select(*per_row, *FEEDBACK_COLUMNS, *_history_columns(),
                                "row").localCheckpoint()
    model_inputs = rows.select(*TABLES["model_inputs"].columns, "row")
    feedback = rows.select(*FEEDBACK_COLUMNS, "row")
    eval_valid, valid_users = _eval_groups(rows, VALID, params.min_items)
    eval_test, test_users = _eval_groups(rows, TEST, params.min_items)
    counts = _row_counts(rows, {"valid": valid_users, "test": test_users})
    spec = assemble_feature_spec(params, sum(counts["split_rows"].values()), vocab_lengths,
                                 buckets, days, counts)
    return SparkFeatureSet(
        model_inputs=model_inputs,
        feedback=feedback,
        vocab_users=vocabs["users"],
        vocab_videos=vocabs["videos"],
        vocab_tags=vocabs["tags"],
        vocab_authors=vocabs["authors"],
        duration_buckets=buckets.to_frame(),
        eval_groups_valid=eval_valid,
        eval_groups_test=eval_test,
        feature_spec=spec,
    )
