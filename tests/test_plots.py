"""The comparison's figures on tiny hand-made inputs, and the PNGs of the default run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.meta import Labeler, LabelerConfig
from labelcraft.reporting import (
    duration_histograms,
    label_surface,
    leaderboard_bars,
    training_curves,
)
from labelcraft.reporting.plots import top_k_durations


def _history() -> pd.DataFrame:
    """Methods A (2 seeds x 3 epochs) and B (1 seed x 2 epochs)."""
    return pd.DataFrame(
        {
            "method": ["A"] * 6 + ["B"] * 2,
            "seed": [0, 0, 0, 1, 1, 1, 0, 0],
            "epoch": [1, 2, 3, 1, 2, 3, 1, 2],
            "valid_NWTG@10": [0.1, 0.3, 0.2, 0.2, 0.25, 0.3, 0.4, 0.35],
            "best": [False, True, False, False, False, True, True, False],
        }
    )


def test_training_curves_one_panel_per_method_one_line_per_seed() -> None:
    figure = training_curves(_history())
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["A", "B"]
    # per seed: the curve and its best-epoch marker
    assert len(axes[0].get_lines()) == 4 and len(axes[1].get_lines()) == 2
    curve = axes[0].get_lines()[0]
    assert list(curve.get_xdata()) == [1, 2, 3]
    assert list(curve.get_ydata()) == [0.1, 0.3, 0.2]
    assert list(axes[0].get_lines()[1].get_xdata()) == [2]  # best epoch of seed 0


def test_training_curves_name_a_missing_column() -> None:
    with pytest.raises(ValueError, match="valid_NEG@10"):
        training_curves(_history(), metric="NEG@10")


def test_top_k_durations_picks_the_highest_scores_per_group() -> None:
    """Group 0 of method A: scores 0.1, 0.9, 0.5 -> top-2 rows 1 and 2."""
    scores = pd.DataFrame(
        {
            "method": ["A"] * 5,
            "seed": [0] * 5,
            "group": [0, 0, 0, 1, 1],
            "row": [0, 1, 2, 3, 4],
            "score": [0.1, 0.9, 0.5, 0.2, 0.3],
        }
    )
    duration = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    top = top_k_durations(scores, duration, k=2)
    assert top["row"].tolist() == [1, 2, 4, 3]
    assert top["duration_s"].tolist() == [20.0, 30.0, 50.0, 40.0]


def test_duration_histograms_one_panel_per_method() -> None:
    rng = np.random.default_rng(0)
    n = 40
    scores = pd.DataFrame(
        {
            "method": np.repeat(["A", "B", "random"], n),
            "seed": 0,
            "group": np.tile(np.arange(n) // 20, 3),
            "row": np.tile(np.arange(n), 3),
            "score": rng.random(3 * n),
        }
    )
    feedback = pd.DataFrame({"duration_s": rng.uniform(1, 100, n).astype(np.float32)})
    groups = pd.DataFrame({"group": np.arange(n) // 20, "row": np.arange(n)})
    figure = duration_histograms(scores, feedback, groups, k=10)
    axes = figure.get_axes()
    assert len(axes) == 3
    assert axes[2].get_title().startswith("random")
    # 30 bars of the top-k histogram (the "all" outline is one patch)
    assert len(axes[0].patches) == 30 + 1


def _metrics(methods: list[str]) -> dict:
    summary = {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.7}
    return {
        "level": 0.95,
        "methods": {
            m: {"metrics": {name: summary for name in ("NWTG@10", "NEG@10", "DS@10")}}
            for m in methods
        },
    }


def test_leaderboard_bars_one_panel_per_metric_one_bar_per_method() -> None:
    figure = leaderboard_bars(_metrics(["WT", "EF", "random"]))
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["NWTG@10", "NEG@10", "DS@10"]
    for ax in axes:
        bars = ax.patches
        assert len(bars) == 3
        assert [bar.get_height() for bar in bars] == [0.5] * 3
        assert [label.get_text() for label in ax.get_xticklabels()] == ["WT", "EF", "random"]
    (interval,) = axes[0].collections  # the error bars: one vertical segment per method
    segments = interval.get_segments()
    assert len(segments) == 3
    assert tuple(np.round(segments[0][:, 1], 6)) == (0.4, 0.7)
    assert "95%" in figure._suptitle.get_text()


def test_leaderboard_bars_reject_a_missing_metric() -> None:
    with pytest.raises(ValueError, match="AUC"):
        leaderboard_bars(_metrics(["WT"]), metrics=("AUC",))


COLUMNS = ("play_time_s", "duration_s", "like", "follow", "comment", "skip")


def _labeler() -> Labeler:
    """A labeler whose label is sigmoid(watch share + 2 like - 1): known curves."""
    labeler = Labeler(LabelerConfig(hidden=(), inputs=("play_time_s", "duration_s", "like"),
                                    scaling="raw"), COLUMNS)
    labeler.fit_scaling(torch.tensor([[0.0, 10.0, 0, 0, 0, 0], [5.0, 20.0, 1, 0, 0, 0]]))
    with torch.no_grad():
        labeler.net[0].weight.copy_(torch.tensor([[0.1, 0.0, 2.0]]))
        labeler.net[0].bias.fill_(-1.0)
    return labeler


def test_label_surface_one_panel_per_duration_with_and_without_ef() -> None:
    figure = label_surface(_labeler(), {"short": 10.0, "long": 60.0}, max_x=20.0)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["short", "long"]
    plain, liked = axes[0].get_lines()[:2]
    watch = np.asarray(plain.get_xdata())
    assert watch[0] == 0.0 and watch[-1] == 20.0
    expected = 1 / (1 + np.exp(-(0.1 * watch - 1.0)))
    np.testing.assert_allclose(plain.get_ydata(), expected, rtol=1e-5)
    np.testing.assert_allclose(liked.get_ydata(), 1 / (1 + np.exp(-(0.1 * watch + 1.0))),
                               rtol=1e-5)
    assert list(axes[1].get_lines()[2].get_xdata()) == [60.0, 60.0]  # the duration marker


def test_label_surface_against_play_ratio() -> None:
    """x is the play ratio; watch time = ratio x duration, so the 60 s panel rises 6x faster."""
    figure = label_surface(_labeler(), {"short": 10.0, "long": 60.0}, max_x=2.0,
                           against="play_ratio")
    axes = figure.get_axes()
    for ax, duration in zip(axes, (10.0, 60.0), strict=True):
        plain = ax.get_lines()[0]
        ratio = np.asarray(plain.get_xdata())
        assert ratio[0] == 0.0 and ratio[-1] == 2.0
        np.testing.assert_allclose(plain.get_ydata(),
                                   1 / (1 + np.exp(-(0.1 * ratio * duration - 1.0))), rtol=1e-5)
        assert list(ax.get_lines()[2].get_xdata()) == [1.0, 1.0]  # completion marker
    with pytest.raises(ValueError, match="against"):
        label_surface(_labeler(), {"a": 1.0}, max_x=1.0, against="duration")


def test_label_surface_names_missing_columns() -> None:
    labeler = Labeler(LabelerConfig(hidden=(4,), inputs=("play_time_s",)), ("play_time_s",))
    with pytest.raises(ValueError, match="duration_s"):
        label_surface(labeler, {"a": 1.0}, max_x=5.0)


@pytest.mark.e2e
def test_default_run_writes_the_pngs(default_run: Path) -> None:
    folder = default_run / "data" / "08_reporting" / "simulated"
    for name in ("training_curves", "duration_histograms", "leaderboard", "label_surface",
                 "label_surface_ratio"):
        path = folder / f"{name}.png"
        assert path.is_file(), f"{path} was not written"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
