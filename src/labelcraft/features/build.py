"""Build every model input of the features stage from the ingested `interactions` table."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelcraft.config import from_params
from labelcraft.features.eval_groups import build_eval_groups
from labelcraft.features.feedback import FEEDBACK_COLUMNS, FEEDBACK_SOURCES, build_feedback
from labelcraft.features.fields import DEFAULT_FIELDS, FIELDS_BY_NAME, check_fields
from labelcraft.features.history_feedback import ACTION_FLAGS, VOCAB_SIZES, history_feedback_columns
from labelcraft.features.split import (
    SPLIT_NAMES,
    TEST,
    TRAIN,
    VALID,
    SplitDays,
    split_by_days,
)
from labelcraft.features.timeline import TIMELINE_ORDER, timeline_order, timeline_pointers
from labelcraft.features.vocab import (
    DurationBuckets,
    build_vocab,
    fit_duration_buckets,
    lookup,
)

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys((*TIMELINE_ORDER, "date", "hourmin", "tab", "first_tag", "author_id",
                   *FEEDBACK_SOURCES))
)


@dataclass(frozen=True)
class FeatureParams:
    """Parameters of the features stage."""

    test_days: int = 3
    valid_days: int = 3
    num_duration_buckets: int = 64
    history_length: int = 100
    min_items: int = 10
    skip_seconds: float = 3.0
    fields: tuple[str, ...] = DEFAULT_FIELDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", check_fields(tuple(self.fields)))
        for name in ("test_days", "valid_days", "num_duration_buckets", "history_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"feature param {name} must be >= 1, got {getattr(self, name)}")
        if self.min_items < 0 or self.skip_seconds < 0:
            raise ValueError(
                "min_items and skip_seconds must be >= 0, "
                f"got {self.min_items}, {self.skip_seconds}"
            )

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> FeatureParams:
        """Build from a parameters dict; unknown keys are an error (catches typos)."""
        return from_params(cls, params, "feature parameter")


@dataclass
class FeatureSet:
    """All outputs of the features stage (see SPEC "Feature outputs")."""

    model_inputs: pd.DataFrame
    feedback: pd.DataFrame
    vocab_users: pd.DataFrame
    vocab_videos: pd.DataFrame
    vocab_tags: pd.DataFrame
    vocab_authors: pd.DataFrame
    duration_buckets: pd.DataFrame
    eval_groups_valid: pd.DataFrame
    eval_groups_test: pd.DataFrame
    feature_spec: dict[str, Any] = field(default_factory=dict)


NON_NULL_COLUMNS: tuple[str, ...] = (
    "user_id", "video_id", "date", "hourmin", "tab", "time_ms", "play_time_ms")
NON_NEGATIVE_COLUMNS: tuple[str, ...] = ("play_time_ms", "duration_ms")


def missing_columns_message(missing: list[str]) -> str:
    """The error message for an interactions table without the REQUIRED_COLUMNS `missing`."""
    return f"interactions table lacks columns {missing}"


def bad_values_message(column: str, problem: str, rows: list[int]) -> str:
    """The error message for `column` values with `problem` ("missing" or "negative") at the
    first offending row positions `rows`."""
    what = "has missing values" if problem == "missing" else "is negative"
    return f"interactions column {column!r} {what} at rows {rows}"


def _check_input(interactions: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in interactions.columns]
    if missing:
        raise ValueError(missing_columns_message(missing))
    for column in NON_NULL_COLUMNS:
        bad = interactions[column].isna().to_numpy()
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(bad_values_message(column, "missing", rows))
    for column in NON_NEGATIVE_COLUMNS:
        bad = (interactions[column] < 0).to_numpy(dtype=bool, na_value=False)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(bad_values_message(column, "negative", rows))


@dataclass(frozen=True)
class _Indexed:
    """The interactions in timeline order with their ids indexed (see `_index_interactions`).

    model_inputs: the per-row table; vocabs: "users", "videos", "tags" -> vocabulary table;
    buckets: the fitted duration buckets; days: the split's days.
    """

    model_inputs: pd.DataFrame
    vocabs: dict[str, pd.DataFrame]
    buckets: DurationBuckets
    days: SplitDays


def _index_interactions(interactions: pd.DataFrame, order: np.ndarray,
                        params: FeatureParams) -> _Indexed:
    """Split by days, train vocabularies and duration buckets, timeline pointers of every row."""

    def col(name: str) -> np.ndarray:
        """Column `[N]` as int64 in timeline order (missing -> 0; masked where it matters)."""
        return interactions[name].to_numpy(dtype=np.int64, na_value=0)[order]

    user_id, video_id, time_ms = col("user_id"), col("video_id"), col("time_ms")
    date = col("date")
    split, days = split_by_days(date, params.test_days, params.valid_days)
    train = split == TRAIN
    tag_missing = interactions["first_tag"].isna().to_numpy()[order]
    tag = col("first_tag")
    author_missing = interactions["author_id"].isna().to_numpy()[order]
    author = col("author_id")
    vocabs = {
        "users": build_vocab(user_id[train], "user_id", "user_idx"),
        "videos": build_vocab(video_id[train], "video_id", "video_idx"),
        "tags": build_vocab(tag[train & ~tag_missing], "tag", "tag_idx"),
        "authors": build_vocab(author[train & ~author_missing], "author_id", "author_idx"),
    }
    duration_s = interactions["duration_ms"].to_numpy(dtype=np.float64, na_value=np.nan)[order]
    duration_s /= 1000.0
    buckets = fit_duration_buckets(duration_s[train], params.num_duration_buckets)
    timeline_start, history_end = timeline_pointers(user_id, time_ms)
    model_inputs = pd.DataFrame(
        {
            "user_id": user_id,
            "video_id": video_id,
            "user_idx": lookup(user_id, vocabs["users"]["user_id"].to_numpy()),
            "video_idx": lookup(video_id, vocabs["videos"]["video_id"].to_numpy()),
            "duration_bucket": buckets.assign(duration_s),
            "tag_idx": lookup(tag, vocabs["tags"]["tag"].to_numpy(), missing=tag_missing),
            "author_idx": lookup(author, vocabs["authors"]["author_id"].to_numpy(),
                                 missing=author_missing),
            "split": split,
            "day": date.astype(np.int32),
            "time_ms": time_ms,
            "timeline_start": timeline_start,
            "history_end": history_end,
        }
    )
    return _Indexed(model_inputs, vocabs, buckets, days)


UNKNOWN_ID_COLUMNS: dict[str, str] = {
    "user": "user_idx", "video": "video_idx", "tag": "tag_idx", "author": "author_idx"}
"""The spec's unknown_rows names -> the model_inputs index columns counted where 0."""


def _row_counts(model_inputs: pd.DataFrame, eval_valid: pd.DataFrame,
                eval_test: pd.DataFrame) -> dict[str, Any]:
    """split_rows, unknown_rows (ids outside the train vocabularies) and eval_users."""
    split = model_inputs["split"].to_numpy()
    return {
        "split_rows": {SPLIT_NAMES[s]: int(np.count_nonzero(split == s)) for s in SPLIT_NAMES},
        "unknown_rows": {
            SPLIT_NAMES[s]: {
                name: int(np.count_nonzero((model_inputs[column].to_numpy() == 0) & (split == s)))
                for name, column in UNKNOWN_ID_COLUMNS.items()
            }
            for s in (VALID, TEST)
        },
        "eval_users": {name: int(groups["group"].nunique())
                       for name, groups in (("valid", eval_valid), ("test", eval_test))},
    }


def assemble_feature_spec(params: FeatureParams, num_rows: int, vocab_lengths: dict[str, int],
                          buckets: DurationBuckets, days: SplitDays,
                          counts: dict[str, Any]) -> dict[str, Any]:
    """The feature spec (logged in short) of `num_rows` interactions.

    vocab_lengths: "users", "videos", "tags", "authors" -> vocabulary length V; counts: the
    split_rows, unknown_rows and eval_users of `_row_counts`.
    """
    for name, count in counts["split_rows"].items():
        logger.info("features: %s split %d rows", name, count)
    logger.info(
        "features: %d users, %d videos, %d tags in train vocab; %d duration buckets; "
        "eval users valid %d, test %d", vocab_lengths["users"], vocab_lengths["videos"],
        vocab_lengths["tags"], buckets.num_buckets, counts["eval_users"]["valid"],
        counts["eval_users"]["test"])
    vocab_sizes = {  # embedding table sizes, index 0 included
        "user": vocab_lengths["users"] + 1,
        "video": vocab_lengths["videos"] + 1,
        "tag": vocab_lengths["tags"] + 1,
        "duration_bucket": buckets.num_buckets + 1,
        "author": vocab_lengths["authors"] + 1,
    }
    return {
        "num_rows": num_rows,
        "row_order": list(TIMELINE_ORDER),
        "history_length": params.history_length,
        "vocab_sizes": vocab_sizes,
        "fields": [{"name": name, "column": FIELDS_BY_NAME[name].column,
                    "item": FIELDS_BY_NAME[name].item, "vocab_size": vocab_sizes[name]}
                   for name in params.fields],
        "duration_buckets": {
            "requested": params.num_duration_buckets,
            "effective": buckets.num_buckets,
            "edges_log1p_s": [float(e) for e in buckets.edges],
        },
        "split_days": days.to_dict(),
        **counts,
        "feedback_columns": list(FEEDBACK_COLUMNS),
        "history_feedback": {"vocab_sizes": dict(VOCAB_SIZES),
                             "action_flags": list(ACTION_FLAGS)},
        "params": dataclasses.asdict(params),
    }


def build_features(interactions: pd.DataFrame, params: FeatureParams) -> FeatureSet:
    """Split, vocabularies, buckets, timelines, feedback and eval groups of `interactions`.

    Every per-interaction output is row-aligned with the interactions sorted stably by
    (user_id, time_ms, video_id); row r of that order is "the row".
    """
    _check_input(interactions)
    order = timeline_order(interactions)
    indexed = _index_interactions(interactions, order, params)
    model_inputs, vocabs, buckets = indexed.model_inputs, indexed.vocabs, indexed.buckets
    feedback_source = interactions[list(FEEDBACK_SOURCES)].take(order).reset_index(drop=True)
    feedback = build_feedback(feedback_source, params.skip_seconds)
    context = {name: interactions[name].to_numpy(dtype=np.int64)[order]
               for name in ("tab", "hourmin")}
    for name, values in history_feedback_columns(feedback, **context).items():
        model_inputs[name] = values
    columns = [model_inputs[name].to_numpy() for name in ("user_id", "user_idx", "split")]
    eval_valid = build_eval_groups(*columns, VALID, params.min_items)
    eval_test = build_eval_groups(*columns, TEST, params.min_items)
    counts = _row_counts(model_inputs, eval_valid, eval_test)
    vocab_lengths = {name: len(vocab) for name, vocab in vocabs.items()}
    feature_spec = assemble_feature_spec(params, len(interactions), vocab_lengths, buckets,
                                         indexed.days, counts)
    return FeatureSet(
        model_inputs=model_inputs,
        feedback=feedback,
        vocab_users=vocabs["users"],
        vocab_videos=vocabs["videos"],
        vocab_tags=vocabs["tags"],
        vocab_authors=vocabs["authors"],
        duration_buckets=buckets.to_frame(),
        eval_groups_valid=eval_valid,
        eval_groups_test=eval_test,
        feature_spec=feature_spec,
    )
