"""Leakage rule on the real KuaiRand slice: histories hold only strictly earlier own items."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.features import FeatureParams, FeatureSet, build_features
from labelcraft.features.tensors import InteractionTensors, gather_history
from labelcraft.kuairand.reader import read_kuairand_dir
from labelcraft.kuairand.schema import LOG_COLUMNS, LOG_PATTERN, VIDEO_COLUMNS, VIDEO_PATTERN
from labelcraft.kuairand.validation import ingest

pytestmark = pytest.mark.real_data



def ingest_real(data_dir: Path) -> pd.DataFrame:
    """The real slice through the project's ingestion (reader + validation)."""
    logs = read_kuairand_dir(data_dir, LOG_PATTERN, LOG_COLUMNS)
    videos = read_kuairand_dir(data_dir, VIDEO_PATTERN, VIDEO_COLUMNS)
    interactions, _, _ = ingest(logs, videos)
    return interactions


@pytest.fixture(scope="module")
def real(kuairand_dir: Path) -> tuple[pd.DataFrame, FeatureSet, pd.DataFrame]:
    """(interactions, features, interactions sorted independently by pandas)."""
    interactions = ingest_real(kuairand_dir)
    features = build_features(interactions, FeatureParams())
    ordered = interactions.sort_values(["user_id", "time_ms", "video_id"], kind="stable")
    return interactions, features, ordered.reset_index(drop=True)


def row_probe(features: FeatureSet) -> InteractionTensors:
    """Tensors whose `video` holds the row index, so a gathered history names its rows."""
    tensors = InteractionTensors.from_frames(features.model_inputs, features.feedback)
    return replace(tensors, ids={**tensors.ids, "video": torch.arange(len(tensors))})


def test_row_order_matches_pandas_sort(real: tuple) -> None:
    _, features, ordered = real
    mi = features.model_inputs
    assert mi["time_ms"].to_numpy().tolist() == ordered["time_ms"].tolist()
    vocab = features.vocab_videos.set_index("video_id")["video_idx"]
    expected = ordered["video_id"].map(vocab).fillna(0).astype(np.int64)
    assert (mi["video_idx"].to_numpy() == expected.to_numpy()).all()


@pytest.mark.parametrize("length", [100, 7])
def test_every_history_item_is_earlier_and_own(real: tuple, length: int) -> None:
    _, features, ordered = real
    users = torch.tensor(ordered["user_id"].to_numpy())
    times = torch.tensor(ordered["time_ms"].to_numpy())
    # rows of the same user strictly earlier, counted independently of the pointers
    earlier = ordered.groupby("user_id")["time_ms"].rank(method="min").to_numpy() - 1
    earlier = torch.from_numpy(earlier.astype(np.int64))
    probe = row_probe(features)
    for rows in torch.arange(len(probe)).split(50_000):
        batch = gather_history(probe, rows, length)
        src = batch.ids["video"]
        mask = batch.mask
        assert (mask.sum(1) == earlier[rows].clamp(max=length)).all()
        assert ((users[src] == users[rows, None]) | ~mask).all()
        assert ((times[src] < times[rows, None]) | ~mask).all()
        # left-padded and contiguous: most recent item last, no holes
        assert (mask[:, 1:] | ~mask[:, :-1]).all()
        assert ((src[:, 1:] == src[:, :-1] + 1) | ~mask[:, :-1]).all()


def test_history_matches_slow_reference(real: tuple) -> None:
    interactions, features, ordered = real
    length = 20
    rng = np.random.default_rng(0)
    rows = rng.choice(len(ordered), size=300, replace=False)
    tensors = InteractionTensors.from_frames(features.model_inputs, features.feedback)
    batch = gather_history(tensors, torch.from_numpy(rows), length)
    src = gather_history(row_probe(features), torch.from_numpy(rows), length).ids["video"]
    vocab = features.vocab_videos.set_index("video_id")["video_idx"]
    by_user = dict(list(interactions.groupby("user_id")))
    non_empty = 0
    for i, r in enumerate(rows):
        target = ordered.iloc[r]
        own = by_user[target["user_id"]]
        history = own[own["time_ms"] < target["time_ms"]]
        history = history.sort_values(["time_ms", "video_id"], kind="stable").tail(length)
        k = len(history)
        non_empty += k > 0
        got_rows = src[i][batch.mask[i]].numpy()
        assert ordered["video_id"].to_numpy()[got_rows].tolist() == history["video_id"].tolist()
        assert ordered["time_ms"].to_numpy()[got_rows].tolist() == history["time_ms"].tolist()
        expected_idx = history["video_id"].map(vocab).fillna(0).astype(int).tolist()
        assert batch.ids["video"][i].tolist() == [0] * (length - k) + expected_idx
        # each history item carries its own (strictly earlier) feedback and context, computed
        # here from the raw columns, and padding carries none
        pad = [0] * (length - k)
        expected = raw_history_feedback(history, int(target["time_ms"]))
        for name, values in expected.items():
            assert batch.feedback[name][i].tolist() == pad + values, name
    assert non_empty > 200  # the sample really exercises histories


def raw_history_feedback(history: pd.DataFrame, target_ms: int) -> dict[str, list[int]]:
    """The history feedback codes of raw interaction rows, by hand (see history_feedback)."""
    skip = (history["play_time_ms"] < 3000) & (history["play_time_ms"] < history["duration_ms"])
    long_view = history["long_view"] == 1
    flags = ["is_like", "is_follow", "is_comment", "is_forward", "is_profile_enter", "is_hate"]
    bits = sum(history[flag].astype(int) * 2**bit for bit, flag in enumerate(flags))
    gap_s = (target_ms - history["time_ms"]) / 1000.0
    return {
        "feedback_class": np.where(skip, 1, np.where(long_view, 3, 2)).tolist(),
        "action_bits": bits.tolist(),
        "hour_idx": (history["hourmin"] // 100 + 1).tolist(),
        "tab_idx": (history["tab"].clip(0, 15) + 1).tolist(),
        "time_gap_bucket": (np.floor(np.log2(1 + gap_s)).clip(upper=24) + 1).astype(int).tolist(),
    }
