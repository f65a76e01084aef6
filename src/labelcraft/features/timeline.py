"""Per-user timelines: the sorted interactions table as a CSR store, history pointers."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMELINE_ORDER: tuple[str, str, str] = ("user_id", "time_ms", "video_id")


def timeline_order(interactions: pd.DataFrame) -> np.ndarray:
    """Stable permutation `[N]` sorting the rows by (user_id, time_ms, video_id)."""
    keys = [interactions[c].to_numpy(dtype=np.int64) for c in reversed(TIMELINE_ORDER)]
    return np.lexsort(keys)


def _run_starts(new_run: np.ndarray) -> np.ndarray:
    """For each position `[N]`, the index of the first position of its run (new_run True)."""
    return np.maximum.accumulate(np.where(new_run, np.arange(len(new_run)), 0))


def timeline_pointers(user_id: np.ndarray, time_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (timeline_start, history_end) `[N]` int64 for rows sorted by (user_id, time_ms).

    timeline_start[r] is the first row of r's user; history_end[r] the first row of that user
    with time_ms >= time_ms[r], so rows [timeline_start, history_end) are strictly earlier.
    """
    user_id = np.asarray(user_id)
    time_ms = np.asarray(time_ms)
    n = len(user_id)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    new_user = np.empty(n, dtype=bool)
    new_user[0] = True
    np.not_equal(user_id[1:], user_id[:-1], out=new_user[1:])
    new_time = new_user.copy()
    new_time[1:] |= time_ms[1:] != time_ms[:-1]
    unsorted = (user_id[1:] < user_id[:-1]) | (~new_user[1:] & (time_ms[1:] < time_ms[:-1]))
    if unsorted.any():
        first = int(np.argmax(unsorted)) + 1
        raise ValueError(f"rows must be sorted by (user_id, time_ms); first unsorted row {first}")
    return _run_starts(new_user).astype(np.int64), _run_starts(new_time).astype(np.int64)
