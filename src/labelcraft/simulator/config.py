"""Every knob of the simulator in one frozen dataclass, and the real rates it is calibrated to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from labelcraft.config import from_params

REAL_SLICE_RATES: dict[str, float] = {
    "click_rate": 0.44244,
    "like_rate": 0.017205,
    "follow_rate": 0.0013401,
    "comment_rate": 0.0025451,
    "forward_rate": 0.00078353,
    "hate_rate": 0.00084837,
    "long_view_rate": 0.31112,
    "profile_enter_rate": 0.018588,
    "skip_rate": 0.41521,
    "zero_play_rate": 0.097957,
    "comment_view_rate": 0.043564,
    "mean_play_time_s": 21.475,
    "mean_duration_s": 107.19,
}
"""Marginal rates measured on the real KuaiRand-Pure slice (185,061 rows, 2022-04-25..05-05).

Rates are per log row: ``skip_rate`` = play < 3 s, ``zero_play_rate`` = play == 0 ms,
``comment_view_rate`` = ``comment_stay_time > 0`` (the comment section was opened); the other
``*_rate`` keys are means of the log's flag columns (names as in the ingestion's rates).
"""

# Hour-of-day profile (UTC+8) of the real slice: rows per hour 0..23.
REAL_HOUR_WEIGHTS: tuple[float, ...] = (
    7510, 4536, 2984, 1818, 1491, 1649, 3012, 4630, 5942, 7240, 8217, 9419,
    10517, 10417, 9433, 9525, 10141, 10889, 10637, 10042, 10535, 11085, 11967, 11425,
)  # fmt: skip

# Share of rows per `tab` value 0..14 in the real slice.
REAL_TAB_WEIGHTS: tuple[float, ...] = (
    0.0891, 0.7569, 0.0283, 0.0015, 0.0593, 0.0028, 0.0521, 0.0006,
    0.0049, 0.0007, 0.0003, 0.0010, 0.0022, 0.0004, 0.0001,
)  # fmt: skip

_PROBABILITY_FIELDS = (
    "duration_zero_prob",
    "main_tag_weight",
    "author_quality_share",
    "explore_rate",
    "skip_zero_fraction",
    "replay_prob",
)
_POSITIVE_FIELDS = (
    "n_users",
    "n_videos",
    "n_days",
    "n_tags",
    "n_authors",
    "rows_per_user_day",
    "duration_log_sigma",
    "duration_max_s",
    "interest_concentration",
    "quality_sigma",
    "policy_temperature",
    "session_gap_mean_s",
    "skip_seconds",
    "partial_sigma",
    "long_view_seconds",
    "calibration_sample",
)


@dataclass(frozen=True)
class SimulationConfig:
    """All parameters of the generative model; defaults reproduce the real slice's rates.

    Build it from a plain dict with :meth:`from_dict` (unknown keys are an error). The event
    intercepts are not knobs: they are solved at simulation time so each event's marginal rate
    equals its ``target_*`` rate; the ``*_slope`` knobs set how strongly it follows satisfaction.
    """

    # --- size and calendar
    seed: int = 0
    n_users: int = 3000
    n_videos: int = 2000
    n_days: int = 14
    start_date: str = "2022-04-08"  # first day, a calendar day in UTC+8 (Beijing time)
    rows_per_user_day: float = 4.8  # Poisson mean per user and day at activity 1 (~200k rows)
    activity_sigma: float = 1.0  # log-normal spread of user activity (mean activity is 1)

    # --- catalogue
    n_tags: int = 30
    n_authors: int = 1500
    tag_zipf_exponent: float = 0.8  # tag popularity ~ rank^-exponent
    tag_count_probs: tuple[float, float, float] = (0.75, 0.23, 0.02)  # P(1, 2, 3 tags)
    main_tag_weight: float = 0.7  # share of the main tag in a multi-tag video's interest
    duration_log_mean: float = 4.12  # log seconds
    duration_log_sigma: float = 1.05
    duration_max_s: float = 1200.0
    duration_zero_prob: float = 0.015  # videos whose duration is recorded as 0 / missing
    quality_sigma: float = 1.0
    author_quality_share: float = 0.3  # variance share of quality shared by an author's videos
    popularity_quality_weight: float = 0.8  # log popularity = w * quality + noise
    popularity_sigma: float = 1.0
    popularity_drift_sigma: float = 0.15  # daily random walk of log popularity

    # --- users
    interest_concentration: float = 0.3  # Dirichlet concentration per tag (small = peaked)

    # --- logging policy
    policy_temperature: float = 1.0  # > 1 flattens the policy's tag distribution
    policy_noise_sigma: float = 0.7  # log-noise of the policy's estimate of user interest
    explore_rate: float = 0.1  # share of exposures drawn uniformly from the catalogue
    repeat_redraws: int = 3  # redraws of a video already shown to the user (0: allow repeats)
    session_extra_mean: float = 0.6  # sessions per active user-day = 1 + Poisson(this)
    session_gap_mean_s: float = 6.0  # mean pause after a play before the next video
    hour_weights: tuple[float, ...] = REAL_HOUR_WEIGHTS
    tab_weights: tuple[float, ...] = REAL_TAB_WEIGHTS

    # --- satisfaction = w_i * log(n_tags * interest + 0.1) + w_q * quality + noise
    satisfaction_interest_weight: float = 0.5
    satisfaction_quality_weight: float = 0.6
    satisfaction_noise_sigma: float = 0.7

    # --- watch time
    skip_seconds: float = 3.0  # a skip is a play shorter than this
    skip_slope: float = 1.0  # logit(skip) = a - slope * satisfaction
    skip_zero_fraction: float = 0.236  # share of skips that play 0 ms
    complete_intercept: float = -2.4  # logit(complete | no skip) at satisfaction 0, 60 s video
    complete_slope: float = 0.8
    complete_duration_slope: float = 1.4  # logit drop per unit of log(duration / 60 s)
    partial_mean: float = -2.5  # logit of the watched share of a partial play
    partial_slope: float = 0.6
    partial_quality_slope: float = 0.2
    partial_duration_slope: float = 0.7
    partial_sigma: float = 2.0
    replay_prob: float = 0.85  # share of completions that loop beyond the end
    replay_log_mean: float = -1.7  # log of the extra share of duration replayed
    replay_log_sigma: float = 1.3
    long_view_seconds: float = 18.0  # long_view: play >= min(duration, this)

    # --- events: logit = a + slope * satisfaction (+ bonus on long views)
    click_slope: float = 0.5
    click_watch_logit: float = 4.0  # click log-odds bonus when the play is not a skip
    like_slope: float = 0.8
    follow_slope: float = 0.8
    comment_slope: float = 0.6
    forward_slope: float = 0.6
    profile_enter_slope: float = 0.5
    comment_view_slope: float = 0.3
    hate_slope: float = 0.8  # logit(hate) = a - slope * satisfaction
    engagement_long_view_logit: float = 1.5  # bonus of positive events on long views
    comment_stay_log_mean: float = 8.7  # log ms, comment section stay (median ~6 s)
    comment_stay_log_sigma: float = 1.0
    profile_stay_log_mean: float = 8.5  # log ms, profile stay
    profile_stay_log_sigma: float = 1.5

    # --- target marginal rates (the event intercepts are solved to reach them)
    target_skip: float = REAL_SLICE_RATES["skip_rate"]
    target_click: float = REAL_SLICE_RATES["click_rate"]
    target_like: float = REAL_SLICE_RATES["like_rate"]
    target_follow: float = REAL_SLICE_RATES["follow_rate"]
    target_comment: float = REAL_SLICE_RATES["comment_rate"]
    target_forward: float = REAL_SLICE_RATES["forward_rate"]
    target_hate: float = REAL_SLICE_RATES["hate_rate"]
    target_profile_enter: float = REAL_SLICE_RATES["profile_enter_rate"]
    target_comment_view: float = REAL_SLICE_RATES["comment_view_rate"]
    calibration_sample: int = 200_000  # rows used to solve the intercepts

    def __post_init__(self) -> None:
        """Reject values the model cannot use, naming the field."""

        def fail(name: str, rule: str) -> None:
            raise ValueError(f"SimulationConfig.{name} must be {rule}, got {getattr(self, name)!r}")

        for name in _POSITIVE_FIELDS:
            if not getattr(self, name) > 0:
                fail(name, "> 0")
        if self.repeat_redraws < 0:
            fail("repeat_redraws", ">= 0")
        for name in _PROBABILITY_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                fail(name, "in [0, 1]")
        for name in (f.name for f in fields(self) if f.name.startswith("target_")):
            if not 0.0 < getattr(self, name) < 1.0:
                fail(name, "in (0, 1)")
        for name, length in (("hour_weights", 24), ("tag_count_probs", 3), ("tab_weights", 0)):
            values = getattr(self, name)
            if (length and len(values) != length) or min(values) < 0 or sum(values) <= 0:
                fail(name, f"{length or 'some'} non-negative weights with a positive sum")
        try:
            dt.date.fromisoformat(self.start_date)
        except (TypeError, ValueError):
            fail("start_date", "an ISO date like '2022-04-08'")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SimulationConfig:
        """Build a config from plain values (lists become tuples); unknown keys raise ValueError."""
        return from_params(cls, values, "simulation parameter")

    def to_dict(self) -> dict[str, Any]:
        """Plain-value copy (tuples become lists) that :meth:`from_dict` accepts back."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
