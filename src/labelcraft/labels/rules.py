"""Hand-made training-label rules for short-video recommendation, fitted on train feedback.

Every rule maps feedback columns (float32, see `labelcraft.features.feedback`) to float32 labels
`[N]` in [0, 1]. Rules with fitted state (WT, D2Q, DVR) are fitted on the TRAIN rows only and
then applied unchanged to any split.

- WT: piecewise-scaled watch time (`labelcraft.labels.scaling`).
- EF: 1 if like or follow or comment.
- PC: 1 if play_time >= duration and play_time > 0. A zero duration (unknown length) with a
  positive play counts as completed; play 0 never does, so PC == (PCR == 1).
- PCR: play / duration clipped to [0, 1]; duration 0 -> 1 if play > 0 else 0.
- D2Q (Zhan et al. KDD 2022): mid-rank empirical CDF of the train watch times of the row's
  duration group: (#{train < x} + #{train <= x}) / (2 n_g). Ties share the mean of their ranks,
  so a group's train labels have mean 0.5 and reversing the order maps a label to 1 - label.
- DVR / WTG (Zheng et al. 2022): z = (x - mean_g) / std_g (train, population std) mapped to
  [0, 1] by the standard normal CDF: monotone, no extra fitted parameter, 0.5 = group mean,
  +-1 std -> 0.16 / 0.84. A group with std 0 gives 0.5 at its mean, 1 above, 0 below (the
  limit of the CDF map as std -> 0).

Duration groups (D2Q, DVR): cut points are the `n_groups` quantiles of the train durations
(numpy method "higher", so every cut is an observed duration); a row belongs to group
#{cuts <= duration}. Cuts equal to the minimum or to another cut are dropped, so ties may leave
fewer than `n_groups` groups, but every group holds at least one train row. Durations outside
the train range fall into the first / last group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, overload

import numpy as np
import pandas as pd
import torch

from labelcraft.labels.scaling import PiecewiseScale, fit_piecewise

logger = logging.getLogger(__name__)


def feedback_columns(feedback: pd.DataFrame, names: Iterable[str]) -> list[np.ndarray]:
    """float64 arrays `[N]` of the named feedback columns, validated.

    A missing column -> KeyError listing the available ones; a NaN, infinite or negative value
    -> ValueError naming the column and the first offending rows (index labels).
    """
    names = list(names)
    missing = [name for name in names if name not in feedback.columns]
    if missing:
        raise KeyError(
            f"feedback is missing column(s) {missing}; available: {list(feedback.columns)}"
        )
    arrays = []
    for name in names:
        values = feedback[name].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~(values >= 0) | ~np.isfinite(values))
        if bad.size:
            rows = feedback.index[bad[:5]].tolist()
            raise ValueError(
                f"feedback column {name!r} has {bad.size} NaN, infinite or negative value(s); "
                f"first rows {rows}: {values[bad[:5]].tolist()}"
            )
        arrays.append(values)
    return arrays


# --- stateless rules -------------------------------------------------------------------------


def engagement_label(like: np.ndarray, follow: np.ndarray, comment: np.ndarray) -> np.ndarray:
    """EF `[N]`: 1 if any of like, follow, comment is positive."""
    return ((like > 0) | (follow > 0) | (comment > 0)).astype(np.float32)


def completion_rate_label(play_time_s: np.ndarray, duration_s: np.ndarray) -> np.ndarray:
    """PCR `[N]`: play / duration clipped to [0, 1]; duration 0 -> 1 if play > 0 else 0."""
    play = np.asarray(play_time_s, dtype=np.float64)
    duration = np.asarray(duration_s, dtype=np.float64)
    ratio = np.divide(play, duration, out=(play > 0).astype(np.float64), where=duration > 0)
    return np.clip(ratio, 0.0, 1.0).astype(np.float32)


def completion_label(play_time_s: np.ndarray, duration_s: np.ndarray) -> np.ndarray:
    """PC `[N]`: 1 if play >= duration and play > 0 (so duration 0 with play 0 -> 0)."""
    return ((play_time_s >= duration_s) & (play_time_s > 0)).astype(np.float32)


# --- duration groups (D2Q, DVR) --------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DurationGroups:
    """Duration groups from train quantiles; `cuts` `[n_groups - 1]` sorted, unique."""

    cuts: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.cuts) + 1

    def assign(self, duration_s: np.ndarray) -> np.ndarray:
        """Group index `[N]` int64 in [0, n_groups): #{cuts <= duration}."""
        return np.searchsorted(self.cuts, duration_s, side="right").astype(np.int64)


def fit_duration_groups(duration_s: np.ndarray, n_groups: int = 30) -> DurationGroups:
    """Quantile groups of the train durations `[N]` (see module docstring)."""
    if int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups must be a positive integer, got {n_groups}")
    duration = np.asarray(duration_s, dtype=np.float64)
    if duration.size == 0:
        raise ValueError("cannot fit duration groups on an empty train set")
    cuts = np.quantile(duration, np.arange(1, int(n_groups)) / n_groups, method="higher")
    cuts = np.unique(cuts[cuts > duration.min()])
    if len(cuts) + 1 < n_groups:
        logger.info("duration ties: %d of %d duration groups kept", len(cuts) + 1, n_groups)
    return DurationGroups(cuts=cuts)


@dataclass(frozen=True, eq=False)
class D2QState:
    """Per-group sorted train watch times, encoded as int64 keys group * K + value code.

    values: unique train watch times `[U]`; keys: sorted `[N]`; starts: `[n_groups + 1]` offsets.
    """

    groups: DurationGroups
    values: np.ndarray
    keys: np.ndarray
    starts: np.ndarray


def fit_d2q(play_time_s: np.ndarray, duration_s: np.ndarray, n_groups: int = 30) -> D2QState:
    """D2Q state from train rows `[N]`."""
    groups = fit_duration_groups(duration_s, n_groups)
    values = np.unique(play_time_s)
    width = len(values) + 1
    keys = np.sort(groups.assign(duration_s) * width + np.searchsorted(values, play_time_s))
    starts = np.searchsorted(keys, np.arange(groups.n_groups + 1) * width)
    return D2QState(groups=groups, values=values, keys=keys, starts=starts)


def d2q_label(play_time_s: np.ndarray, duration_s: np.ndarray, state: D2QState) -> np.ndarray:
    """D2Q `[N]`: mid-rank quantile of the watch time among its group's train watch times."""
    group = state.groups.assign(duration_s)
    base = group * (len(state.values) + 1)
    start = state.starts[group]
    below = np.searchsorted(state.keys, base + np.searchsorted(state.values, play_time_s, "left"))
    upto = np.searchsorted(state.keys, base + np.searchsorted(state.values, play_time_s, "right"))
    size = state.starts[group + 1] - start
    return ((below - start + upto - start) / (2.0 * size)).astype(np.float32)


@dataclass(frozen=True, eq=False)
class DVRState:
    """Per-group train mean and population std of watch time, `[n_groups]` each."""

    groups: DurationGroups
    mean: np.ndarray
    std: np.ndarray


def fit_dvr(play_time_s: np.ndarray, duration_s: np.ndarray, n_groups: int = 30) -> DVRState:
    """DVR state from train rows `[N]`."""
    groups = fit_duration_groups(duration_s, n_groups)
    group = groups.assign(duration_s)
    count = np.bincount(group, minlength=groups.n_groups)
    mean = np.bincount(group, weights=play_time_s, minlength=groups.n_groups) / count
    square = (play_time_s - mean[group]) ** 2
    std = np.sqrt(np.bincount(group, weights=square, minlength=groups.n_groups) / count)
    return DVRState(groups=groups, mean=mean, std=std)


def dvr_label(play_time_s: np.ndarray, duration_s: np.ndarray, state: DVRState) -> np.ndarray:
    """DVR `[N]`: standard normal CDF of the within-group z-score of the watch time."""
    group = state.groups.assign(duration_s)
    diff = np.asarray(play_time_s, dtype=np.float64) - state.mean[group]
    std = state.std[group]
    limit = np.where(diff > 0, np.inf, np.where(diff < 0, -np.inf, 0.0))
    z = np.divide(diff, std, out=limit, where=std > 0)
    return torch.special.ndtr(torch.from_numpy(z)).numpy().astype(np.float32)


# --- registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRule:
    """A named rule: `fit(train_feedback) -> state`, `apply(state, feedback) -> [N]` float32.

    `params` are the keyword arguments of the fit function; change them with `with_params`.
    """

    name: str
    description: str
    fit_fn: Callable[..., Any]
    apply_fn: Callable[[Any, pd.DataFrame], np.ndarray]
    params: Mapping[str, Any] = field(default_factory=dict)

    def fit(self, train_feedback: pd.DataFrame) -> Any:
        """Fitted state from the train feedback rows (None for stateless rules)."""
        return self.fit_fn(train_feedback, **self.params)

    def apply(self, state: Any, feedback: pd.DataFrame) -> np.ndarray:
        """Labels `[N]` float32 in [0, 1] for the feedback rows."""
        return self.apply_fn(state, feedback)

    def with_params(self, **params: Any) -> LabelRule:
        """Copy with some fit parameters replaced; unknown names -> KeyError."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise KeyError(
                f"label rule {self.name!r} has no parameter(s) {unknown}; "
                f"known: {sorted(self.params)}"
            )
        return replace(self, params={**self.params, **params})


class _Registry(dict[str, LabelRule]):
    """dict whose missing-key error lists the known names."""

    def __missing__(self, key: str) -> LabelRule:
        raise KeyError(f"unknown label rule {key!r}; known rules: {sorted(self)}")


def _no_state(train_feedback: pd.DataFrame) -> None:
    return None


def _fit_wt(
    train: pd.DataFrame, b_quantile: float = 0.5, max_quantile: float = 0.99
) -> PiecewiseScale:
    (play,) = feedback_columns(train, ["play_time_s"])
    return fit_piecewise(play, b_quantile, max_quantile)


def _apply_wt(scale: PiecewiseScale, feedback: pd.DataFrame) -> np.ndarray:
    (play,) = feedback_columns(feedback, ["play_time_s"])
    return scale(play)


def _apply_ef(state: None, feedback: pd.DataFrame) -> np.ndarray:
    return engagement_label(*feedback_columns(feedback, ["like", "follow", "comment"]))


def _apply_pc(state: None, feedback: pd.DataFrame) -> np.ndarray:
    return completion_label(*feedback_columns(feedback, ["play_time_s", "duration_s"]))


def _apply_pcr(state: None, feedback: pd.DataFrame) -> np.ndarray:
    return completion_rate_label(*feedback_columns(feedback, ["play_time_s", "duration_s"]))


def _fit_d2q(train: pd.DataFrame, n_groups: int = 30) -> D2QState:
    return fit_d2q(*feedback_columns(train, ["play_time_s", "duration_s"]), n_groups=n_groups)


def _apply_d2q(state: D2QState, feedback: pd.DataFrame) -> np.ndarray:
    return d2q_label(*feedback_columns(feedback, ["play_time_s", "duration_s"]), state)


def _fit_dvr(train: pd.DataFrame, n_groups: int = 30) -> DVRState:
    return fit_dvr(*feedback_columns(train, ["play_time_s", "duration_s"]), n_groups=n_groups)


def _apply_dvr(state: DVRState, feedback: pd.DataFrame) -> np.ndarray:
    return dvr_label(*feedback_columns(feedback, ["play_time_s", "duration_s"]), state)


LABEL_RULES: dict[str, LabelRule] = _Registry(
    (rule.name, rule)
    for rule in (
        LabelRule(
            "WT",
            "piecewise-scaled watch time",
            _fit_wt,
            _apply_wt,
            {"b_quantile": 0.5, "max_quantile": 0.99},
        ),
        LabelRule("EF", "like or follow or comment", _no_state, _apply_ef),
        LabelRule("PC", "play completed (play >= duration, play > 0)", _no_state, _apply_pc),
        LabelRule("PCR", "play / duration clipped to [0, 1]", _no_state, _apply_pcr),
        LabelRule(
            "D2Q",
            "watch-time quantile within its duration group",
            _fit_d2q,
            _apply_d2q,
            {"n_groups": 30},
        ),
        LabelRule(
            "DVR",
            "normal CDF of the watch-time z-score within its duration group",
            _fit_dvr,
            _apply_dvr,
            {"n_groups": 30},
        ),
    )
)

MULTI_TASK_RULES: dict[str, tuple[str, ...]] = {
    "WT+EF": ("WT", "EF"),
    "D2Q+EF": ("D2Q", "EF"),
    "DVR+EF": ("DVR", "EF"),
}


def label_heads(method: str) -> tuple[str, ...]:
    """Rule names of a method's heads: ("WT",) for a single rule, ("WT", "EF") for "WT+EF"."""
    if method in MULTI_TASK_RULES:
        return MULTI_TASK_RULES[method]
    if method in LABEL_RULES:
        return (method,)
    raise KeyError(
        f"unknown label method {method!r}; known rules: {sorted(LABEL_RULES)}, "
        f"multi-task: {sorted(MULTI_TASK_RULES)}"
    )


@dataclass(frozen=True)
class FittedLabels:
    """Fitted heads of a label method; call on feedback for labels `[N, H]` float32."""

    method: str
    rules: tuple[LabelRule, ...]
    states: tuple[Any, ...]

    def __call__(self, feedback: pd.DataFrame) -> np.ndarray:
        """Label matrix `[N, H]`, column h from head h (H = 1 for a single rule)."""
        return np.column_stack(
            [
                rule.apply(state, feedback)
                for rule, state in zip(self.rules, self.states, strict=True)
            ]
        ).astype(np.float32)


def fit_labels(
    method: str,
    train_feedback: pd.DataFrame,
    rule_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> FittedLabels:
    """Fit the heads of `method` (a rule or a MULTI_TASK_RULES key) on the train feedback.

    rule_params: optional per-rule fit parameters, e.g. {"D2Q": {"n_groups": 20}}; every entry
    is validated (unknown rule or parameter -> KeyError) even when `method` does not use it.
    """
    heads = label_heads(method)
    configured = {
        name: LABEL_RULES[name].with_params(**params)
        for name, params in (rule_params or {}).items()
    }
    rules = tuple(configured.get(name, LABEL_RULES[name]) for name in heads)
    return FittedLabels(method, rules, tuple(rule.fit(train_feedback) for rule in rules))


@overload
def mix_heads(scores: torch.Tensor, weights: Iterable[float] | None = None) -> torch.Tensor: ...


@overload
def mix_heads(scores: np.ndarray, weights: Iterable[float] | None = None) -> np.ndarray: ...


def mix_heads(
    scores: torch.Tensor | np.ndarray, weights: Iterable[float] | None = None
) -> torch.Tensor | np.ndarray:
    """Ranking score `[B]` of a multi-task model: weighted mean of its head scores `[B, H]`.

    weights: `H` non-negative numbers, normalised to sum 1 (default: plain mean). Mix heads on
    the same scale (e.g. sigmoid outputs, like the labels in [0, 1]).
    """
    num_heads = scores.shape[-1]
    w = np.ones(num_heads) if weights is None else np.asarray(list(weights), dtype=np.float64)
    if w.shape != (num_heads,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(
            f"weights must be {num_heads} finite non-negative numbers with a positive sum, "
            f"got {w.tolist()}"
        )
    w = w / w.sum()
    if isinstance(scores, torch.Tensor):
        return scores @ torch.as_tensor(w, dtype=scores.dtype, device=scores.device)
    return np.asarray(scores) @ w
