"""Train-only id vocabularies and duration buckets (index 0 = padding / unknown / missing)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def build_vocab(ids: np.ndarray, id_column: str, idx_column: str) -> pd.DataFrame:
    """Vocabulary of the distinct ids `[N]` (int64, no missing), sorted by raw id.

    Returns a DataFrame (id_column int64, idx_column int32) with indices 1..V; 0 is reserved.
    """
    uniques = np.unique(np.asarray(ids, dtype=np.int64))
    return pd.DataFrame(
        {
            id_column: uniques,
            idx_column: np.arange(1, len(uniques) + 1, dtype=np.int32),
        }
    )


def lookup(ids: np.ndarray, vocab_ids: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Map raw ids `[N]` to indices `[N]` int32 given the sorted vocabulary ids `[V]`.

    Ids not in the vocabulary, and rows flagged in `missing` `[N]` bool, map to 0.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(vocab_ids) == 0:
        return np.zeros(len(ids), dtype=np.int32)
    pos = np.searchsorted(vocab_ids, ids)
    found = vocab_ids[np.minimum(pos, len(vocab_ids) - 1)] == ids
    if missing is not None:
        found &= ~missing
    return np.where(found, pos + 1, 0).astype(np.int32)


@dataclass(frozen=True)
class DurationBuckets:
    """Quantile bucket edges `[B + 1]` on log1p(duration in seconds); buckets 1..B, 0 = missing."""

    edges: np.ndarray

    @property
    def num_buckets(self) -> int:
        """Effective number of buckets after merging equal quantile edges."""
        return max(len(self.edges) - 1, 1)

    def assign(self, duration_s: np.ndarray) -> np.ndarray:
        """Bucket `[N]` int16 of durations `[N]` (seconds, NaN = missing -> 0).

        Bucket b covers [edges[b-1], edges[b]) in log1p space (the last one closed); values
        outside the train range clip to bucket 1 or B.
        """
        duration_s = np.asarray(duration_s, dtype=np.float64)
        missing = np.isnan(duration_s)
        log_d = np.log1p(np.where(missing, 0.0, duration_s))
        inner = self.edges[1:-1]
        bucket = np.searchsorted(inner, log_d, side="right") + 1
        return np.where(missing, 0, bucket).astype(np.int16)

    def to_frame(self) -> pd.DataFrame:
        """Table (bucket int16, lower_s, upper_s float64) of the buckets 1..B in seconds."""
        edges_s = np.expm1(self.edges)
        upper = edges_s[1:] if len(edges_s) > 1 else edges_s
        return pd.DataFrame(
            {
                "bucket": np.arange(1, self.num_buckets + 1, dtype=np.int16),
                "lower_s": edges_s[: self.num_buckets],
                "upper_s": upper,
            }
        )


NO_TRAIN_DURATION = "cannot fit duration buckets: no train row has a duration"


def quantile_levels(num_buckets: int) -> np.ndarray:
    """The `num_buckets + 1` quantile levels `[B + 1]` (0..1) of the bucket edges; ValueError
    unless 1 <= num_buckets <= 32767."""
    if not 1 <= num_buckets <= np.iinfo(np.int16).max:
        raise ValueError(f"num_duration_buckets must be in 1..32767, got {num_buckets}")
    return np.linspace(0.0, 1.0, num_buckets + 1)


def buckets_from_quantiles(quantiles: np.ndarray, num_buckets: int) -> DurationBuckets:
    """The buckets whose edges are the distinct `quantiles` `[B + 1]` of log1p(duration_s) at
    `quantile_levels(num_buckets)` (equal edges merged, logged)."""
    buckets = DurationBuckets(edges=np.unique(np.asarray(quantiles, dtype=np.float64)))
    if buckets.num_buckets < num_buckets:
        logger.info(
            "duration buckets: %d requested, %d effective after merging equal quantile edges",
            num_buckets,
            buckets.num_buckets,
        )
    return buckets


def fit_duration_buckets(train_duration_s: np.ndarray, num_buckets: int = 64) -> DurationBuckets:
    """Fit `num_buckets` quantile buckets of log1p(duration_s) on train durations `[N]` (>= 0).

    Equal quantile edges (many identical durations, e.g. the zeros) are merged, so the effective
    number of buckets can be smaller than asked. Missing (NaN) durations are ignored.
    """
    levels = quantile_levels(num_buckets)
    values = np.asarray(train_duration_s, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError(NO_TRAIN_DURATION)
    return buckets_from_quantiles(np.quantile(np.log1p(values), levels), num_buckets)
