"""The labeling model g_phi of LabelCraft: an MLP from an interaction's feedback to a label.

Inputs are named columns of the feedback matrix (``labelcraft.features.feedback``), so the
paper's input ablations (w/o watch time, w/o duration, w/o explicit feedback) and extra signals
(skip, hate, long_view, ...) are a change of ``LabelerConfig.inputs``. Input scaling, fitted on
the train rows and kept in buffers (saved with the state dict):

- ``"piecewise"``: each continuous input (a column with a train value outside {0, 1}) goes
  through its own ``PiecewiseScale`` fitted on the train values (b = median, max = 99th
  percentile), into [0, 1];
- ``"log1p"``: each continuous input becomes ``log1p(x)``;
- ``"raw"``: inputs as they are (the authors' "no normalisation" setting).

0/1 flag columns (all train values 0 or 1) always pass unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from labelcraft.config import from_params
from labelcraft.labels.scaling import PiecewiseScale, fit_piecewise
from labelcraft.recommender import state_copy

SCALINGS = ("piecewise", "log1p", "raw")
DEFAULT_INPUTS = ("play_time_s", "duration_s", "like", "follow", "comment")


@dataclass(frozen=True)
class LabelerConfig:
    """Labeler hyper-parameters: hidden widths (ReLU), input feedback columns, input scaling."""

    hidden: tuple[int, ...] = (256, 256)
    inputs: tuple[str, ...] = DEFAULT_INPUTS
    scaling: str = "piecewise"

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples and check values."""
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if any(int(w) != w or w < 1 for w in self.hidden):
            raise ValueError(f"LabelerConfig.hidden must be positive ints, got {list(self.hidden)}")
        if not self.inputs or len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"LabelerConfig.inputs must be distinct column names, at least one, "
                             f"got {list(self.inputs)}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"LabelerConfig.scaling must be one of {', '.join(SCALINGS)}, "
                             f"got {self.scaling!r}")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> LabelerConfig:
        """Build from a parameters mapping; unknown keys raise a ValueError listing valid ones."""
        return from_params(cls, params, "labeler parameter")


class Labeler(nn.Module):
    """``g_phi``: feedback rows ``[N, F]`` (all feedback columns) -> labels ``[N]`` in [0, 1].

    Reads the columns ``config.inputs`` of the matrix whose column names are
    ``feedback_columns``, scales them (``fit_scaling`` first), then ``Linear -> ReLU`` per
    hidden width and ``Linear -> sigmoid``.
    """

    def __init__(self, config: LabelerConfig, feedback_columns: Sequence[str]) -> None:
        super().__init__()
        columns = list(feedback_columns)
        missing = [name for name in config.inputs if name not in columns]
        if missing:
            raise KeyError(f"labeler input(s) {missing} are not feedback columns; "
                           f"available: {columns}")
        self.config = config
        self.feedback_columns = tuple(columns)
        width = len(config.inputs)
        self.register_buffer("columns", torch.tensor([columns.index(c) for c in config.inputs]))
        self.register_buffer("continuous", torch.zeros(width, dtype=torch.bool))
        self.register_buffer("scale_b", torch.zeros(width, dtype=torch.float64))
        self.register_buffer("scale_max", torch.zeros(width, dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))
        layers: list[nn.Module] = []
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def to_artifact(self) -> dict[str, Any]:
        """Plain data: ``config`` (dict), ``feedback_columns``, ``state_dict`` (tensors); saved
        without pickled code by `labelcraft.datasets.LabelerDataset`."""
        return {
            "config": dataclasses.asdict(self.config),
            "feedback_columns": list(self.feedback_columns),
            "state_dict": state_copy(self),
        }

    @classmethod
    def from_artifact(cls, artifact: Mapping[str, Any]) -> Labeler:
        """The fitted labeler (eval mode) saved by ``to_artifact``."""
        labeler = cls(LabelerConfig.from_dict(artifact["config"]), artifact["feedback_columns"])
        labeler.load_state_dict(artifact["state_dict"])
        return labeler.eval()

    @torch.no_grad()
    def fit_scaling(self, train_feedback: torch.Tensor) -> Labeler:
        """Fit the input scaling on the train rows ``[N, F]`` (all feedback columns); returns self.

        Non-finite or negative inputs raise a ValueError naming the column and first rows.
        """
        values = train_feedback[:, self.columns].to(torch.float64)
        if len(values) == 0:
            raise ValueError("cannot fit the labeler's input scaling on zero train rows")
        for j, name in enumerate(self.config.inputs):
            bad = torch.nonzero(~(torch.isfinite(values[:, j]) & (values[:, j] >= 0))).flatten()
            if len(bad):
                raise ValueError(f"feedback column {name!r} has {len(bad)} negative or "
                                 f"non-finite train value(s), first rows {bad[:5].tolist()}")
        self.continuous.copy_(((values != 0) & (values != 1)).any(dim=0))
        if self.config.scaling == "piecewise":
            for j in torch.nonzero(self.continuous).flatten().tolist():
                scale = fit_piecewise(values[:, j].numpy())
                self.scale_b[j], self.scale_max[j] = scale.b, scale.max
        self.fitted.fill_(True)
        return self

    def scale_inputs(self, feedback: torch.Tensor) -> torch.Tensor:
        """Selected and scaled inputs ``[N, len(config.inputs)]`` from feedback ``[N, F]``."""
        if not bool(self.fitted):
            raise RuntimeError("Labeler.fit_scaling must be called (or a fitted state loaded) "
                               "before labelling")
        x = feedback[:, self.columns]
        if self.config.scaling == "raw":
            return x
        if self.config.scaling == "log1p":
            return torch.where(self.continuous, torch.log1p(x.clamp(min=0.0)), x)
        return torch.stack(
            [
                PiecewiseScale(float(self.scale_b[j]), float(self.scale_max[j]))(x[:, j])
                if self.continuous[j] else x[:, j]
                for j in range(x.shape[1])
            ],
            dim=1,
        )

    def forward(self, feedback: torch.Tensor) -> torch.Tensor:
        """Labels ``[N]`` in [0, 1] for feedback rows ``[N, F]`` (parameters' dtype)."""
        inputs = self.scale_inputs(feedback).to(self.net[0].weight.dtype)
        return torch.sigmoid(self.net(inputs)).squeeze(1)


LABEL_CORRELATES = ("watch_time", "duration", "play_ratio", "ef", "long_view", "skip")
"""Outcomes the learned labels are correlated with in ``label_statistics``."""


def _pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two ``[N]`` vectors; NaN when either is constant or N < 2."""
    if len(x) < 2:
        return float("nan")
    return float(torch.corrcoef(torch.stack([x, y]).to(torch.float64))[0, 1])


def label_statistics(labels: torch.Tensor, feedback: torch.Tensor,
                     feedback_columns: Sequence[str]) -> dict[str, float]:
    """Mean, std (ddof 0) and Pearson correlations of labels ``[N]`` with the outcomes of
    feedback ``[N, F]``: keys ``label_mean``, ``label_std``, ``label_corr_<outcome>`` for
    ``LABEL_CORRELATES``.

    watch_time = play_time_s, duration = duration_s, play_ratio = play / duration over the rows
    with a positive duration, ef = like or follow or comment, long_view, skip (the feedback
    columns). A correlation with a constant vector is NaN.
    """
    columns = list(feedback_columns)

    def column(name: str) -> torch.Tensor:
        return feedback[:, columns.index(name)].to(torch.float64)

    labels = labels.detach().to(torch.float64)
    play, duration = column("play_time_s"), column("duration_s")
    timed = duration > 0
    ef = ((column("like") + column("follow") + column("comment")) > 0).to(torch.float64)
    return {
        "label_mean": float(labels.mean()),
        "label_std": float(labels.std(correction=0)),
        "label_corr_watch_time": _pearson(labels, play),
        "label_corr_duration": _pearson(labels, duration),
        "label_corr_play_ratio": _pearson(labels[timed], play[timed] / duration[timed]),
        "label_corr_ef": _pearson(labels, ef),
        "label_corr_long_view": _pearson(labels, column("long_view")),
        "label_corr_skip": _pearson(labels, column("skip")),
    }


def fit_to_labels(labeler: Labeler, feedback: torch.Tensor, targets: torch.Tensor, steps: int,
                  generator: torch.Generator, batch_size: int = 1024,
                  lr: float = 1e-3) -> float:
    """Regress the labeler on ``targets [N]`` (e.g. a rule's labels) from feedback ``[N, F]``.

    ``steps`` Adam steps (rate ``lr``) on mini-batches of ``batch_size`` rows drawn by
    ``generator``; the warm start of LabelCraft. Returns the final mean squared error over all
    rows.
    """
    if len(feedback) != len(targets) or len(feedback) == 0:
        raise ValueError(f"need as many targets as feedback rows (> 0), got {len(targets)} and "
                         f"{len(feedback)}")
    optimizer = torch.optim.Adam(labeler.parameters(), lr=lr)
    targets = targets.to(labeler.net[0].weight.dtype)
    for _ in range(steps):
        rows = torch.randint(len(feedback), (min(batch_size, len(feedback)),),
                             generator=generator)
        loss = torch.nn.functional.mse_loss(labeler(feedback[rows]), targets[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(labeler(feedback), targets))
