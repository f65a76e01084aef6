"""Column names, dtypes and file patterns of the three KuaiRand raw files."""

from __future__ import annotations

import numpy as np

LOG_PATTERN = "log_standard_*.csv"
VIDEO_PATTERN = "video_features_basic*.csv"
USER_PATTERN = "user_features*.csv"

SOURCE_COLUMNS: list[str] = ["source_file", "source_line"]
"""Provenance columns added by the reader: file name and 1-based line number (header = 1)."""

LOG_COLUMNS: list[str] = [
    "user_id",
    "video_id",
    "date",
    "hourmin",
    "time_ms",
    "is_click",
    "is_like",
    "is_follow",
    "is_comment",
    "is_forward",
    "is_hate",
    "long_view",
    "play_time_ms",
    "duration_ms",
    "profile_stay_time",
    "comment_stay_time",
    "is_profile_enter",
    "is_rand",
    "tab",
]

FLAG_COLUMNS: list[str] = [
    "is_click",
    "is_like",
    "is_follow",
    "is_comment",
    "is_forward",
    "is_hate",
    "long_view",
    "is_profile_enter",
    "is_rand",
]
"""Log columns whose only valid values are 0 and 1."""

NON_NEGATIVE_COLUMNS: list[str] = [
    "time_ms",
    "play_time_ms",
    "duration_ms",
    "profile_stay_time",
    "comment_stay_time",
]

_I8, _I16, _I32, _I64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))

LOG_INT_TYPES: dict[str, np.dtype] = {
    "user_id": _I64,
    "video_id": _I64,
    "date": _I32,
    "hourmin": _I16,
    "time_ms": _I64,
    "is_click": _I8,
    "is_like": _I8,
    "is_follow": _I8,
    "is_comment": _I8,
    "is_forward": _I8,
    "is_hate": _I8,
    "long_view": _I8,
    "play_time_ms": _I64,
    "duration_ms": _I64,
    "profile_stay_time": _I64,
    "comment_stay_time": _I64,
    "is_profile_enter": _I8,
    "is_rand": _I8,
    "tab": _I16,
}
"""Numpy dtype of every log column in the ingested `interactions` table (all 19 are required)."""

VIDEO_COLUMNS: list[str] = [
    "video_id",
    "author_id",
    "video_type",
    "upload_dt",
    "upload_type",
    "visible_status",
    "video_duration",
    "server_width",
    "server_height",
    "music_id",
    "music_type",
    "tag",
]

VIDEO_TYPES: dict[str, np.dtype] = {
    "video_id": np.dtype(np.int64),
    "author_id": np.dtype(np.int64),
    "video_duration": np.dtype(np.float64),
}
"""Video-file columns parsed by the ingestion (the others stay strings); `tag` is parsed apart."""

VIDEO_ATTRIBUTE_COLUMNS: list[str] = ["author_id", "first_tag", "video_duration_ms"]
"""Video attributes joined onto each interaction (nullable: Int64, Int64, float64)."""

USER_COLUMNS: list[str] = [
    "user_id",
    "user_active_degree",
    "is_lowactive_period",
    "is_live_streamer",
    "is_video_author",
    "follow_user_num",
    "follow_user_num_range",
    "fans_user_num",
    "fans_user_num_range",
    "friend_user_num",
    "friend_user_num_range",
    "register_days",
    "register_days_range",
    *[f"onehot_feat{i}" for i in range(18)],
]

COLUMN_SETS: dict[str, list[str]] = {
    "log": LOG_COLUMNS,
    "video": VIDEO_COLUMNS,
    "user": USER_COLUMNS,
}
"""Expected columns by file kind, as named in the dataset configuration."""

TAB_VALUES: tuple[int, ...] = tuple(range(15))
"""KuaiRand's tabs: 0..14 (every one occurs on the real slice); others are rejected."""
MAX_PLAY_TIME_MS = 24 * 3_600_000
"""Plausibility bound of ``play_time_ms`` (a day; the real slice's longest play is 898 s)."""
LOG_UTC_OFFSET_MS = 8 * 3_600_000
"""KuaiRand's ``date`` and ``hourmin`` are local time, UTC+8."""
DATE_TIME_TOLERANCE_MS = 3 * 3_600_000
"""How far the log's hour stamp (``date`` + ``hourmin``) may be from ``time_ms`` in UTC+8. On the
real slice it is always within -53..+131 minutes: the stamp is ``time_ms`` rounded to an hour
(mostly down, up in the last minutes of an hour), so 1,673 rows of the last minutes before
midnight carry the next day's ``date`` with ``hourmin`` 0."""
