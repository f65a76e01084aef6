"""Per-user top-k ranking metrics on padded candidate lists `[G, M]` (batched, no user loop).

Each of the G users (eval groups) has M slots; `mask` marks the real items. Items are ranked
by score, descending, among the real items only; ties in score keep slot order (stable sort),
so the earlier item in the user's timeline ranks first. Padded slots are never ranked or
counted, whatever their score or outcomes. With n real items, the top-k list holds
min(k, n) items.

- NWTG@k = DCG@k(watch time) / IDCG@k(watch time), DCG = sum_r gain_r / log2(r + 1), r = 1..;
  IDCG uses the same formula on the gains sorted descending (the paper's formula; the authors'
  release multiplies by log2(r + 1)). A user whose ideal DCG is 0 (all gains 0) scores 1.0.
- NEG@k: the same with the engagement flag EF as gain.
- DS@k: population standard deviation (ddof = 0) of the durations of the top-k items
  (one item -> 0).
Everything is computed in float64; results are `[G]` float64 tensors.
"""

from __future__ import annotations

import numpy as np
import torch

Array = torch.Tensor | np.ndarray


def _tensor(values: Array, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(values).detach().to(dtype)


def _check_inputs(mask: torch.Tensor, k: int, **values: torch.Tensor) -> None:
    """Shapes `[G, M]`, at least one real item per user, real values non-negative and finite."""
    if mask.dim() != 2:
        raise ValueError(f"mask must be [G, M], got shape {tuple(mask.shape)}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    empty = torch.nonzero(~mask.any(dim=1)).flatten()
    if len(empty):
        raise ValueError(f"{len(empty)} user(s) have no real item, first: {empty[:5].tolist()}")
    for name, value in values.items():
        if value.shape != mask.shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)}, mask has {tuple(mask.shape)}")
        bad = torch.nonzero(mask & ~((value >= 0) & torch.isfinite(value)))
        if len(bad):
            raise ValueError(
                f"{name} has {len(bad)} negative, NaN or infinite real value(s); first "
                f"(user, slot): {bad[:5].tolist()}"
            )


def rank_order(scores: Array, mask: Array) -> torch.Tensor:
    """Slot indices `[G, M]` long: real items by score descending (ties: slot order), then pads.

    Raises ValueError on a NaN score in a real slot.
    """
    s = _tensor(scores, torch.float64)
    m = _tensor(mask, torch.bool)
    if s.shape != m.shape:
        raise ValueError(f"scores have shape {tuple(s.shape)}, mask has {tuple(m.shape)}")
    nan = torch.nonzero(m & torch.isnan(s))
    if len(nan):
        raise ValueError(f"NaN scores at (user, slot) {nan[:5].tolist()}")
    by_score = torch.sort(torch.where(m, s, -torch.inf), dim=1, descending=True, stable=True)
    # second stable pass puts every real item before the pads (a real score may be -inf)
    real_first = torch.sort(
        m.gather(1, by_score.indices).to(torch.int8), dim=1, descending=True, stable=True
    )
    return by_score.indices.gather(1, real_first.indices)


def rank_discounts(length: int) -> torch.Tensor:
    """1 / log2(r + 1) for ranks r = 1..length, `[length]` float64."""
    return 1.0 / torch.log2(torch.arange(2, length + 2, dtype=torch.float64))


def normalised_gain_at_k(
    order: torch.Tensor, mask: torch.Tensor, gains: torch.Tensor, k: int
) -> torch.Tensor:
    """DCG@k / IDCG@k `[G]` of `gains` `[G, M]` in ranking `order` `[G, M]` (1.0 if IDCG = 0)."""
    top = order[:, :k]
    discount = rank_discounts(top.shape[1])
    real_gains = torch.where(mask, gains, 0.0)
    dcg = (real_gains.gather(1, top) * discount).sum(dim=1)
    ideal = torch.sort(real_gains, dim=1, descending=True).values[:, : top.shape[1]]
    idcg = (ideal * discount).sum(dim=1)
    return torch.where(idcg > 0, dcg / torch.where(idcg > 0, idcg, 1.0), 1.0)


def duration_std_at_k(
    order: torch.Tensor, mask: torch.Tensor, duration_s: torch.Tensor, k: int
) -> torch.Tensor:
    """Population std `[G]` of the durations `[G, M]` of the top-k real items in `order`."""
    top = order[:, :k]
    real = mask.gather(1, top)
    duration = torch.where(real, duration_s.gather(1, top), 0.0)
    count = real.sum(dim=1)
    mean = duration.sum(dim=1) / count
    deviation = torch.where(real, duration - mean.unsqueeze(1), 0.0)
    return torch.sqrt((deviation**2).sum(dim=1) / count)


def topk_metrics(
    scores: Array,
    mask: Array,
    watch_time: Array,
    ef: Array,
    duration_s: Array,
    *,
    k: int = 10,
) -> dict[str, torch.Tensor]:
    """Per-user NWTG@k, NEG@k, DS@k, each `[G]` float64, from padded inputs `[G, M]`.

    Keys are f"NWTG@{k}", f"NEG@{k}", f"DS@{k}".
    """
    m = _tensor(mask, torch.bool)
    watch = _tensor(watch_time, torch.float64)
    engagement = _tensor(ef, torch.float64)
    duration = _tensor(duration_s, torch.float64)
    _check_inputs(m, k, watch_time=watch, ef=engagement, duration_s=duration)
    order = rank_order(scores, m)
    return {
        f"NWTG@{k}": normalised_gain_at_k(order, m, watch, k),
        f"NEG@{k}": normalised_gain_at_k(order, m, engagement, k),
        f"DS@{k}": duration_std_at_k(order, m, duration, k),
    }
