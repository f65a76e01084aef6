"""Figures comparing label methods: curves, top-k durations, leaderboard, LabelCraft labels.

Each function returns a matplotlib `Figure` with one axes per method or metric, made without
pyplot (no backend, no global figure list: nothing to close); saving it is the caller's
business (a Kedro `MatplotlibDataset`), a notebook displays it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from labelcraft.meta.labeler import Labeler

N_COLUMNS = 3
PANEL_SIZE = (4.0, 3.0)  # inches per subplot
HISTOGRAM_BINS = 30


def _grid(n_panels: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure with `n_panels` axes on a grid of `N_COLUMNS` (unused grid cells removed)."""
    if n_panels == 0:
        raise ValueError(f"{title}: nothing to plot (no methods)")
    columns = min(N_COLUMNS, n_panels)
    rows = math.ceil(n_panels / columns)
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = list(grid.flat)
    for unused in axes[n_panels:]:
        unused.remove()
    figure.suptitle(title)
    return figure, axes[:n_panels]


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise naming the table and the missing columns."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing} (has {list(frame.columns)})")


def training_curves(history: pd.DataFrame, metric: str = "NWTG@10") -> Figure:
    """One axes per method: validation `metric` against epoch, one line per seed.

    history: the `training_history` table (method, seed, epoch, valid_<metric>, best); the best
    epoch of each seed is marked with a dot.
    """
    column = f"valid_{metric}"
    _require(history, ["method", "seed", "epoch", column, "best"], "training_history")
    figure, axes = _grid(history["method"].nunique(), f"Validation {metric} per epoch")
    for ax, (method, runs) in zip(axes, history.groupby("method", sort=False), strict=True):
        for seed, unsorted in runs.groupby("seed"):
            curve = unsorted.sort_values("epoch")
            line = ax.plot(curve["epoch"], curve[column], marker=".", label=f"seed {seed}")[0]
            best = curve[curve["best"]]
            ax.plot(best["epoch"], best[column], "o", color=line.get_color(), markersize=8)
        ax.set_title(method)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.legend(fontsize="small")
    return figure


def top_k_durations(test_scores: pd.DataFrame, duration_s: np.ndarray, k: int) -> pd.DataFrame:
    """(method, seed, group, row, duration_s) of each group's `k` best-scored test rows.

    duration_s `[N]`: the video duration of every row (the `feedback` column); ties in score
    keep eval-groups order.
    """
    _require(test_scores, ["method", "seed", "group", "row", "score"], "test_scores")
    ranked = test_scores.sort_values(
        ["method", "seed", "group", "score"], ascending=[True, True, True, False], kind="stable"
    )
    top = ranked[ranked.groupby(["method", "seed", "group"]).cumcount() < k]
    return top.assign(duration_s=duration_s[top["row"].to_numpy()])


def duration_histograms(
    test_scores: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    k: int = 10,
) -> Figure:
    """One axes per method: durations of the top-`k` test videos against all test candidates.

    Bars: the methods' top-k rows (all seeds pooled), as a density; the step line: every row of
    the test evaluation groups (what a ranking picks from). Shared log-spaced bins in seconds.
    """
    _require(feedback, ["duration_s"], "feedback")
    _require(eval_groups_test, ["row"], "eval_groups_test")
    duration = feedback["duration_s"].to_numpy()
    top = top_k_durations(test_scores, duration, k)
    candidates = duration[eval_groups_test["row"].to_numpy()]
    positive = candidates[candidates > 0]
    low, high = (positive.min(), positive.max()) if len(positive) else (0.1, 1.0)
    bins = np.geomspace(low, max(high, low * 1.01), HISTOGRAM_BINS + 1)
    methods = list(dict.fromkeys(test_scores["method"]))  # in the experiment's order
    figure, axes = _grid(len(methods), f"Durations of the top-{k} test videos")
    for ax, method in zip(axes, methods, strict=True):
        chosen = top.loc[top["method"] == method, "duration_s"].to_numpy()
        ax.hist(chosen, bins=bins, density=True, alpha=0.7, label=f"top-{k}")
        ax.hist(candidates, bins=bins, density=True, histtype="step", color="k", label="all")
        ax.set_xscale("log")
        ax.set_title(f"{method} (median {np.median(chosen):.0f} s)")
        ax.set_xlabel("duration (s)")
        ax.legend(fontsize="small")
    return figure


def leaderboard_bars(
    test_metrics: Mapping[str, Any], metrics: Sequence[str] = ("NWTG@10", "NEG@10", "DS@10")
) -> Figure:
    """One axes per metric: a bar per method (its mean over seeds) with the report's interval.

    test_metrics: the `test_metrics` report (`methods[m]["metrics"][metric]` with mean, ci_low,
    ci_high); the interval level is the report's `level`.
    """
    methods = test_metrics["methods"]
    names = list(methods)
    level = float(test_metrics.get("level", 0.95))
    figure, axes = _grid(len(metrics), f"Test metrics with {level:.0%} intervals")
    positions = np.arange(len(names))
    for ax, metric in zip(axes, metrics, strict=True):
        try:
            summaries = [methods[name]["metrics"][metric] for name in names]
        except KeyError as error:
            raise ValueError(f"test_metrics has no {metric!r} for every method") from error
        mean = np.array([s["mean"] for s in summaries])
        errors = np.array(
            [mean - [s["ci_low"] for s in summaries], [s["ci_high"] for s in summaries] - mean]
        )  # [2, n_methods]
        ax.bar(positions, mean, yerr=np.clip(errors, 0, None), capsize=3)
        ax.set_xticks(positions, names, rotation=45, ha="right")
        ax.set_title(metric)
    return figure


def matrix_heatmap(means: pd.DataFrame, title: str) -> Figure:
    """Heatmap of a backbones x methods table of means, each cell annotated with its value."""
    figure = Figure(figsize=(1.1 * len(means.columns) + 2.5, 0.6 * len(means) + 1.8),
                    layout="constrained")
    ax = figure.add_subplot()
    values = means.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(np.arange(len(means.columns)), list(means.columns), rotation=45, ha="right")
    ax.set_yticks(np.arange(len(means)), list(means.index))
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(column, row, f"{value:.4f}", ha="center", va="center", fontsize=7,
                    color="white" if value < np.nanmean(values) else "black")
    figure.colorbar(image, ax=ax)
    ax.set_title(title)
    return figure


SURFACE_POINTS = 200  # watch-time grid points per curve


SURFACE_AXES = ("watch_time", "play_ratio")


def label_surface(
    labeler: Labeler,
    durations_s: Mapping[str, float],
    max_x: float,
    explicit: Sequence[str] = ("like",),
    against: str = "watch_time",
) -> Figure:
    """The learned label against watch time (or play ratio), one axes per duration, +/- EF.

    durations_s: panel title -> video duration (s); each panel plots the label of an
    interaction with that duration and watch time 0..``max_x`` seconds (``against`` =
    "watch_time") or play ratio 0..``max_x`` (``against`` = "play_ratio": watch time = ratio x
    duration), every other feedback column 0, once without explicit feedback and once with the
    ``explicit`` columns set to 1.
    """
    if against not in SURFACE_AXES:
        raise ValueError(f"against must be one of {SURFACE_AXES}, got {against!r}")
    columns = list(labeler.feedback_columns)
    missing = [name for name in ("play_time_s", "duration_s", *explicit) if name not in columns]
    if missing:
        raise ValueError(f"the labeler's feedback columns {columns} lack {missing}")
    x = torch.linspace(0.0, float(max_x), SURFACE_POINTS, dtype=torch.float64)
    axis = "watch time (s)" if against == "watch_time" else "play ratio (watch time / duration)"
    figure, axes = _grid(len(durations_s), f"LabelCraft: learned label against {axis}")
    for ax, (title, duration) in zip(axes, durations_s.items(), strict=True):
        watch = x if against == "watch_time" else x * float(duration)
        for with_ef in (False, True):
            feedback = torch.zeros(SURFACE_POINTS, len(columns), dtype=torch.float64)
            feedback[:, columns.index("play_time_s")] = watch
            feedback[:, columns.index("duration_s")] = float(duration)
            if with_ef:
                for name in explicit:
                    feedback[:, columns.index(name)] = 1.0
            with torch.no_grad():
                labels = labeler(feedback).double().numpy()
            ax.plot(x.numpy(), labels,
                    label=f"{' + '.join(explicit)} = 1" if with_ef else "no explicit feedback")
        ax.axvline(float(duration) if against == "watch_time" else 1.0, color="grey",
                   linestyle=":", linewidth=1)
        ax.set_title(title)
        ax.set_xlabel(axis)
        ax.set_ylabel("label")
        ax.legend(fontsize="small")
    return figure
