"""The built-in simulator: determinism, KuaiRand schema, calibration and ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelcraft.kuairand.schema import LOG_COLUMNS, USER_COLUMNS, VIDEO_COLUMNS
from labelcraft.simulator import (
    REAL_SLICE_RATES,
    SimulatedData,
    SimulationConfig,
    calibration_report,
    simulate,
)
from labelcraft.simulator.feedback import sigmoid, solve_intercept
from labelcraft.simulator.policy import _repeated
from labelcraft.simulator.timing import day_start_ms, local_date_hourmin

SMALL = {"n_users": 400, "n_videos": 300, "n_days": 4}


@pytest.fixture(scope="module")
def default_data() -> SimulatedData:
    """The default configuration (3000 users, 14 days, ~200k rows; under a second)."""
    return simulate(SimulationConfig())


@pytest.fixture(scope="module")
def small_data() -> SimulatedData:
    return simulate(SimulationConfig.from_dict({**SMALL, "seed": 3}))


def _frames(data: SimulatedData) -> dict[str, pd.DataFrame]:
    return {
        "logs": data.logs,
        "videos": data.videos,
        "users": data.users,
        "truth_interactions": data.truth_interactions,
        "truth_users": data.truth_users,
        "truth_videos": data.truth_videos,
    }


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_frames(small_data: SimulatedData) -> None:
    again = simulate(SimulationConfig.from_dict({**SMALL, "seed": 3}))
    for name, frame in _frames(small_data).items():
        pd.testing.assert_frame_equal(frame, _frames(again)[name], obj=name)


def test_other_seed_gives_other_frames(small_data: SimulatedData) -> None:
    other = simulate(SimulationConfig.from_dict({**SMALL, "seed": 4}))
    for name, frame in _frames(small_data).items():
        assert not frame.equals(_frames(other)[name]), f"{name} did not change with the seed"


# ------------------------------------------------------------------ schema


def test_log_columns_order_and_int_dtypes(small_data: SimulatedData) -> None:
    logs = small_data.logs
    assert list(logs.columns) == LOG_COLUMNS
    assert all(dtype == np.dtype(np.int64) for dtype in logs.dtypes), logs.dtypes.to_dict()
    flags = [c for c in LOG_COLUMNS if c.startswith("is_")] + ["long_view"]
    assert set(np.unique(logs[flags].to_numpy())) <= {0, 1}
    assert (logs["is_rand"] == 0).all()
    assert logs["tab"].between(0, 14).all()
    for column in ("play_time_ms", "duration_ms", "profile_stay_time", "comment_stay_time"):
        assert (logs[column] >= 0).all(), column
    assert logs["time_ms"].is_monotonic_increasing


def test_video_and_user_files_have_kuairand_columns(small_data: SimulatedData) -> None:
    videos, users = small_data.videos, small_data.users
    assert list(videos.columns) == VIDEO_COLUMNS
    assert list(users.columns) == USER_COLUMNS
    assert videos["video_id"].tolist() == list(range(300))
    assert users["user_id"].tolist() == list(range(400))
    assert videos["video_duration"].dtype == np.float64
    assert pd.api.types.is_string_dtype(videos["tag"])
    assert videos["tag"].str.fullmatch(r"\d+(,\d+){0,2}").all()
    tags = videos["tag"].str.split(",")
    assert (tags.map(len) == tags.map(lambda t: len(set(t)))).all(), "repeated tag in a video"
    assert videos["author_id"].dtype == np.int64


def test_truth_tables_columns(small_data: SimulatedData) -> None:
    n_tags = small_data.config.n_tags
    assert list(small_data.truth_interactions.columns) == [
        "user_id", "video_id", "time_ms", "satisfaction", "interest", "quality",
    ]  # fmt: skip
    assert list(small_data.truth_users.columns) == [
        "user_id", "activity", "top_tag", *[f"interest_{t}" for t in range(n_tags)],
    ]  # fmt: skip
    assert list(small_data.truth_videos.columns) == ["video_id", "quality", "main_tag"]


# ------------------------------------------------------------------ calibration


def test_default_config_is_calibrated_within_factor_1_5(default_data: SimulatedData) -> None:
    table = calibration_report(default_data.logs)
    assert table["metric"].tolist() == list(REAL_SLICE_RATES)
    assert table["within_factor"].all(), table.to_string()
    assert 150_000 < len(default_data.logs) < 250_000


def test_calibration_report_by_hand() -> None:
    # 4 rows: 1 click, plays 0 / 2.999 / 3 / 40 s, durations 10 / 20 / 30 / 100 s.
    logs = pd.DataFrame(0, index=range(4), columns=LOG_COLUMNS)
    logs["is_click"] = [1, 0, 0, 0]
    logs["play_time_ms"] = [0, 2999, 3000, 40000]
    logs["duration_ms"] = [10000, 20000, 30000, 100000]
    logs["comment_stay_time"] = [0, 0, 5, 0]
    table = calibration_report(logs).set_index("metric")
    assert table.loc["click_rate", "simulated"] == 0.25
    assert table.loc["skip_rate", "simulated"] == 0.5
    assert table.loc["zero_play_rate", "simulated"] == 0.25
    assert table.loc["comment_view_rate", "simulated"] == 0.25
    assert table.loc["mean_play_time_s", "simulated"] == pytest.approx(45.999 / 4)
    assert table.loc["mean_duration_s", "simulated"] == 40.0
    assert table.loc["click_rate", "ratio"] == pytest.approx(0.25 / REAL_SLICE_RATES["click_rate"])


def test_calibration_report_from_rates_mapping() -> None:
    rates = {**REAL_SLICE_RATES, "like_rate": REAL_SLICE_RATES["like_rate"] * 1.6, "rows": 3.0}
    del rates["hate_rate"]
    table = calibration_report(rates, factor=1.5).set_index("metric")
    assert "hate_rate" not in table.index and "rows" not in table.index
    assert not table.loc["like_rate", "within_factor"]
    assert table.drop(index="like_rate")["within_factor"].all()
    assert len(table) == len(REAL_SLICE_RATES) - 1
    with pytest.raises(ValueError, match="factor"):
        calibration_report(rates, factor=0.5)
    with pytest.raises(ValueError, match="no known metric"):
        calibration_report({"rows": 3.0})


def test_solve_intercept_by_hand() -> None:
    assert solve_intercept(np.zeros(10), 0.5) == pytest.approx(0.0, abs=1e-9)
    assert solve_intercept(np.zeros(10), float(sigmoid(1.0))) == pytest.approx(1.0, abs=1e-9)
    # offsets -1 and +1: mean(sigmoid(a - 1), sigmoid(a + 1)) = 0.5 at a = 0 by symmetry
    assert solve_intercept(np.array([-1.0, 1.0]), 0.5) == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------ behaviour


def test_feedback_follows_satisfaction(default_data: SimulatedData) -> None:
    logs = default_data.logs
    quintile = pd.qcut(default_data.truth_interactions["satisfaction"], 5, labels=False)
    rates = logs.assign(skip=logs["play_time_ms"] < 3000).groupby(quintile.to_numpy()).mean()
    bottom, top = rates.loc[0], rates.loc[4]
    for column in ("is_like", "is_click", "long_view", "is_follow", "is_profile_enter"):
        assert top[column] > 2 * bottom[column], column
    assert bottom["is_hate"] > 2 * top["is_hate"]
    assert bottom["skip"] > 2 * top["skip"]
    assert bottom["play_time_ms"] < top["play_time_ms"]


def test_watch_time_shapes(default_data: SimulatedData) -> None:
    logs = default_data.logs
    play, duration = logs["play_time_ms"], logs["duration_ms"]
    threshold = np.minimum(duration.where(duration > 0, np.inf), 18_000)
    assert (logs["long_view"] == (play >= threshold)).all()
    assert 0.05 < ((play > duration) & (duration > 0)).mean() < 0.3, "replays beyond duration"
    assert 0.005 < (duration == 0).mean() < 0.03
    assert ((duration > 0) & (duration < 10_000)).mean() > 0.02, "no short videos"
    assert (logs["profile_stay_time"] > 0).eq(logs["is_profile_enter"] == 1).all()
    assert (logs.loc[logs["is_comment"] == 1, "comment_stay_time"] > 0).all()


def test_zero_duration_videos_have_missing_video_duration(small_data: SimulatedData) -> None:
    durations = small_data.logs.groupby("video_id")["duration_ms"].agg(["min", "max"])
    assert (durations["min"] == durations["max"]).all(), "a video's duration varies"
    file_duration = small_data.videos.set_index("video_id")["video_duration"]
    logged = durations["min"]
    expected = logged.astype(np.float64).where(logged > 0)
    pd.testing.assert_series_equal(file_duration.loc[logged.index], expected, check_names=False)


# ------------------------------------------------------------------ keys and ground truth


def test_user_video_time_is_unique(default_data: SimulatedData) -> None:
    assert not default_data.logs.duplicated(["user_id", "video_id", "time_ms"]).any()
    # the policy redraws videos a user has already seen: repeats are rare (real slice: 3.4 %)
    assert default_data.logs.duplicated(["user_id", "video_id"]).mean() < 0.08


def test_repeated_by_hand() -> None:
    seen = np.array([1, 7])
    assert _repeated(np.array([5, 3, 5, 7]), seen).tolist() == [False, False, True, True]
    assert _repeated(np.array([2, 2]), np.empty(0, dtype=np.int64)).tolist() == [False, True]


def test_truth_is_aligned_with_logs(small_data: SimulatedData) -> None:
    logs, truth = small_data.logs, small_data.truth_interactions
    key = ["user_id", "video_id", "time_ms"]
    pd.testing.assert_frame_equal(truth[key], logs[key])
    quality = small_data.truth_videos.set_index("video_id")["quality"]
    np.testing.assert_array_equal(truth["quality"], quality.loc[truth["video_id"]].to_numpy())
    # one-tag videos: interest is the user's interest in that tag
    users = small_data.truth_users.set_index("user_id")
    single = small_data.videos.set_index("video_id")["tag"]
    single = single[~single.str.contains(",")].astype(int)
    rows = truth[truth["video_id"].isin(single.index)]
    tag = single.loc[rows["video_id"]].to_numpy()
    interest = users.filter(like="interest_").to_numpy()[rows["user_id"].to_numpy(), tag]
    np.testing.assert_allclose(rows["interest"].to_numpy(), interest)
    assert (users["top_tag"] == users.filter(like="interest_").to_numpy().argmax(axis=1)).all()
    main_tag = small_data.videos["tag"].str.split(",").str[0].astype(int)
    assert (small_data.truth_videos["main_tag"] == main_tag).all()


# ------------------------------------------------------------------ calendar


def test_calendar_by_hand() -> None:
    assert day_start_ms("2022-04-08") == 1_649_347_200_000  # 2022-04-07 16:00 UTC
    # a real KuaiRand row: 2022-04-25 10:26:24 UTC = 18:26 in Beijing
    # and Beijing midnight of 2022-04-09 and the millisecond before it
    date, hourmin = local_date_hourmin(
        np.array([1_650_882_384_975, 1_649_433_600_000, 1_649_433_599_999])
    )
    assert date.tolist() == [20220425, 20220409, 20220408]
    assert hourmin.tolist() == [1800, 0, 2300]


def test_date_and_hourmin_match_time_ms(small_data: SimulatedData) -> None:
    logs = small_data.logs
    local = pd.to_datetime(logs["time_ms"], unit="ms", utc=True).dt.tz_convert("Asia/Shanghai")
    assert (logs["date"] == local.dt.strftime("%Y%m%d").astype(int)).all()
    assert (logs["hourmin"] == local.dt.hour * 100).all()
    days = pd.date_range("2022-04-08", periods=4).strftime("%Y%m%d").astype(int)
    assert set(logs["date"]) == set(days)


# ------------------------------------------------------------------ configuration


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"'n_user' \(did you mean 'n_users'\?\)"):
        SimulationConfig.from_dict({"n_user": 10})
    with pytest.raises(ValueError, match="'bogus'"):
        SimulationConfig.from_dict({"seed": 1, "bogus": 2})


def test_from_dict_round_trip() -> None:
    config = SimulationConfig.from_dict({"seed": 5, "hour_weights": [1.0] * 24})
    assert config.hour_weights == (1.0,) * 24
    assert SimulationConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"n_users": 0}, "n_users"),
        ({"explore_rate": 1.5}, "explore_rate"),
        ({"target_like": 0.0}, "target_like"),
        ({"hour_weights": [1.0] * 23}, "hour_weights"),
        ({"start_date": "08/04/2022"}, "start_date"),
    ],
)
def test_invalid_values_are_rejected(values: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"SimulationConfig.{field}"):
        SimulationConfig.from_dict(values)


def test_empty_simulation_is_an_error() -> None:
    with pytest.raises(ValueError, match="no log rows"):
        simulate(SimulationConfig(n_users=1, n_days=1, rows_per_user_day=1e-9))
