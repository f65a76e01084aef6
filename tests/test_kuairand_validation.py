"""Typing, row-level validation and enrichment of KuaiRand logs (small files + the real slice)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelcraft.kuairand.rates import interaction_rates
from labelcraft.kuairand.reader import KuaiRandFormatError, read_kuairand_dir
from labelcraft.kuairand.schema import (
    FLAG_COLUMNS,
    LOG_COLUMNS,
    LOG_INT_TYPES,
    LOG_PATTERN,
    NON_NEGATIVE_COLUMNS,
    USER_COLUMNS,
    USER_PATTERN,
    VIDEO_ATTRIBUTE_COLUMNS,
    VIDEO_COLUMNS,
    VIDEO_PATTERN,
)
from labelcraft.kuairand.validation import (
    ingest,
    parse_columns,
    parse_user_ids,
    parse_videos,
)
from labelcraft.pipelines.ingestion.nodes import ingest_logs

BASE_LINE = "0,1,20220425,1800,1650882384975,0,0,0,0,0,0,0,1033,168241,0,0,0,0,1"
BASE = dict(zip(LOG_COLUMNS, BASE_LINE.split(","), strict=True))
VIDEO_HEADER = ",".join(VIDEO_COLUMNS)
VIDEOS = [
    '1,700,NORMAL,2022-04-10,Web,0.0,168241.0,720.0,1280.0,91,9.0,"20,43"',
    "2,,NORMAL,2022-04-10,Web,0.0,,720.0,1280.0,92,9.0,",
    "3,701,NORMAL,2022-04-10,Web,0.0,6400.0,720.0,1280.0,93,9.0,7",
]


def log_line(**values: str | int) -> str:
    """One log CSV line: BASE with some columns replaced."""
    row = {**BASE, **{k: str(v) for k, v in values.items()}}
    return ",".join(row[c] for c in LOG_COLUMNS)


def write_dir(directory: Path, logs: dict[str, list[str]], videos: list[str] = VIDEOS) -> Path:
    """Write log files {name: lines} and one video file into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in logs.items():
        (directory / name).write_text("\n".join([",".join(LOG_COLUMNS), *lines]) + "\n")
    (directory / "video_features_basic.csv").write_text("\n".join([VIDEO_HEADER, *videos]) + "\n")
    return directory


def read_dir(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        read_kuairand_dir(directory, LOG_PATTERN, LOG_COLUMNS),
        read_kuairand_dir(directory, VIDEO_PATTERN, VIDEO_COLUMNS),
    )


def ingest_lines(tmp_path: Path, lines: list[str], videos: list[str] = VIDEOS):
    return ingest(*read_dir(write_dir(tmp_path, {"log_standard_t.csv": lines}, videos)))


# ---- file-level parse errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("play_time_ms", "abc", "int64"),
        ("play_time_ms", "1.5", "int64"),
        ("user_id", "0x10", "int64"),
        ("user_id", "+5", "int64"),
        ("tab", " 1", "int16"),
        ("is_click", "300", "int8"),
        ("date", "99999999999", "int32"),
        ("time_ms", "9223372036854775808", "int64"),  # int64 max + 1
        ("user_id", "-9223372036854775809", "int64"),
        ("user_id", "1" * 20, "int64"),
    ],
)
def test_unparsable_value_is_a_file_error(tmp_path: Path, column: str, value: str, kind: str):
    lines = [log_line(), log_line(user_id=5), log_line(**{column: value})]
    with pytest.raises(KuaiRandFormatError) as err:
        ingest_lines(tmp_path, lines)
    message = str(err.value)
    assert message.startswith("log_standard_t.csv: ")
    assert f"column '{column}': 1 value(s) are not valid {kind}" in message
    assert f"log_standard_t.csv:4={value!r}" in message


def test_every_int64_value_is_accepted(tmp_path: Path) -> None:
    """19-digit ids within int64 parse exactly (up to the bounds themselves)."""
    ids = ["9223372036854775807", "-9223372036854775808", "1" * 19, "0"]
    lines = [log_line(user_id=value, video_id=1 + i % 3) for i, value in enumerate(ids)]
    interactions, rejected, _ = ingest_lines(tmp_path, lines)
    assert rejected.empty
    assert interactions["user_id"].tolist() == [int(value) for value in ids]


def test_parse_error_lists_every_bad_column_and_first_five_rows(tmp_path: Path) -> None:
    lines = [log_line(video_id=f"v{i}") for i in range(7)] + [log_line(tab="1.0")]
    with pytest.raises(KuaiRandFormatError) as err:
        ingest_lines(tmp_path, lines)
    message = str(err.value)
    assert "column 'video_id': 7 value(s)" in message
    assert "log_standard_t.csv:6='v4'" in message
    assert "log_standard_t.csv:7='v5'" not in message
    assert "column 'tab': 1 value(s) are not valid int16, first: log_standard_t.csv:9='1.0'" in (
        message
    )


def test_parse_columns_types_and_nulls(tmp_path: Path) -> None:
    raw = pd.DataFrame(
        {
            "a": ["1", "", "-7"],
            "b": ["1.5", "", "2e3"],
            "source_file": "f.csv",
            "source_line": [2, 3, 4],
        }
    )
    typed = parse_columns(raw, {"a": np.dtype(np.int16), "b": np.dtype(np.float64)}, "f.csv")
    assert typed["a"].dtype == "Int16"
    assert typed["a"].tolist() == [1, pd.NA, -7]
    assert typed["b"].dtype == np.float64
    np.testing.assert_array_equal(typed["b"].to_numpy(), [1.5, np.nan, 2000.0])


# ---- video table ---------------------------------------------------------------------------


def test_parse_videos(tmp_path: Path) -> None:
    _, raw_videos = read_dir(write_dir(tmp_path, {"log_standard_t.csv": []}))
    videos = parse_videos(raw_videos)
    assert videos["video_id"].tolist() == [1, 2, 3]
    assert videos["video_id"].dtype == np.int64
    assert videos["author_id"].dtype == "Int64"
    assert videos["author_id"].tolist() == [700, pd.NA, 701]
    assert videos["first_tag"].dtype == "Int64"
    assert videos["first_tag"].tolist() == [20, pd.NA, 7]
    assert videos["video_duration_ms"].dtype == np.float64
    np.testing.assert_array_equal(videos["video_duration_ms"], [168241.0, np.nan, 6400.0])


def test_repeated_video_id_is_a_file_error(tmp_path: Path) -> None:
    videos = [*VIDEOS, VIDEOS[1].replace("2,", "3,", 1)]
    with pytest.raises(KuaiRandFormatError) as err:
        parse_videos(read_dir(write_dir(tmp_path, {"log_standard_t.csv": []}, videos))[1])
    message = str(err.value)
    assert "video_features_basic.csv: column 'video_id': 2 rows share a video_id" in message
    assert "video_features_basic.csv:4='3', video_features_basic.csv:5='3'" in message


def test_empty_video_id_is_a_file_error(tmp_path: Path) -> None:
    videos = [*VIDEOS, "," + VIDEOS[2].split(",", 1)[1]]
    with pytest.raises(KuaiRandFormatError, match=r"empty video_id: video_features_basic.csv:5"):
        parse_videos(read_dir(write_dir(tmp_path, {"log_standard_t.csv": []}, videos))[1])


def _users(tmp_path: Path, ids: list[str]) -> pd.DataFrame:
    """Raw user file rows with the given user_id values (other columns empty)."""
    rest = "," * (len(USER_COLUMNS) - 1)
    (tmp_path / "user_features.csv").write_text(
        "\n".join([",".join(USER_COLUMNS), *(f"{i}{rest}" for i in ids)]) + "\n"
    )
    return read_kuairand_dir(tmp_path, USER_PATTERN, USER_COLUMNS)


def test_user_ids_are_parsed_strictly(tmp_path: Path) -> None:
    assert parse_user_ids(_users(tmp_path, ["5", "7"])).tolist() == [5, 7]
    with pytest.raises(KuaiRandFormatError) as err:
        parse_user_ids(_users(tmp_path, ["5", "x7", "8", "9.5"]))
    message = str(err.value)
    assert "user_features.csv: column 'user_id': 2 value(s) are not valid int64" in message
    assert "user_features.csv:3='x7', user_features.csv:5='9.5'" in message
    with pytest.raises(KuaiRandFormatError, match=r"empty user_id: user_features.csv:3"):
        parse_user_ids(_users(tmp_path, ["5", ""]))


def test_bad_tag_list_is_a_file_error(tmp_path: Path) -> None:
    videos = [VIDEOS[0], VIDEOS[1] + '"20,x"']
    with pytest.raises(KuaiRandFormatError) as err:
        parse_videos(read_dir(write_dir(tmp_path, {"log_standard_t.csv": []}, videos))[1])
    assert "column 'tag'" in str(err.value)
    assert "video_features_basic.csv:3='20,x'" in str(err.value)


# ---- row-level rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"user_id": ""}, "null:user_id"),
        ({"tab": ""}, "null:tab"),
        ({"play_time_ms": "-1"}, "negative:play_time_ms"),
        ({"comment_stay_time": "-5"}, "negative:comment_stay_time"),
        ({"is_like": "2"}, "flag_out_of_range:is_like"),
        ({"is_rand": "-1"}, "flag_out_of_range:is_rand"),
        ({"video_id": "99"}, "unknown_video"),
        # priority: null before negative before flag before unknown video
        ({"video_id": "99", "is_click": "2", "duration_ms": "-3", "tab": ""}, "null:tab"),
        ({"video_id": "99", "is_click": "2", "duration_ms": "-3"}, "negative:duration_ms"),
        ({"video_id": "99", "long_view": "5"}, "flag_out_of_range:long_view"),
        ({"date": "", "user_id": ""}, "null:user_id"),
        # plausibility: parses, cannot be true
        ({"date": "20220231"}, "invalid_date"),
        ({"date": "20221301"}, "invalid_date"),
        ({"hourmin": "2400"}, "hourmin_out_of_range"),
        ({"hourmin": "1830"}, "hourmin_out_of_range"),
        ({"tab": "15"}, "tab_out_of_range"),
        ({"play_time_ms": str(10**12)}, "implausible_play_time"),
        ({"play_time_ms": str(24 * 3_600_000 + 1)}, "implausible_play_time"),
        ({"date": "20220426"}, "date_time_mismatch"),  # 18:26 local on the 25th
        ({"hourmin": "2200"}, "date_time_mismatch"),  # 4 h after 18:26
        ({"video_id": "99", "tab": "15"}, "tab_out_of_range"),  # before unknown video
        ({"is_like": "2", "date": "20220231"}, "flag_out_of_range:is_like"),
    ],
)
def test_row_level_reasons(tmp_path: Path, values: dict[str, str], reason: str) -> None:
    interactions, rejected, report = ingest_lines(
        tmp_path, [log_line(), log_line(**values), log_line(user_id=3)]
    )
    assert interactions["user_id"].tolist() == [0, 3]
    assert rejected["reason"].tolist() == [reason]
    assert rejected["source_line"].tolist() == [3]
    expected = {**BASE, **values}
    assert rejected[LOG_COLUMNS].iloc[0].tolist() == [expected[c] for c in LOG_COLUMNS]
    assert report["rejected_by_reason"] == {reason: 1}


def test_hour_stamps_within_tolerance_are_kept(tmp_path: Path) -> None:
    """The real logs round time_ms to an hour stamp: up to 3 h apart is kept (a row logged at
    23:57 on the 24th with date 20220425 and hourmin 0, as on the real slice)."""
    before_midnight = 1650815834939  # 2022-04-24 23:57:14.939 UTC+8
    lines = [log_line(date=20220425, hourmin=0, time_ms=before_midnight),
             log_line(hourmin=2100), log_line(hourmin=1600, play_time_ms=24 * 3_600_000)]
    interactions, rejected, _ = ingest_lines(tmp_path, lines)
    assert len(interactions) == 3 and rejected.empty


def test_exact_duplicates_keep_first_copy_only(tmp_path: Path) -> None:
    lines = [
        log_line(),  # line 2: kept
        log_line(play_time_ms=5),  # line 3: same (user, video, time), differs: kept
        log_line(),  # line 4: exact copy of line 2
        log_line(user_id=1),  # line 5: kept
        log_line(),  # line 6: exact copy of line 2
        log_line(play_time_ms=-1),  # line 7: negative
        log_line(play_time_ms=-1),  # line 8: same values as rejected line 7: same reason
    ]
    interactions, rejected, report = ingest_lines(tmp_path, lines)
    assert interactions["play_time_ms"].tolist() == [1033, 5, 1033]
    assert interactions["user_id"].tolist() == [0, 0, 1]
    assert rejected["source_line"].tolist() == [4, 6, 7, 8]
    assert rejected["reason"].tolist() == [
        "exact_duplicate",
        "exact_duplicate",
        "negative:play_time_ms",
        "negative:play_time_ms",
    ]
    assert report["exact_duplicates"] == 2


def test_exact_duplicates_across_files_and_report(tmp_path: Path) -> None:
    directory = write_dir(
        tmp_path,
        {
            "log_standard_1.csv": [log_line(), log_line(video_id=2), log_line(user_id="")],
            "log_standard_2.csv": [log_line(video_id=3), log_line()],
        },
    )
    interactions, rejected, report = ingest(*read_dir(directory))
    assert interactions["video_id"].tolist() == [1, 2, 3]
    assert rejected[["source_file", "source_line", "reason"]].values.tolist() == [
        ["log_standard_1.csv", 4, "null:user_id"],
        ["log_standard_2.csv", 3, "exact_duplicate"],
    ]
    assert report == {
        "input_rows": 5,
        "kept_rows": 3,
        "rejected_rows": 2,
        "rejected_by_reason": {"null:user_id": 1, "exact_duplicate": 1},
        "exact_duplicates": 1,
        "files": [
            {"file": "log_standard_1.csv", "rows": 3, "kept": 2, "rejected": 1},
            {"file": "log_standard_2.csv", "rows": 2, "kept": 1, "rejected": 1},
        ],
    }


def test_interactions_dtypes_order_and_video_join(tmp_path: Path) -> None:
    lines = [log_line(video_id=3, user_id=9), log_line(video_id=2), log_line(video_id=1)]
    interactions, rejected, _ = ingest_lines(tmp_path, lines)
    assert len(rejected) == 0
    assert interactions.index.tolist() == [0, 1, 2]
    assert {c: interactions[c].dtype for c in LOG_COLUMNS} == LOG_INT_TYPES
    assert interactions["user_id"].tolist() == [9, 0, 0]
    assert interactions["author_id"].dtype == "Int64"
    assert interactions["author_id"].tolist() == [701, pd.NA, 700]
    assert interactions["first_tag"].tolist() == [7, pd.NA, 20]
    np.testing.assert_array_equal(interactions["video_duration_ms"], [6400.0, np.nan, 168241.0])


def test_header_only_logs_give_empty_tables(tmp_path: Path) -> None:
    interactions, rejected, report = ingest_lines(tmp_path, [])
    assert len(interactions) == 0 and len(rejected) == 0
    assert {c: interactions[c].dtype for c in LOG_COLUMNS} == LOG_INT_TYPES
    assert report["input_rows"] == 0
    assert report["files"] == []  # the report lists the files that hold rows


def test_interaction_rates_hand_computed(tmp_path: Path) -> None:
    lines = [
        log_line(user_id=1, is_click=1, is_like=1, play_time_ms=3000, duration_ms=10000),
        log_line(user_id=1, video_id=2, long_view=1, play_time_ms=1000, duration_ms=0),
        log_line(user_id=2, date=20220426, time_ms=1650882384975 + 86_400_000, is_click=1,
                 play_time_ms=2000, duration_ms=2000),
        log_line(user_id=3, is_profile_enter=1, is_hate=1, play_time_ms=0, duration_ms=4000),
    ]
    interactions, _, _ = ingest_lines(tmp_path, lines)
    rates = interaction_rates(interactions)
    assert rates == {
        "click_rate": 0.5,
        "like_rate": 0.25,
        "follow_rate": 0.0,
        "comment_rate": 0.0,
        "forward_rate": 0.0,
        "hate_rate": 0.25,
        "long_view_rate": 0.25,
        "profile_enter_rate": 0.25,
        "skip_rate": 0.75,
        "zero_play_rate": 0.25,
        "comment_view_rate": 0.0,
        "mean_play_time_s": 1.5,
        "mean_duration_s": 4.0,
        "rows": 4.0,
        "users": 3.0,
        "videos": 2.0,
        "days": 2.0,
    }


# ---- property test: random valid / invalid rows --------------------------------------------

KNOWN_VIDEOS = {"1", "2", "3"}
MIDNIGHT = 1650816000000  # 2022-04-25 00:00 UTC+8
SMALL_VALID = {c: ["0", "1"] for c in LOG_COLUMNS} | {
    "video_id": ["1", "2", "3", "4"], "date": ["20220425"], "hourmin": ["0", "100"],
    "time_ms": [str(MIDNIGHT), str(MIDNIGHT + 1)]}
BAD_VALUES = {c: [""] for c in LOG_COLUMNS}
for _c in NON_NEGATIVE_COLUMNS:
    BAD_VALUES[_c] = ["", "-1", "-250"]
for _c in FLAG_COLUMNS:
    BAD_VALUES[_c] = ["", "2", "-1", "7"]
BAD_VALUES["date"] = ["", "20220231", "20220427"]
BAD_VALUES["hourmin"] = ["", "2400", "130", "-100", "2300"]
BAD_VALUES["tab"] = ["", "15", "-1"]
BAD_VALUES["play_time_ms"] = [*BAD_VALUES["play_time_ms"], str(10**12)]


@st.composite
def log_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    """0..40 rows from tiny value sets (many exact duplicates), some with 1-2 bad values."""
    rows = []
    for _ in range(draw(st.integers(0, 40))):
        row = {c: draw(st.sampled_from(SMALL_VALID[c])) for c in LOG_COLUMNS}
        for column in draw(st.lists(st.sampled_from(LOG_COLUMNS), max_size=2)):
            if draw(st.booleans()):
                row[column] = draw(st.sampled_from(BAD_VALUES[column]))
        rows.append(row)
    return rows


def implausible(ints: dict[str, int]) -> list[str]:
    """The plausibility rules by hand, for the oracle's value sets (dates 20220425..27)."""
    found = []
    date_ok = ints["date"] in (20220425, 20220426, 20220427)
    hour_ok = ints["hourmin"] in range(0, 2400, 100)
    if not date_ok:
        found.append("invalid_date")
    if not hour_ok:
        found.append("hourmin_out_of_range")
    if ints["tab"] not in range(15):
        found.append("tab_out_of_range")
    if ints["play_time_ms"] > 24 * 3_600_000:
        found.append("implausible_play_time")
    if date_ok and hour_ok:
        stamp = (MIDNIGHT + (ints["date"] - 20220425) * 86_400_000
                 + ints["hourmin"] // 100 * 3_600_000)
        if abs(stamp - ints["time_ms"]) > 3 * 3_600_000:
            found.append("date_time_mismatch")
    return found


def expected_reasons(rows: list[dict[str, str]]) -> list[str]:
    """Plain-Python oracle of the documented rules ("" = kept)."""
    reasons, kept = [], set()
    for row in rows:
        nulls = [f"null:{c}" for c in LOG_COLUMNS if row[c] == ""]
        ints = {} if nulls else {c: int(row[c]) for c in LOG_COLUMNS}
        negative = [f"negative:{c}" for c in NON_NEGATIVE_COLUMNS if ints.get(c, 0) < 0]
        flags = [f"flag_out_of_range:{c}" for c in FLAG_COLUMNS if row[c] not in ("0", "1")]
        plausible = [] if nulls else implausible(ints)
        unknown = ["unknown_video"] if row["video_id"] not in KNOWN_VIDEOS else []
        key = tuple(ints.values()) if ints else None
        duplicate = ["exact_duplicate"] if key in kept else []
        found = [*nulls, *negative, *flags, *plausible, *unknown, *duplicate]
        if not found:
            kept.add(key)
        reasons.append(found[0] if found else "")
    return reasons


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=log_rows())
def test_random_rows_follow_the_rules(rows: list[dict[str, str]]) -> None:
    raw_logs = pd.DataFrame(rows, columns=LOG_COLUMNS, dtype="str")
    raw_logs["source_file"] = "log_standard_h.csv"
    raw_logs["source_line"] = np.arange(2, len(rows) + 2, dtype=np.int64)
    raw_videos = pd.DataFrame(
        [v.replace('"20,43"', "20").split(",") for v in VIDEOS], columns=VIDEO_COLUMNS, dtype="str"
    )
    raw_videos["source_file"] = "video_features_basic.csv"
    raw_videos["source_line"] = [2, 3, 4]

    interactions, rejected, report = ingest(raw_logs, raw_videos)

    assert len(interactions) + len(rejected) == len(rows) == report["input_rows"]
    reasons = expected_reasons(rows)
    assert rejected["source_line"].tolist() == [i + 2 for i, r in enumerate(reasons) if r]
    assert rejected["reason"].tolist() == [r for r in reasons if r]
    # kept rows satisfy every rule
    assert not interactions[LOG_COLUMNS].duplicated().any()
    assert (interactions[NON_NEGATIVE_COLUMNS] >= 0).all().all()
    assert interactions[FLAG_COLUMNS].isin([0, 1]).all().all()
    assert interactions["video_id"].isin([1, 2, 3]).all()
    kept_rows = [
        {c: int(v) for c, v in r.items()} for r, why in zip(rows, reasons, strict=True) if not why
    ]
    assert interactions[LOG_COLUMNS].to_dict("records") == kept_rows
    # every rejected row violates its stated reason (checked on its original strings)
    for row in rejected.to_dict("records"):
        kind, _, column = row["reason"].partition(":")
        if kind == "null":
            assert row[column] == ""
        elif kind == "negative":
            assert int(row[column]) < 0
        elif kind == "flag_out_of_range":
            assert row[column] not in ("0", "1")
        elif kind == "unknown_video":
            assert row["video_id"] not in KNOWN_VIDEOS
        elif kind in ("invalid_date", "hourmin_out_of_range", "tab_out_of_range",
                      "implausible_play_time", "date_time_mismatch"):
            assert kind in implausible({c: int(row[c]) for c in LOG_COLUMNS})
        else:
            assert kind == "exact_duplicate"
            values = [int(row[c]) for c in LOG_COLUMNS]
            earlier = interactions[LOG_COLUMNS].to_numpy().tolist()
            assert values in earlier


# ---- real data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_ingest(kuairand_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict, float]:
    start = time.perf_counter()
    raw_logs, raw_videos = read_dir(kuairand_dir)
    interactions, rejected, report = ingest(raw_logs, raw_videos)
    return interactions, rejected, report, time.perf_counter() - start


@pytest.mark.real_data
def test_real_slice_counts(real_ingest: tuple[pd.DataFrame, pd.DataFrame, dict, float]) -> None:
    interactions, rejected, report, seconds = real_ingest
    assert report["input_rows"] == 185_061
    assert len(interactions) + len(rejected) == 185_061
    assert report["exact_duplicates"] == 4_677
    assert report["rejected_by_reason"] == {"exact_duplicate": 4_677}
    assert "unknown_video" not in set(rejected["reason"])
    assert interactions["video_id"].nunique() == 6_153
    assert interactions["user_id"].nunique() == 24_448
    assert not interactions[LOG_COLUMNS].duplicated().any()
    assert seconds < 30, f"ingest took {seconds:.1f} s"


@pytest.mark.real_data
def test_real_slice_dtypes(real_ingest: tuple[pd.DataFrame, pd.DataFrame, dict, float]) -> None:
    interactions = real_ingest[0]
    assert list(interactions.columns) == [*LOG_COLUMNS, *VIDEO_ATTRIBUTE_COLUMNS]
    assert {c: interactions[c].dtype for c in LOG_COLUMNS} == LOG_INT_TYPES
    assert interactions["author_id"].dtype == "Int64"
    assert interactions["first_tag"].dtype == "Int64"
    assert interactions["video_duration_ms"].dtype == np.float64
    assert interactions["author_id"].notna().all()


@pytest.mark.real_data
def test_real_slice_rates(real_ingest: tuple[pd.DataFrame, pd.DataFrame, dict, float]) -> None:
    rates = interaction_rates(real_ingest[0])
    assert rates["click_rate"] == pytest.approx(0.44, abs=0.015)
    assert rates["long_view_rate"] == pytest.approx(0.31, abs=0.015)
    assert rates["like_rate"] == pytest.approx(0.017, abs=0.002)
    assert rates["mean_play_time_s"] == pytest.approx(21.5, abs=1.0)
    assert rates["mean_duration_s"] == pytest.approx(107, abs=2.0)
    assert rates["days"] == 11.0


def test_logs_with_nothing_to_keep_stop_at_ingestion(tmp_path: Path) -> None:
    """The ingestion node refuses a header-only log and a log whose every row is rejected,
    naming the reasons and first rows (instead of a later 'cannot split' in features)."""
    users = pd.DataFrame({"user_id": [], "source_file": [], "source_line": []}, dtype="str")
    raw = read_dir(write_dir(tmp_path / "empty", {"log_standard_e.csv": []}))
    with pytest.raises(ValueError, match="the logs have a header and no rows"):
        ingest_logs(*raw, users)
    raw = read_dir(write_dir(tmp_path / "bad", {"log_standard_b.csv": [
        log_line(tab=15), log_line(video_id=99)]}))
    match = (r"every one of the 2 log rows was rejected .*'tab_out_of_range': 1.*"
             r"first: log_standard_b\.csv:2 tab_out_of_range, "
             r"log_standard_b\.csv:3 unknown_video")
    with pytest.raises(ValueError, match=match):
        ingest_logs(*raw, users)


def test_log_users_missing_from_the_user_file_are_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = read_dir(write_dir(tmp_path, {"log_standard_u.csv": [
        log_line(user_id=4), log_line(user_id=5), log_line(user_id=7)]}))
    users = pd.DataFrame({"user_id": ["5"], "source_file": ["user_features.csv"],
                          "source_line": [2]})
    with caplog.at_level("WARNING"):
        _, _, report = ingest_logs(*raw, users)
    assert report["log_users_missing_from_user_file"] == 2
    assert "2 user(s) of the logs are missing from the user file" in caplog.text
    assert "first ids [4, 7]" in caplog.text
