"""Chronological train / valid / test split by calendar days."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_NAMES: dict[int, str] = {TRAIN: "train", VALID: "valid", TEST: "test"}


@dataclass(frozen=True)
class SplitDays:
    """Inclusive first/last calendar day (yyyymmdd) of each split."""

    train_start: int
    train_end: int
    valid_start: int
    valid_end: int
    test_start: int
    test_end: int

    def to_dict(self) -> dict[str, int]:
        """Plain dict for the feature spec."""
        return asdict(self)


def parse_dates(dates: np.ndarray) -> pd.Series:
    """The yyyymmdd ints `[N]` as datetimes `[N]` (NaT where pandas finds no valid date)."""
    text = pd.Series(np.asarray(dates).astype(str))
    return pd.to_datetime(text, format="%Y%m%d", errors="coerce")


def invalid_dates_message(bad_values: list[int], first_rows: list[int]) -> str:
    """The error message for invalid dates `bad_values` first found at rows `first_rows`."""
    return ("column 'date' must hold valid yyyymmdd dates; "
            f"invalid values {bad_values} (first offending rows {first_rows})")


def dates_to_days(dates: np.ndarray) -> np.ndarray:
    """Convert yyyymmdd ints `[N]` to `datetime64[D]` `[N]`; ValueError names bad values."""
    dates = np.asarray(dates)
    uniques, inverse = np.unique(dates, return_inverse=True)
    parsed = parse_dates(uniques)
    bad = parsed.isna().to_numpy()
    if bad.any():
        bad_values = uniques[bad]
        first_rows = np.flatnonzero(np.isin(dates, bad_values))[:5]
        raise ValueError(invalid_dates_message(bad_values[:5].tolist(), first_rows.tolist()))
    return parsed.to_numpy().astype("datetime64[D]")[inverse]


def _to_int_date(day: np.datetime64) -> int:
    return int(pd.Timestamp(day).strftime("%Y%m%d"))


def split_by_days(
    dates: np.ndarray, test_days: int = 3, valid_days: int = 3
) -> tuple[np.ndarray, SplitDays]:
    """Assign each row to train (0), valid (1) or test (2) by its calendar day.

    The last `test_days` calendar days up to the data's last date are test, the `valid_days`
    before them valid, everything earlier train. Returns the split `[N]` int8 and the boundaries.
    """
    if test_days < 1 or valid_days < 1:
        raise ValueError(f"test_days and valid_days must be >= 1, got {test_days}, {valid_days}")
    if len(dates) == 0:
        raise ValueError("cannot split an empty interactions table")
    days = dates_to_days(dates)
    first, last = days.min(), days.max()
    test_start = last - np.timedelta64(test_days - 1, "D")
    valid_start = test_start - np.timedelta64(valid_days, "D")
    span = int((last - first) / np.timedelta64(1, "D")) + 1
    if first >= valid_start:
        raise ValueError(
            f"not enough days for a non-empty train split: the data spans {span} calendar days "
            f"({_to_int_date(first)}..{_to_int_date(last)}) but test_days={test_days} + "
            f"valid_days={valid_days} = {test_days + valid_days} days were asked, leaving none "
            f"for train (need at least {test_days + valid_days + 1})"
        )
    split = np.full(len(days), TRAIN, dtype=np.int8)
    split[days >= valid_start] = VALID
    split[days >= test_start] = TEST
    one = np.timedelta64(1, "D")
    bounds = SplitDays(
        train_start=_to_int_date(first),
        train_end=_to_int_date(valid_start - one),
        valid_start=_to_int_date(valid_start),
        valid_end=_to_int_date(test_start - one),
        test_start=_to_int_date(test_start),
        test_end=_to_int_date(last),
    )
    return split, bounds
