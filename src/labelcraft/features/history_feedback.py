"""What a user did with an item and in which context, as the histories of later items see it.

Per interaction (``model_inputs`` columns, small integer codes, 0 = padding):
- ``feedback_class``: 1 skip (the project's skip rule, `build_feedback`), 2 play, 3 long view
  (KuaiRand's ``long_view`` flag; a skip is a skip even if flagged long view);
- ``action_bits``: bit ``i`` set when action ``ACTION_FLAGS[i]`` happened;
- ``play_ratio_bucket``: 1 + index of play / duration among `PLAY_RATIO_EDGES` (a zero duration
  counts as 1 ms);
- ``tab_idx``: 1 + the log's ``tab`` clipped to [0, `MAX_TAB`] (KuaiRand's tabs are 0..14);
- ``hour_idx``: 1 + the hour of day of ``hourmin``.
At gather time each history item also gets ``time_gap_bucket`` (`time_gap_bucket`): the log2
bucket of the seconds between it and the target. Only strictly earlier items enter a history
(`gather_history`), so no target's own feedback reaches its input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

ACTION_FLAGS: tuple[str, ...] = ("like", "follow", "comment", "forward", "profile_enter", "hate")
"""Feedback columns of the action bits, bit 0 first."""
PLAY_RATIO_EDGES: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0)
MAX_TAB = 15
MAX_GAP_BUCKET = 24  # log2(1 + seconds) >= 24: about half a year
SKIP, PLAY, LONG_VIEW = 1, 2, 3

HISTORY_FEEDBACK_COLUMNS: tuple[str, ...] = (
    "feedback_class", "action_bits", "play_ratio_bucket", "tab_idx", "hour_idx")
"""The per-row ``model_inputs`` columns gathered for history items."""
VOCAB_SIZES: dict[str, int] = {
    "feedback_class": LONG_VIEW + 1,
    "play_ratio_bucket": len(PLAY_RATIO_EDGES) + 2,
    "tab_idx": MAX_TAB + 2,
    "hour_idx": 25,
    "time_gap_bucket": MAX_GAP_BUCKET + 2,
}
"""Embedding table sizes of the coded fields (index 0 included); ``action_bits`` is a bit set
of ``len(ACTION_FLAGS)`` flags."""


def hourmin_message(rows: list[int]) -> str:
    """The error message for hours of day outside 0..23 at the first timeline rows `rows`."""
    return f"hourmin outside 0..2359 at rows {rows}"


def history_feedback_columns(feedback: pd.DataFrame, tab: np.ndarray,
                             hourmin: np.ndarray) -> dict[str, np.ndarray]:
    """The `HISTORY_FEEDBACK_COLUMNS` `[N]` int8 of row-aligned ``feedback`` (`build_feedback`),
    ``tab`` and ``hourmin`` `[N]`."""
    play = feedback["play_time_s"].to_numpy(np.float64)
    duration = np.maximum(feedback["duration_s"].to_numpy(np.float64), 1e-3)
    skip = feedback["skip"].to_numpy() > 0
    long_view = feedback["long_view"].to_numpy() > 0
    feedback_class = np.where(skip, SKIP, np.where(long_view, LONG_VIEW, PLAY))
    bits = np.zeros(len(feedback), dtype=np.int64)
    for bit, name in enumerate(ACTION_FLAGS):
        bits |= (feedback[name].to_numpy() > 0).astype(np.int64) << bit
    ratio = np.searchsorted(np.asarray(PLAY_RATIO_EDGES), play / duration, side="right") + 1
    hour = np.asarray(hourmin, dtype=np.int64) // 100
    if len(hour) and (hour.min() < 0 or hour.max() > 23):
        bad = np.flatnonzero((hour < 0) | (hour > 23))[:5].tolist()
        raise ValueError(hourmin_message(bad))
    return {
        "feedback_class": feedback_class.astype(np.int8),
        "action_bits": bits.astype(np.int8),
        "play_ratio_bucket": ratio.astype(np.int8),
        "tab_idx": (np.clip(np.asarray(tab, dtype=np.int64), 0, MAX_TAB) + 1).astype(np.int8),
        "hour_idx": (hour + 1).astype(np.int8),
    }


def time_gap_bucket(gap_ms: torch.Tensor) -> torch.Tensor:
    """Bucket ``1 + floor(log2(1 + seconds))`` (capped at ``MAX_GAP_BUCKET + 1``) of time gaps
    ``[...]`` long ms >= 0."""
    seconds = gap_ms.clamp(min=0).to(torch.float64) / 1000.0
    return (torch.log2(1.0 + seconds).floor().clamp(max=MAX_GAP_BUCKET) + 1).to(torch.long)


def action_matrix(bits: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The action flags ``[..., len(ACTION_FLAGS)]`` (0/1, ``dtype``) of action bits ``[...]``."""
    shifts = torch.arange(len(ACTION_FLAGS), device=bits.device)
    return ((bits.unsqueeze(-1) >> shifts) & 1).to(dtype)
