"""Pictures of the label-method comparison (matplotlib figures; no Kedro)."""

from labelcraft.reporting.plots import (
    duration_histograms,
    label_surface,
    leaderboard_bars,
    matrix_heatmap,
    training_curves,
)

__all__ = [
    "duration_histograms",
    "label_surface",
    "leaderboard_bars",
    "matrix_heatmap",
    "training_curves",
]
