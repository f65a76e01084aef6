"""Marginal statistics of a KuaiRand-format log (raw 19 columns or the ingested table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

RATE_FLAGS: dict[str, str] = {
    "click_rate": "is_click",
    "like_rate": "is_like",
    "follow_rate": "is_follow",
    "comment_rate": "is_comment",
    "forward_rate": "is_forward",
    "hate_rate": "is_hate",
    "long_view_rate": "long_view",
    "profile_enter_rate": "is_profile_enter",
}
"""Rate name -> flag column."""

SHORT_PLAY_MS = 3000
"""`skip_rate` counts plays under 3 s, as the shared slice's README measures them."""


def interaction_rates(logs: pd.DataFrame) -> dict[str, float]:
    """Flag rates, short/zero-play and comment-view rates, mean play time and duration (s),
    and counts of rows, users, videos and days (rates are NaN when there are no rows)."""
    play = logs["play_time_ms"].to_numpy(dtype=np.float64)
    n = len(logs)
    rates = {name: float(logs[flag].mean()) for name, flag in RATE_FLAGS.items()}
    return {
        **rates,
        "skip_rate": float((play < SHORT_PLAY_MS).mean()) if n else float("nan"),
        "zero_play_rate": float((play == 0).mean()) if n else float("nan"),
        "comment_view_rate": float((logs["comment_stay_time"] > 0).mean()),
        "mean_play_time_s": float(play.mean() / 1000.0) if n else float("nan"),
        "mean_duration_s": float(logs["duration_ms"].mean() / 1000.0),
        "rows": float(n),
        "users": float(logs["user_id"].nunique()),
        "videos": float(logs["video_id"].nunique()),
        "days": float(logs["date"].nunique()),
    }
