"""Piecewise-linear watch-time scaling (CREAD, as used by LabelCraft).

    x <= b        -> 0.2 * x / b                      (0 -> 0, b -> 0.2)
    b < x <= max  -> 0.2 + 0.8 * (x - b) / (max - b)  (into (0.2, 1])
    x > max       -> 1
    x < 0         -> 0

Degenerate thresholds use the limit of that definition (documented fallback):
- b == 0 (at least half of the train values are 0): 0 -> 0 and x in (0, max] -> 0.2 + 0.8 x / max,
  so any positive watch is worth more than 0.2;
- max == b (the top quantile equals the median): x <= b as above, x > b -> 1;
- both (all train values 0): the scale is the indicator x > 0.
max < b is rejected (it can only come from swapped arguments).

NaN inputs stay NaN. The authors' release maps every value above b to 0 (a known defect); here
values above b land in (0.2, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import torch

LOW_SHARE = 0.2  # value reached at the threshold b


@dataclass(frozen=True)
class PiecewiseScale:
    """Monotone map of non-negative values (seconds of watch time) into [0, 1]."""

    b: float
    max: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.b) and np.isfinite(self.max)):
            raise ValueError(f"thresholds must be finite, got b={self.b}, max={self.max}")
        if self.b < 0:
            raise ValueError(f"threshold b must be >= 0, got {self.b}")
        if self.max < self.b:
            raise ValueError(f"threshold max ({self.max}) must be >= b ({self.b})")

    @overload
    def __call__(self, values: np.ndarray) -> np.ndarray: ...

    @overload
    def __call__(self, values: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Scaled values, same shape. numpy -> float32 array; torch -> differentiable tensor.

        The torch version keeps the input's floating dtype (integer tensors become float32);
        its gradient is 0.2 / b below b, 0.8 / (max - b) between b and max, 0 elsewhere.
        """
        if isinstance(values, torch.Tensor):
            x = values if values.is_floating_point() else values.to(torch.float32)
            where = torch.where
        else:
            x = np.asarray(values, dtype=np.float64)
            where = np.where
        # slopes as Python floats so that no branch divides by zero (keeps gradients finite)
        low_slope = LOW_SHARE / self.b if self.b > 0 else 0.0
        high_slope = (1.0 - LOW_SHARE) / (self.max - self.b) if self.max > self.b else 0.0
        scaled = where(
            x > self.max,
            1.0,
            where(x > self.b, LOW_SHARE + (x - self.b) * high_slope, x * low_slope),
        )
        scaled = where(x < 0, 0.0, scaled)
        if isinstance(scaled, np.ndarray):
            return scaled.astype(np.float32)
        return scaled


def fit_piecewise(
    values: np.ndarray, b_quantile: float = 0.5, max_quantile: float = 0.99
) -> PiecewiseScale:
    """Thresholds b, max = quantiles of the train values `[N]` (negatives clipped to 0 first).

    Quantiles use numpy's default linear interpolation.
    """
    if not 0.0 <= b_quantile <= max_quantile <= 1.0:
        raise ValueError(
            f"need 0 <= b_quantile <= max_quantile <= 1, got {b_quantile}, {max_quantile}"
        )
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("cannot fit a piecewise scale on an empty array")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"non-finite values at positions {bad[:5].tolist()}")
    b, top = np.quantile(np.maximum(x, 0.0), [b_quantile, max_quantile])
    return PiecewiseScale(b=float(b), max=float(top))
