"""The tasks of the multi-objective model: their targets from the raw feedback, losses and signs.

Every target is in [0, 1], like a backbone's sigmoid heads. The binary tasks are the feedback
flags (skip by the project's skip rule, EF = like or follow or comment). Watch time is a
regression on log1p(play seconds), scaled by the train split's ``quantile`` of play time
(`WatchTimeScale`): log seconds because watch time is heavy-tailed (median 4.6 s, 99.9 % at
355 s on the real slice) and because NWTG, the leaderboard's gain, counts seconds; not the play
ratio, which exceeds 1 on every looped short video and would make the head a duration prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from labelcraft.labels.rules import engagement_label, feedback_columns

BINARY_TASKS: dict[str, str] = {
    "click": "click", "skip": "skip", "long_view": "long_view", "hate": "hate"}
"""Binary task -> its feedback column (EF is derived, see `task_targets`)."""
TASKS: tuple[str, ...] = ("click", "skip", "long_view", "watch_time", "EF", "hate")
REGRESSION_TASKS: tuple[str, ...] = ("watch_time",)
NEGATIVE_TASKS: tuple[str, ...] = ("skip", "hate")
"""Tasks whose probability lowers the ranking score (`fuse_heads` uses 1 - p)."""


def check_tasks(tasks: tuple[str, ...], where: str) -> tuple[str, ...]:
    """``tasks`` as a tuple; a ValueError naming ``where`` on unknown, repeated or no tasks."""
    tasks = tuple(tasks)
    unknown = [task for task in tasks if task not in TASKS]
    if unknown or not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(f"{where}: tasks must be distinct names among {list(TASKS)}, "
                         f"got {list(tasks)}")
    return tasks


@dataclass(frozen=True)
class WatchTimeScale:
    """log1p(play seconds) / log1p(cap_s), clipped to [0, 1], and back."""

    cap_s: float

    @classmethod
    def fit(cls, play_time_s: np.ndarray, quantile: float) -> WatchTimeScale:
        """The cap: the ``quantile`` of the (train) play times ``[T]`` (at least 1 s)."""
        if not 0.0 < quantile <= 1.0 or len(play_time_s) == 0:
            raise ValueError(f"need train play times and 0 < quantile <= 1, got "
                             f"{len(play_time_s)} rows, quantile {quantile}")
        return cls(max(float(np.quantile(play_time_s, quantile)), 1.0))

    def encode(self, play_time_s: np.ndarray) -> np.ndarray:
        """Targets ``[N]`` float32 in [0, 1] of play seconds ``[N]``."""
        scaled = np.log1p(np.asarray(play_time_s, np.float64)) / np.log1p(self.cap_s)
        return np.clip(scaled, 0.0, 1.0).astype(np.float32)

    def seconds(self, head: torch.Tensor) -> torch.Tensor:
        """Predicted play seconds ``[...]`` of head scores ``[...]`` in [0, 1]."""
        return torch.expm1(head * float(np.log1p(self.cap_s)))


def task_outcomes(feedback: pd.DataFrame, tasks: tuple[str, ...]) -> torch.Tensor:
    """Observed outcomes ``[N, T]`` float32 of every row of ``feedback``, one column per task:
    0/1 for a binary task, play seconds for watch time.

    A missing or invalid feedback column raises (`feedback_columns` names it and the rows).
    """
    columns = []
    for task in tasks:
        if task == "watch_time":
            (play,) = feedback_columns(feedback, ["play_time_s"])
            columns.append(play)
        elif task == "EF":
            columns.append(engagement_label(*feedback_columns(feedback,
                                                              ["like", "follow", "comment"])))
        else:
            (flag,) = feedback_columns(feedback, [BINARY_TASKS[task]])
            columns.append(flag)
    return torch.from_numpy(np.stack(columns, axis=1).astype(np.float32))


def task_targets(feedback: pd.DataFrame, tasks: tuple[str, ...],
                 scale: WatchTimeScale) -> torch.Tensor:
    """Targets ``[N, T]`` float32 in [0, 1]: the `task_outcomes`, watch time through ``scale``."""
    targets = task_outcomes(feedback, tasks)
    for index, task in enumerate(tasks):
        if task in REGRESSION_TASKS:
            targets[:, index] = torch.from_numpy(scale.encode(targets[:, index].numpy()))
    return targets
