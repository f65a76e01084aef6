"""History feedback codes: hand-computed rows, time-gap buckets, and their gathering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.features.feedback import FEEDBACK_COLUMNS
from labelcraft.features.history_feedback import (
    VOCAB_SIZES,
    action_matrix,
    history_feedback_columns,
    time_gap_bucket,
)
from labelcraft.features.tensors import InteractionTensors, gather_history
from tests.synthetic_features import feedback_rows


def test_codes_by_hand() -> None:
    feedback = feedback_rows(
        play_time_s=[1.0, 10.0, 30.0, 2.0, 5.0],
        duration_s=[20.0, 20.0, 20.0, 2.0, 0.0],
        skip=[1, 0, 0, 0, 0],          # row 3: 2 s of a 2 s video is not a skip
        long_view=[1, 0, 1, 1, 0],     # row 0: flagged long view but skipped -> skip
        like=[0, 1, 0, 0, 0], hate=[0, 0, 1, 0, 0], profile_enter=[0, 0, 0, 0, 1],
    )
    codes = history_feedback_columns(feedback, tab=np.array([0, 1, 14, 20, -3]),
                                     hourmin=np.array([0, 930, 1200, 2300, 2359]))
    assert codes["feedback_class"].tolist() == [1, 2, 3, 3, 2]
    assert codes["action_bits"].tolist() == [0, 1, 32, 0, 16]
    # ratios 0.05, 0.5, 1.5, 1.0, 5000 against edges (0.05, 0.1, 0.25, 0.5, 0.75, 1, 2)
    assert codes["play_ratio_bucket"].tolist() == [2, 5, 7, 7, 8]
    assert codes["tab_idx"].tolist() == [1, 2, 15, 16, 1]  # clipped to [0, 15], then + 1
    assert codes["hour_idx"].tolist() == [1, 10, 13, 24, 24]
    assert max(codes["play_ratio_bucket"]) < VOCAB_SIZES["play_ratio_bucket"]
    assert all(values.dtype == np.int8 for values in codes.values())


def test_bad_hour_is_named() -> None:
    with pytest.raises(ValueError, match=r"hourmin outside 0..2359 at rows \[1\]"):
        history_feedback_columns(feedback_rows(play_time_s=[1.0, 1.0]), tab=np.array([0, 0]),
                                 hourmin=np.array([100, 2400]))


def test_time_gap_buckets_by_hand() -> None:
    gaps = torch.tensor([0, 999, 1000, 3000, 3_600_000, 10**13])
    # log2(1 + s): 0, 0.99, 1, 2, 11.81, capped -> buckets 1, 1, 2, 3, 12, 25
    assert time_gap_bucket(gaps).tolist() == [1, 1, 2, 3, 12, 25]
    assert int(time_gap_bucket(gaps).max()) < VOCAB_SIZES["time_gap_bucket"]


def test_action_matrix_unpacks_bits() -> None:
    flags = action_matrix(torch.tensor([[0, 5], [63, 32]]))
    assert flags.shape == (2, 2, 6)
    assert flags[0, 1].tolist() == [1, 0, 1, 0, 0, 0]
    assert flags[1, 0].tolist() == [1.0] * 6 and flags[1, 1].tolist() == [0, 0, 0, 0, 0, 1]


def test_gathered_feedback_is_the_earlier_items_own() -> None:
    """User A rows 0..3 (times 10, 20, 20, 30 ms): row 2's history is row 0 only (row 1 has
    the same time), row 3's rows 0..2; the codes are those rows' and padding is 0."""
    model_inputs = pd.DataFrame({
        "user_idx": [1, 1, 1, 1], "video_idx": [11, 12, 13, 14], "split": [0, 0, 0, 0],
        "time_ms": [10, 20, 20, 30_000], "timeline_start": [0, 0, 0, 0],
        "history_end": [0, 1, 1, 3],
        "feedback_class": [1, 2, 3, 1], "action_bits": [0, 1, 2, 4],
        "play_ratio_bucket": [1, 2, 3, 4], "tab_idx": [1, 1, 2, 2], "hour_idx": [5, 6, 7, 8],
    })
    feedback = pd.DataFrame(np.zeros((4, len(FEEDBACK_COLUMNS)), np.float32),
                            columns=list(FEEDBACK_COLUMNS))
    tensors = InteractionTensors.from_frames(model_inputs, feedback)
    batch = gather_history(tensors, torch.tensor([2, 3]), 3)
    assert batch.feedback["feedback_class"].tolist() == [[0, 0, 1], [1, 2, 3]]
    assert batch.feedback["action_bits"].tolist() == [[0, 0, 0], [0, 1, 2]]
    assert batch.feedback["hour_idx"].tolist() == [[0, 0, 5], [5, 6, 7]]
    # gaps: 10 ms -> bucket 1; row 3 vs rows 0..2: 29.99 s, 29.98 s -> log2(30.99) = 4.95
    assert batch.feedback["time_gap_bucket"].tolist() == [[0, 0, 1], [5, 5, 5]]


def test_tensors_without_history_feedback_gather_none() -> None:
    model_inputs = pd.DataFrame({"user_idx": [1, 1], "video_idx": [1, 2], "split": [0, 0],
                                 "timeline_start": [0, 0], "history_end": [0, 1]})
    feedback = pd.DataFrame(np.zeros((2, len(FEEDBACK_COLUMNS)), np.float32),
                            columns=list(FEEDBACK_COLUMNS))
    batch = gather_history(InteractionTensors.from_frames(model_inputs, feedback),
                           torch.tensor([1]), 2)
    assert batch.feedback == {}
