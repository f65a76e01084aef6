"""Tiny synthetic inputs for tests: a feature set (features stage outputs) and model batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from labelcraft.features import FeatureParams, FeatureSet, build_features
from labelcraft.features.feedback import FEEDBACK_COLUMNS
from labelcraft.features.history_feedback import ACTION_FLAGS, VOCAB_SIZES
from labelcraft.models import ModelSpec, RecBatch

FLAGS = ("is_like", "is_follow", "is_comment", "is_forward", "is_hate", "long_view")
TINY_PARAMS = FeatureParams(
    test_days=2, valid_days=2, num_duration_buckets=4, history_length=8, min_items=5
)


def tiny_interactions(
    n_users: int = 12, n_videos: int = 30, n_days: int = 6, per_day: int = 4, seed: int = 0
) -> pd.DataFrame:
    """Typed `interactions` of `n_users` users with `per_day` rows per day over `n_days` days.

    Watch time depends on a hidden user x video affinity, so a model has something to learn;
    every split has users with more than `TINY_PARAMS.min_items` rows.
    """
    rng = np.random.default_rng(seed)
    n = n_users * n_days * per_day
    user = np.repeat(np.arange(1, n_users + 1), n_days * per_day)
    day = np.tile(np.repeat(np.arange(n_days), per_day), n_users)
    video = rng.integers(1, n_videos + 1, n)
    affinity = np.sin(user * 0.7 + video * 1.3)
    duration_ms = rng.integers(5, 120, n_videos + 1)[video] * 1000
    share = 1.0 / (1.0 + np.exp(-3.0 * affinity + rng.normal(0, 0.5, n)))
    play_ms = (share * duration_ms).astype(np.int64)
    frame = pd.DataFrame(
        {
            "user_id": user.astype(np.int64),
            "video_id": video.astype(np.int64),
            "date": (20240101 + day).astype(np.int32),
            "time_ms": (day * 86_400_000 + rng.integers(0, 86_000_000, n)).astype(np.int64),
            "hourmin": (rng.integers(0, 24, n) * 100).astype(np.int16),
            "tab": rng.integers(0, 4, n).astype(np.int16),
            "play_time_ms": play_ms,
            "duration_ms": duration_ms.astype(np.int64),
            "first_tag": pd.array(video % 5, dtype="Int64"),
            "author_id": pd.array(video % 7 + 100, dtype="Int64"),
        }
    )
    for flag in (*FLAGS, "is_profile_enter"):
        frame[flag] = (rng.random(n) < 0.1 + 0.3 * (affinity > 0.5)).astype(np.int8)
    frame["long_view"] = (play_ms >= np.minimum(duration_ms, 18_000)).astype(np.int8)
    frame["is_click"] = (share > 0.5).astype(np.int8)  # no draw: the other columns keep theirs
    return frame


def feedback_rows(**columns: list[float]) -> pd.DataFrame:
    """A feedback table (`FEEDBACK_COLUMNS`, float32) with the given columns, zeros elsewhere."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame({name: np.asarray(columns.get(name, [0.0] * n), np.float32)
                         for name in FEEDBACK_COLUMNS})


def tiny_features(seed: int = 0, **kwargs: int) -> FeatureSet:
    """`build_features` of `tiny_interactions(seed=seed, **kwargs)` with `TINY_PARAMS`."""
    return build_features(tiny_interactions(seed=seed, **kwargs), TINY_PARAMS)


def random_batch(spec: ModelSpec, size: int, length: int, seed: int) -> RecBatch:
    """A batch of ``size`` random ids within ``spec`` and random left-padded histories of up to
    ``length`` items (padded slots 0)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, length + 1, (size,), generator=g)
    mask = torch.arange(length).unsqueeze(0) >= (length - lengths).unsqueeze(1)

    def ids(n: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(1, n, shape, generator=g)

    sizes = spec.vocab_sizes
    codes = {**VOCAB_SIZES, "action_bits": 1 << len(ACTION_FLAGS)}
    return RecBatch(
        ids={name: ids(sizes[name], (size,)) for name in sizes},
        history={name: ids(sizes[name], (size, length)) * mask for name in spec.item_fields},
        history_mask=mask,
        history_feedback={name: torch.randint(0 if name == "action_bits" else 1, n,
                                              (size, length), generator=g) * mask
                          for name, n in codes.items()},
    )


def four_field_spec(users: int, videos: int, buckets: int, tags: int) -> ModelSpec:
    """A spec of the default fields (user; video, duration bucket, tag) with these sizes."""
    return ModelSpec({"user": users, "video": videos, "duration_bucket": buckets, "tag": tags})


def four_field_batch(user, video, bucket, tag, history_video, history_bucket, history_tag,
                     history_mask) -> RecBatch:
    """A batch of the default fields from tensors (candidates ``[B]``, histories ``[B, L]``)."""
    return RecBatch(
        ids={"user": user, "video": video, "duration_bucket": bucket, "tag": tag},
        history={"video": history_video, "duration_bucket": history_bucket, "tag": history_tag},
        history_mask=history_mask)


def replaced(batch: RecBatch, ids: dict | None = None, history: dict | None = None,
             history_mask: torch.Tensor | None = None,
             history_feedback: dict | None = None) -> RecBatch:
    """``batch`` with some id / history / history feedback tensors (by field) or the mask
    replaced."""
    return RecBatch({**batch.ids, **(ids or {})}, {**batch.history, **(history or {})},
                    batch.history_mask if history_mask is None else history_mask,
                    {**batch.history_feedback, **(history_feedback or {})})
