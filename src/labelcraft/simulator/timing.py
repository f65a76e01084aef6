"""Timestamps of the exposures and their calendar columns, in Beijing time (UTC+8).

Within a session the plays follow each other: the next video starts after the previous play time
plus an exponential pause. A session starts at a random time in its hour, moved earlier when needed
so that it ends within its day. Times of one user are then made strictly increasing (a clash moves
the later row by 1 ms), so (user_id, time_ms) and hence (user_id, video_id, time_ms) are unique.
`date` (yyyymmdd) and `hourmin` (hour * 100, the hour floored) are derived from `time_ms` in UTC+8,
as in KuaiRand.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from labelcraft.simulator.config import SimulationConfig
from labelcraft.simulator.policy import Exposures

UTC_OFFSET_MS = 8 * 3_600_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def day_start_ms(start_date: str) -> int:
    """Epoch ms of midnight (UTC+8) of an ISO date."""
    midnight = dt.datetime.fromisoformat(start_date).replace(
        tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    return int(midnight.timestamp() * 1000)


def local_date_hourmin(time_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calendar columns of epoch ms [N] in UTC+8: date yyyymmdd [N] and hourmin hh00 [N]."""
    local = np.asarray(time_ms, dtype=np.int64) + UTC_OFFSET_MS
    days = (local // DAY_MS).astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]")
    month_of_year = months.astype(np.int64) % 12 + 1
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    date = years * 10_000 + month_of_year * 100 + day_of_month
    hourmin = (local % DAY_MS) // HOUR_MS * 100
    return date, hourmin


def _strictly_increasing_per_user(user: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """Smallest upward shift of time_ms [N] making each user's times distinct: [N]."""
    order = np.lexsort((time_ms, user))
    rank = np.arange(len(order), dtype=np.int64)
    shifted = pd.Series(time_ms[order] - rank).groupby(user[order]).cummax().to_numpy() + rank
    result = np.empty_like(time_ms)
    result[order] = shifted
    return result


def assign_times(
    config: SimulationConfig,
    exposures: Exposures,
    play_time_ms: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Epoch-ms timestamp of each exposure [N] (rows of a session must be contiguous)."""
    session = exposures.session
    n = len(session)
    gap = play_time_ms + np.round(rng.exponential(config.session_gap_mean_s * 1000.0, n)).astype(
        np.int64
    )
    first = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])  # [S'] first row per session
    row_segment = np.cumsum(np.r_[True, session[1:] != session[:-1]]) - 1  # [N]
    elapsed = np.cumsum(gap) - gap
    offset = elapsed - elapsed[first][row_segment]  # [N] ms since session start
    length = np.add.reduceat(gap, first)  # [S']
    ids = session[first]
    day_start = day_start_ms(config.start_date) + exposures.session_day[ids] * DAY_MS
    start = (
        day_start
        + exposures.session_hour[ids] * HOUR_MS
        + np.floor(rng.random(len(ids)) * HOUR_MS).astype(np.int64)
    )
    start = np.maximum(np.minimum(start, day_start + DAY_MS - 1 - length), day_start)
    return _strictly_increasing_per_user(exposures.user, start[row_segment] + offset)
