"""The video and user feature files in KuaiRand format, built from the latent population.

Only `video_id`, `author_id`, `video_duration` and `tag` (videos) and `user_id` and
`user_active_degree` (users, by activity rank) carry simulated signal; the other columns are
plausible filler drawn with the real slice's value ranges and rough frequencies.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from labelcraft.kuairand.schema import USER_COLUMNS, VIDEO_COLUMNS
from labelcraft.simulator.config import SimulationConfig
from labelcraft.simulator.population import Population

_UPLOAD_TYPES = ("LongImport", "Web", "ShortImport", "Kmovie", "LongPicture", "UNKNOWN")
_UPLOAD_TYPE_P = (0.386, 0.319, 0.121, 0.116, 0.019, 0.039)
_SCREENS = ((720.0, 1280.0), (1280.0, 720.0), (720.0, 1440.0), (1080.0, 1920.0), (960.0, 720.0))
_SCREEN_P = (0.70, 0.18, 0.05, 0.04, 0.03)
_MUSIC_TYPES = (9.0, 4.0, 8.0, 7.0)
_MUSIC_TYPE_P = (0.88, 0.09, 0.02, 0.01)

# Users by decreasing activity: (degree, share of users).
_ACTIVE_DEGREES = (
    ("full_active", 0.658), ("high_active", 0.226), ("middle_active", 0.078),
    ("2_14_day_new", 0.023), ("low_active", 0.011), ("single_low_active", 0.002),
    ("30day_retention", 0.001), ("day_new", 0.001),
)  # fmt: skip
# (column, log-normal mu, sigma, bin edges, right-closed bins, labels): counts and their ranges.
_COUNT_COLUMNS = (
    ("follow_user_num", 4.3, 1.3, (0, 10, 50, 100, 150, 250, 500), True,
     ("0", "(0,10]", "(10,50]", "(50,100]", "(100,150]", "(150,250]", "(250,500]", "500+")),
    ("fans_user_num", 3.3, 2.0, (1, 10, 100, 1_000, 5_000, 10_000, 100_000, 1_000_000), False,
     ("0", "[1,10)", "[10,100)", "[100,1k)", "[1k,5k)", "[5k,1w)", "[1w,10w)", "[10w,100w)",
      "100w+")),
    ("friend_user_num", 2.5, 1.7, (1, 5, 30, 60, 120, 250), False,
     ("0", "[1,5)", "[5,30)", "[30,60)", "[60,120)", "[120,250)", "250+")),
)  # fmt: skip
_REGISTER_EDGES = (15, 31, 61, 91, 181, 366, 731)
_REGISTER_LABELS = ("8-14", "15-30", "31-60", "61-90", "91-180", "181-365", "366-730", "730+")
# onehot_feat0..17: number of categories; the float columns have ~3 % missing values.
_ONEHOT_SIZES = (2, 7, 50, 1200, 9, 30, 3, 50, 400, 7, 5, 5, 2, 2, 2, 2, 2, 2)
_ONEHOT_FLOAT = frozenset({4, 12, 13, 14, 15, 16, 17})
_ONEHOT_MISSING = 0.03


def _strings(values: np.ndarray) -> pd.Series:
    """Object array [N] -> pandas string Series."""
    return pd.Series(values, dtype="str")


def _tag_strings(tags: np.ndarray) -> pd.Series:
    """Comma-joined tag lists from tags [V, 3] (-1 = none): Series [V] of str."""
    text = pd.Series(tags[:, 0].astype(str), dtype="str")
    for column in range(1, tags.shape[1]):
        more = pd.Series(np.char.add(",", tags[:, column].astype(str)), dtype="str")
        text = text + more.where(tags[:, column] >= 0, "")
    return text


def video_features(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> pd.DataFrame:
    """The 12 KuaiRand video-feature columns, one row per video."""
    n = config.n_videos
    author_ids = rng.choice(np.arange(1_000_000, 10_000_000), size=config.n_authors, replace=False)
    start = dt.date.fromisoformat(config.start_date)
    upload_dates = np.array([(start - dt.timedelta(days=k)).isoformat() for k in range(1, 31)])
    screens = np.asarray(_SCREENS)[rng.choice(len(_SCREENS), size=n, p=_SCREEN_P)]
    duration = population.duration_ms.astype(np.float64)
    frame = pd.DataFrame(
        {
            "video_id": np.arange(n, dtype=np.int64),
            "author_id": author_ids[population.author].astype(np.int64),
            "video_type": _strings(np.where(rng.random(n) < 0.01, "AD", "NORMAL")),
            "upload_dt": _strings(upload_dates[rng.integers(0, len(upload_dates), n)]),
            "upload_type": _strings(
                np.asarray(_UPLOAD_TYPES)[rng.choice(len(_UPLOAD_TYPES), size=n, p=_UPLOAD_TYPE_P)]
            ),
            "visible_status": np.zeros(n),
            "video_duration": np.where(duration > 0, duration, np.nan),
            "server_width": screens[:, 0],
            "server_height": screens[:, 1],
            "music_id": rng.integers(1_000_000_000, 10_000_000_000, n, dtype=np.int64),
            "music_type": np.asarray(_MUSIC_TYPES)[
                rng.choice(len(_MUSIC_TYPES), n, p=_MUSIC_TYPE_P)
            ],
            "tag": _tag_strings(population.video_tags),
        }
    )
    return frame[VIDEO_COLUMNS]


def _onehot(index: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Filler for onehot_feat{index}: small ints (float with NaN for the float columns) [N]."""
    values = rng.integers(0, _ONEHOT_SIZES[index], n)
    if index not in _ONEHOT_FLOAT:
        return values.astype(np.int64)
    return np.where(rng.random(n) < _ONEHOT_MISSING, np.nan, values.astype(np.float64))


def user_features(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> pd.DataFrame:
    """The 31 KuaiRand user-feature columns, one row per user."""
    n = config.n_users
    names, shares = zip(*_ACTIVE_DEGREES, strict=True)
    activity_rank = np.argsort(np.argsort(-population.activity)) / n  # [U] in [0, 1)
    degree = np.minimum(
        np.searchsorted(np.cumsum(shares), activity_rank, side="right"), len(names) - 1
    )
    columns: dict[str, object] = {
        "user_id": np.arange(n, dtype=np.int64),
        "user_active_degree": _strings(np.asarray(names)[degree]),
        "is_lowactive_period": np.zeros(n, dtype=np.int64),
        "is_live_streamer": np.where(rng.random(n) < 0.23, 1, -124).astype(np.int64),
        "is_video_author": (rng.random(n) < 0.82).astype(np.int64),
    }
    for name, mu, sigma, edges, right, labels in _COUNT_COLUMNS:
        counts = np.floor(rng.lognormal(mu, sigma, n) - 1.0).clip(0).astype(np.int64)
        columns[name] = counts
        columns[f"{name}_range"] = _strings(np.asarray(labels)[np.digitize(counts, edges, right)])
    register = rng.integers(8, 2500, n, dtype=np.int64)
    columns["register_days"] = register
    columns["register_days_range"] = _strings(
        np.asarray(_REGISTER_LABELS)[np.digitize(register, _REGISTER_EDGES)]
    )
    for index in range(len(_ONEHOT_SIZES)):
        columns[f"onehot_feat{index}"] = _onehot(index, n, rng)
    return pd.DataFrame(columns)[USER_COLUMNS]
