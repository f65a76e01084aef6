"""Feedback matrix: one float32 row of observed feedback per interaction."""

from __future__ import annotations

import numpy as np
import pandas as pd

# output column -> source column in the interactions table (flags are 0/1)
FLAG_SOURCES: dict[str, str] = {
    "like": "is_like",
    "follow": "is_follow",
    "comment": "is_comment",
    "forward": "is_forward",
    "hate": "is_hate",
    "long_view": "long_view",
    "click": "is_click",
}
FEEDBACK_COLUMNS: tuple[str, ...] = (
    "play_time_s",
    "duration_s",
    *FLAG_SOURCES,
    "skip",
    "profile_enter",
)
FEEDBACK_SOURCES: tuple[str, ...] = (
    "play_time_ms",
    "duration_ms",
    *FLAG_SOURCES.values(),
    "is_profile_enter",
)


def build_feedback(interactions: pd.DataFrame, skip_seconds: float = 3.0) -> pd.DataFrame:
    """Feedback `[N, F]` float32 (columns FEEDBACK_COLUMNS), row-aligned with `interactions`.

    skip = play_time_s < skip_seconds and play_time_s < duration_s (exact, on integer ms), so a
    zero-length video is never a skip; no ratio is formed, a zero duration is harmless.
    """
    play_ms = interactions["play_time_ms"].to_numpy(dtype=np.float64, na_value=np.nan)
    duration_ms = interactions["duration_ms"].to_numpy(dtype=np.float64, na_value=np.nan)
    skip = (play_ms < skip_seconds * 1000.0) & (play_ms < duration_ms)
    columns: dict[str, np.ndarray] = {
        "play_time_s": (play_ms / 1000.0).astype(np.float32),
        "duration_s": (duration_ms / 1000.0).astype(np.float32),
    }
    for out, src in FLAG_SOURCES.items():
        columns[out] = interactions[src].to_numpy(dtype=np.float32)
    columns["skip"] = skip.astype(np.float32)
    columns["profile_enter"] = interactions["is_profile_enter"].to_numpy(dtype=np.float32)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(interactions)))
