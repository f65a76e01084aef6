"""Hand-computed tests of the features stage (split, vocab, buckets, timelines, tensors)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.features import FeatureParams, build_features
from labelcraft.features.eval_groups import build_eval_groups
from labelcraft.features.feedback import FEEDBACK_COLUMNS, build_feedback
from labelcraft.features.split import split_by_days
from labelcraft.features.tensors import EvalGroups, InteractionTensors, gather_history
from labelcraft.features.timeline import timeline_order, timeline_pointers
from labelcraft.features.vocab import fit_duration_buckets

FLAGS = ("is_like", "is_follow", "is_comment", "is_forward", "is_hate", "long_view")


def make_interactions(
    user_id: list[int],
    video_id: list[int],
    date: list[int],
    *,
    time_ms: list[int] | None = None,
    play_time_ms: list[int] | None = None,
    duration_ms: list[int] | None = None,
    first_tag: list[int | None] | None = None,
    hourmin: list[int] | None = None,
    tab: list[int] | None = None,
    **flags: list[int],
) -> pd.DataFrame:
    """Typed `interactions` frame (the columns features read) with defaults for the rest."""
    n = len(user_id)
    frame = pd.DataFrame(
        {
            "user_id": np.asarray(user_id, dtype=np.int64),
            "video_id": np.asarray(video_id, dtype=np.int64),
            "date": np.asarray(date, dtype=np.int32),
            "time_ms": np.asarray(time_ms if time_ms is not None else range(n), dtype=np.int64),
            "hourmin": np.asarray(hourmin or [1200] * n, dtype=np.int16),
            "tab": np.asarray(tab or [1] * n, dtype=np.int16),
            "play_time_ms": np.asarray(play_time_ms or [10_000] * n, dtype=np.int64),
            "duration_ms": np.asarray(duration_ms or [20_000] * n, dtype=np.int64),
            "first_tag": pd.array(first_tag or [1] * n, dtype="Int64"),
            "author_id": pd.array(np.asarray(video_id) % 5 + 1, dtype="Int64"),
        }
    )
    for flag in (*FLAGS, "is_profile_enter", "is_click"):
        frame[flag] = np.asarray(flags.get(flag, [0] * n), dtype=np.int8)
    return frame


def days_frame(dates: list[int], users: list[int] | None = None) -> pd.DataFrame:
    """One interaction per date, videos 100, 101, ..., increasing time."""
    n = len(dates)
    return make_interactions(users or [1] * n, [100 + i for i in range(n)], dates)


SMALL = FeatureParams(test_days=1, valid_days=1, num_duration_buckets=4, min_items=1)


# ---------------------------------------------------------------- split


def test_split_across_month_boundary() -> None:
    dates = np.array([20220427, 20220428, 20220430, 20220501, 20220502, 20220503, 20220429])
    split, days = split_by_days(dates, test_days=3, valid_days=3)
    assert split.tolist() == [0, 1, 1, 2, 2, 2, 1]
    assert split.dtype == np.int8
    assert days.to_dict() == {
        "train_start": 20220427,
        "train_end": 20220427,
        "valid_start": 20220428,
        "valid_end": 20220430,
        "test_start": 20220501,
        "test_end": 20220503,
    }


def test_split_leap_day_and_year_boundary() -> None:
    split, days = split_by_days(np.array([20240228, 20240229, 20240301]), 1, 1)
    assert split.tolist() == [0, 1, 2]
    assert (days.valid_start, days.test_start) == (20240229, 20240301)
    split, days = split_by_days(np.array([20211230, 20211231, 20220101, 20220102]), 2, 1)
    assert split.tolist() == [0, 1, 2, 2]
    assert (days.train_end, days.valid_end) == (20211230, 20211231)


def test_split_counts_calendar_days_not_distinct_dates() -> None:
    # a gap: no data on 0102..0107; calendar days still count
    split, days = split_by_days(np.array([20220101, 20220108, 20220110]), 3, 3)
    assert split.tolist() == [0, 2, 2]
    assert (days.valid_start, days.valid_end, days.test_start) == (20220105, 20220107, 20220108)


def test_split_too_few_days_is_a_clear_error() -> None:
    dates = np.array([20220428, 20220503])  # spans 6 calendar days
    with pytest.raises(ValueError, match=r"spans 6 calendar days .*test_days=3 \+ valid_days=3"):
        split_by_days(dates, 3, 3)
    split, _ = split_by_days(np.array([20220427, 20220503]), 3, 3)  # 7 days is enough
    assert split.tolist() == [0, 2]


def test_split_rejects_invalid_dates() -> None:
    with pytest.raises(ValueError, match=r"20220230.*rows \[1\]"):
        split_by_days(np.array([20220227, 20220230, 20220301]), 1, 1)


# ---------------------------------------------------------------- vocab and buckets


def test_vocab_train_only_sorted_by_raw_id() -> None:
    # train: 0425..0426, valid 0427, test 0428
    frame = make_interactions(
        user_id=[5, 3, 5, 9, 3],
        video_id=[50, 7, 30, 7, 99],
        date=[20220425, 20220426, 20220426, 20220427, 20220428],
        first_tag=[4, None, 2, 8, 2],
    )
    fs = build_features(frame, SMALL)
    assert fs.vocab_users.to_dict("list") == {"user_id": [3, 5], "user_idx": [1, 2]}
    assert fs.vocab_videos.to_dict("list") == {"video_id": [7, 30, 50], "video_idx": [1, 2, 3]}
    assert fs.vocab_tags.to_dict("list") == {"tag": [2, 4], "tag_idx": [1, 2]}
    # timeline order: user 3 (video 7, 99), user 5 (50, 30), user 9 (7)
    mi = fs.model_inputs
    assert mi["user_idx"].tolist() == [1, 1, 2, 2, 0]
    assert mi["video_idx"].tolist() == [1, 0, 3, 2, 1]
    assert mi["tag_idx"].tolist() == [0, 1, 2, 1, 0]  # missing tag and valid-only tag 8 -> 0
    assert mi["split"].tolist() == [0, 2, 0, 0, 1]
    assert fs.feature_spec["vocab_sizes"]["video"] == 4


def test_duration_buckets_hand_computed() -> None:
    buckets = fit_duration_buckets(np.expm1([0.0, 1.0, 2.0, 3.0, 4.0]), num_buckets=4)
    np.testing.assert_allclose(buckets.edges, [0, 1, 2, 3, 4])
    got = buckets.assign(np.expm1([0.0, 0.5, 1.0, 3.5, 4.0, 10.0]).tolist() + [np.nan])
    assert got.tolist() == [1, 1, 2, 4, 4, 4, 0]
    assert got.dtype == np.int16


def test_duration_buckets_merge_equal_edges() -> None:
    # log1p values sorted [0,0,0,1,2,3,4,5]: quantiles 0, 0, 1.5, 3.25, 5 -> 3 buckets
    buckets = fit_duration_buckets(np.expm1([0, 0, 0, 1, 2, 3, 4, 5.0]), num_buckets=4)
    assert buckets.num_buckets == 3
    np.testing.assert_allclose(buckets.edges, [0, 1.5, 3.25, 5])
    table = buckets.to_frame()
    assert table["bucket"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(table["lower_s"], np.expm1([0, 1.5, 3.25]))
    np.testing.assert_allclose(table["upper_s"], np.expm1([1.5, 3.25, 5]))
    assert buckets.assign(np.array([0.0])).tolist() == [1]
    single = fit_duration_buckets(np.array([5.0, 5.0, 5.0]), num_buckets=64)
    assert single.num_buckets == 1
    assert single.assign(np.array([0.0, 5.0, 99.0])).tolist() == [1, 1, 1]
    assert len(single.to_frame()) == 1


def test_build_buckets_zero_duration_and_missing() -> None:
    frame = make_interactions(
        user_id=[1, 1, 1, 1, 1],
        video_id=[1, 2, 3, 4, 5],
        date=[20220425, 20220425, 20220425, 20220426, 20220427],
        duration_ms=[0, 9_000, 99_000, 0, 999_000],
    )
    frame["duration_ms"] = pd.array([0, 9_000, 99_000, None, 999_000], dtype="Int64")
    fs = build_features(frame, SMALL)
    # train log1p(s) = 0, log(10), log(100): 4 requested -> edges 0, .5l, l, 1.5l, 2l (l=log 10)
    assert fs.feature_spec["duration_buckets"]["effective"] == 4
    assert fs.model_inputs["duration_bucket"].tolist() == [1, 3, 4, 0, 4]
    assert np.isnan(fs.feedback["duration_s"].iloc[3])


# ---------------------------------------------------------------- timeline


def test_timeline_pointers_with_ties() -> None:
    start, end = timeline_pointers(np.array([1, 1, 1, 1, 2, 2]), np.array([10, 20, 20, 30, 5, 5]))
    assert start.tolist() == [0, 0, 0, 0, 4, 4]
    assert end.tolist() == [0, 1, 1, 3, 4, 4]
    with pytest.raises(ValueError, match="sorted"):
        timeline_pointers(np.array([1, 1]), np.array([20, 10]))


def test_timeline_order_is_stable_on_full_ties() -> None:
    frame = make_interactions(
        user_id=[2, 1, 1, 1, 1],
        video_id=[7, 9, 8, 9, 3],
        date=[20220425] * 5,
        time_ms=[1, 20, 20, 20, 30],
    )
    assert timeline_order(frame).tolist() == [2, 1, 3, 4, 0]


def test_build_history_end_from_shuffled_input() -> None:
    frame = make_interactions(
        user_id=[2, 1, 1, 2, 1, 1],
        video_id=[5, 4, 3, 6, 2, 1],
        date=[20220425, 20220425, 20220425, 20220426, 20220427, 20220425],
        time_ms=[7, 30, 20, 8, 40, 20],
    )
    mi = build_features(frame, SMALL).model_inputs
    # timeline: user 1 (t20 v1, t20 v3, t30 v4, t40 v2), user 2 (t7 v5, t8 v6)
    assert mi["time_ms"].tolist() == [20, 20, 30, 40, 7, 8]
    assert mi["timeline_start"].tolist() == [0, 0, 0, 0, 4, 4]
    assert mi["history_end"].tolist() == [0, 0, 2, 3, 4, 5]
    assert mi["day"].tolist() == [20220425, 20220425, 20220425, 20220427, 20220425, 20220426]


# ---------------------------------------------------------------- feedback


def test_skip_rule_and_zero_duration() -> None:
    frame = make_interactions(
        user_id=[1] * 6,
        video_id=list(range(6)),
        date=[20220425] * 6,
        play_time_ms=[2_999, 3_000, 1_000, 0, 2_000, 5_000],
        duration_ms=[60_000, 60_000, 1_000, 0, 1_500, 4_000],
        is_like=[1, 0, 0, 0, 0, 1],
        is_profile_enter=[0, 0, 1, 0, 0, 0],
    )
    fb = build_feedback(frame, skip_seconds=3.0)
    assert tuple(fb.columns) == FEEDBACK_COLUMNS
    assert (fb.dtypes == np.float32).all()
    assert fb["skip"].tolist() == [1, 0, 0, 0, 0, 0]
    assert fb["play_time_s"].tolist() == pytest.approx([2.999, 3.0, 1.0, 0.0, 2.0, 5.0])
    assert fb["like"].tolist() == [1, 0, 0, 0, 0, 1]
    assert fb["profile_enter"].tolist() == [0, 0, 1, 0, 0, 0]
    assert build_feedback(frame, skip_seconds=5.0)["skip"].tolist() == [1, 1, 0, 0, 0, 0]


# ---------------------------------------------------------------- eval groups


def test_eval_groups_threshold_and_unseen_users() -> None:
    # valid split: user 10 has 10 rows (excluded), 11 and 12 have 11 rows (both unseen: idx 0)
    user_id = np.repeat([10, 11, 12, 13], [10, 11, 11, 12])
    split = np.ones(len(user_id), dtype=np.int8)
    split[-12:] = [0] * 2 + [2] * 10  # user 13: 2 train rows and 10 test rows
    user_idx = np.where(user_id == 13, 4, 0)
    groups = build_eval_groups(user_id, user_idx, split, which=1, min_items=10)
    assert groups["user_id"].unique().tolist() == [11, 12]
    assert groups["group"].tolist() == [0] * 11 + [1] * 11
    assert groups["row"].tolist() == list(range(10, 32))
    assert (groups["user_idx"] == 0).all()
    assert groups.dtypes.to_dict() == {
        "group": np.int32,
        "user_idx": np.int32,
        "user_id": np.int64,
        "row": np.int64,
    }
    assert build_eval_groups(user_id, user_idx, split, which=2, min_items=10).empty
    test_groups = build_eval_groups(user_id, user_idx, split, which=2, min_items=9)
    assert test_groups["row"].tolist() == list(range(34, 44))
    assert test_groups["user_idx"].unique().tolist() == [4]


def test_eval_groups_from_frame_padding() -> None:
    frame = pd.DataFrame(
        {
            "group": [0, 0, 1, 1, 1],
            "user_idx": [3, 3, 0, 0, 0],
            "user_id": [7, 7, 9, 9, 9],
            "row": [4, 6, 10, 11, 15],
        }
    )
    eg = EvalGroups.from_frame(frame)
    assert eg.rows.tolist() == [[4, 6, 0], [10, 11, 15]]
    assert eg.mask.tolist() == [[True, True, False], [True, True, True]]
    assert eg.user_idx.tolist() == [3, 0]
    assert eg.user_id.tolist() == [7, 9]
    empty = EvalGroups.from_frame(frame.iloc[:0])
    assert empty.rows.shape == (0, 0)
    with pytest.raises(ValueError, match="without gaps"):
        EvalGroups.from_frame(frame.assign(group=[0, 0, 2, 2, 2]))


# ---------------------------------------------------------------- tensors


def two_user_tensors() -> InteractionTensors:
    """User A rows 0..3 (times 10, 20, 20, 30), user B rows 4..6 (times 5, 6, 7)."""
    model_inputs = pd.DataFrame(
        {
            "user_idx": [1, 1, 1, 1, 2, 2, 2],
            "video_idx": [11, 12, 13, 14, 21, 22, 23],
            "duration_bucket": [1, 2, 3, 4, 5, 6, 7],
            "tag_idx": [31, 32, 33, 34, 35, 36, 37],
            "split": [0, 0, 1, 2, 0, 1, 2],
            "day": [20220425] * 7,
            "time_ms": [10, 20, 20, 30, 5, 6, 7],
            "timeline_start": [0, 0, 0, 0, 4, 4, 4],
            "history_end": [0, 1, 1, 3, 4, 5, 6],
        }
    )
    feedback = pd.DataFrame(
        np.arange(7 * len(FEEDBACK_COLUMNS)).reshape(7, -1), columns=list(FEEDBACK_COLUMNS)
    ).astype(np.float32)
    return InteractionTensors.from_frames(model_inputs, feedback)


def test_interaction_tensors_dtypes() -> None:
    t = two_user_tensors()
    assert len(t) == 7
    assert t.ids["video"].dtype == torch.long and t.split.dtype == torch.int8
    assert t.feedback.shape == (7, len(FEEDBACK_COLUMNS)) and t.feedback.dtype == torch.float32
    assert t.feedback_columns == FEEDBACK_COLUMNS
    with pytest.raises(ValueError, match="row-aligned"):
        InteractionTensors.from_frames(pd.DataFrame({"user_idx": [1]}), pd.DataFrame())


def test_gather_history_values() -> None:
    t = two_user_tensors()
    batch = gather_history(t, torch.tensor([3, 0, 2, 4, 6, 5]), length=2)
    assert batch.ids["video"].shape == batch.mask.shape == (6, 2)
    assert batch.ids["video"].tolist() == [[12, 13], [0, 0], [0, 11], [0, 0], [21, 22], [0, 21]]
    assert batch.ids["duration_bucket"].tolist() == [[2, 3], [0, 0], [0, 1], [0, 0], [5, 6],
                                                     [0, 5]]
    assert batch.ids["tag"].tolist() == [[32, 33], [0, 0], [0, 31], [0, 0], [35, 36], [0, 35]]
    assert batch.mask.tolist() == [
        [True, True],
        [False, False],
        [False, True],
        [False, False],
        [True, True],
        [False, True],
    ]
    long = gather_history(t, torch.tensor([3, 6]), length=4)
    assert long.ids["video"].tolist() == [[0, 11, 12, 13], [0, 0, 21, 22]]
    with pytest.raises(ValueError, match="length"):
        gather_history(t, torch.tensor([3]), length=0)


# ---------------------------------------------------------------- build / params


def test_build_features_outputs_and_spec() -> None:
    dates = [20220425, 20220426, 20220427, 20220428]
    frame = make_interactions(
        user_id=[1, 1, 2, 2, 1, 2, 1, 2],
        video_id=[1, 2, 1, 3, 4, 4, 5, 5],
        date=dates * 2,
    )
    fs = build_features(frame, SMALL)
    assert fs.model_inputs.dtypes.astype(str).to_dict() == {
        "user_id": "int64",
        "video_id": "int64",
        "user_idx": "int32",
        "video_idx": "int32",
        "duration_bucket": "int16",
        "tag_idx": "int32",
        "author_idx": "int32",
        "split": "int8",
        "day": "int32",
        "time_ms": "int64",
        "timeline_start": "int64",
        "history_end": "int64",
        "feedback_class": "int8",
        "action_bits": "int8",
        "play_ratio_bucket": "int8",
        "tab_idx": "int8",
        "hour_idx": "int8",
    }
    assert len(fs.feedback) == len(fs.model_inputs) == 8
    spec = json.loads(json.dumps(fs.feature_spec))
    assert [field["name"] for field in spec["fields"]] == ["user", "video", "duration_bucket",
                                                            "tag"]
    assert spec["fields"][1] == {"name": "video", "column": "video_idx", "item": True,
                                 "vocab_size": spec["vocab_sizes"]["video"]}
    assert spec["vocab_sizes"]["author"] == len(fs.vocab_authors) + 1
    assert spec["split_rows"] == {"train": 4, "valid": 2, "test": 2}
    assert spec["split_days"]["valid_start"] == 20220427
    assert spec["eval_users"] == {"valid": 0, "test": 1}  # test: user 2 has 2 rows > 1
    assert spec["history_length"] == SMALL.history_length == 100


def test_build_features_rejects_bad_input() -> None:
    frame = days_frame([20220425, 20220426, 20220427])
    with pytest.raises(ValueError, match="features.fields"):
        FeatureParams(fields=("user", "colour"))
    with pytest.raises(ValueError, match="item field"):
        FeatureParams(fields=("user",))
    assert FeatureParams(fields=["author", "user", "video"]).fields == ("user", "video", "author")
    with pytest.raises(ValueError, match=r"lacks columns \['first_tag'\]"):
        build_features(frame.drop(columns="first_tag"), SMALL)
    with pytest.raises(ValueError, match=r"'duration_ms' is negative at rows \[1\]"):
        build_features(frame.assign(duration_ms=[1, -5, 3]), SMALL)


def test_feature_params_from_dict() -> None:
    params = FeatureParams.from_dict({"test_days": 2, "history_length": 50})
    assert (params.test_days, params.valid_days, params.history_length) == (2, 3, 50)
    typo = r"unknown feature parameter.*'test_day' \(did you mean 'test_days'\?\)"
    with pytest.raises(ValueError, match=typo):
        FeatureParams.from_dict({"test_day": 2})
    with pytest.raises(ValueError, match="history_length"):
        FeatureParams(history_length=0)
