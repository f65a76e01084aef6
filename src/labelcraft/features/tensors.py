"""Torch views of the feature tables: per-row tensors, history gathering, eval groups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from labelcraft.features.feedback import FEEDBACK_COLUMNS


def _long(frame: pd.DataFrame, column: str) -> torch.Tensor:
    return torch.from_numpy(frame[column].to_numpy(dtype=np.int64, copy=True))


@dataclass
class InteractionTensors:
    """Per-interaction tensors in timeline order (N rows, F feedback columns).

    user, video, bucket, tag: `[N]` long (0 = padding / unknown); split: `[N]` int8;
    timeline_start, history_end: `[N]` long row pointers; feedback: `[N, F]` float32.
    """

    user: torch.Tensor
    video: torch.Tensor
    bucket: torch.Tensor
    tag: torch.Tensor
    split: torch.Tensor
    timeline_start: torch.Tensor
    history_end: torch.Tensor
    feedback: torch.Tensor
    feedback_columns: tuple[str, ...] = FEEDBACK_COLUMNS

    @classmethod
    def from_frames(cls, model_inputs: pd.DataFrame, feedback: pd.DataFrame) -> InteractionTensors:
        """Tensors from the row-aligned `model_inputs` and `feedback` tables."""
        if len(model_inputs) != len(feedback):
            raise ValueError(
                f"model_inputs ({len(model_inputs)} rows) and feedback ({len(feedback)} rows) "
                "are not row-aligned"
            )
        return cls(
            user=_long(model_inputs, "user_idx"),
            video=_long(model_inputs, "video_idx"),
            bucket=_long(model_inputs, "duration_bucket"),
            tag=_long(model_inputs, "tag_idx"),
            split=torch.from_numpy(model_inputs["split"].to_numpy(dtype=np.int8, copy=True)),
            timeline_start=_long(model_inputs, "timeline_start"),
            history_end=_long(model_inputs, "history_end"),
            feedback=torch.from_numpy(feedback.to_numpy(dtype=np.float32, copy=True)),
            feedback_columns=tuple(feedback.columns),
        )

    def __len__(self) -> int:
        return len(self.user)


@dataclass
class HistoryBatch:
    """Last L earlier items of B target rows, left-padded (most recent last).

    video, bucket, tag: `[B, L]` long (0 on padding); mask: `[B, L]` bool, True on real items.
    """

    video: torch.Tensor
    bucket: torch.Tensor
    tag: torch.Tensor
    mask: torch.Tensor


def gather_history(tensors: InteractionTensors, rows: torch.Tensor, length: int) -> HistoryBatch:
    """History of the target rows `[B]`: rows [max(start, end - L), end) of each user's timeline.

    One vectorised indexed read at positions `[B, L]`; no N x L matrix is ever built.
    """
    if length < 1:
        raise ValueError(f"history length must be >= 1, got {length}")
    end = tensors.history_end[rows].unsqueeze(1)
    positions = end - length + torch.arange(length, dtype=torch.long, device=end.device)
    mask = positions >= tensors.timeline_start[rows].unsqueeze(1)
    positions = torch.where(mask, positions, 0)
    return HistoryBatch(
        video=tensors.video[positions] * mask,
        bucket=tensors.bucket[positions] * mask,
        tag=tensors.tag[positions] * mask,
        mask=mask,
    )


@dataclass
class EvalGroups:
    """Evaluation users padded to the longest group.

    rows, mask: `[G, M]` (long row indices, 0 on padding / bool True on real rows);
    user_idx, user_id: `[G]` long.
    """

    rows: torch.Tensor
    mask: torch.Tensor
    user_idx: torch.Tensor
    user_id: torch.Tensor

    @classmethod
    def from_frame(cls, groups: pd.DataFrame) -> EvalGroups:
        """From the long table (group, user_idx, user_id, row), groups numbered 0..G-1 in order."""
        group = groups["group"].to_numpy(dtype=np.int64)
        row = groups["row"].to_numpy(dtype=np.int64)
        if len(group) and (np.diff(group) < 0).any():
            raise ValueError("eval groups table must be sorted by group")
        counts = np.bincount(group) if len(group) else np.zeros(0, dtype=np.int64)
        if (counts == 0).any():
            raise ValueError("eval groups must be numbered 0..G-1 without gaps")
        starts = np.cumsum(counts) - counts
        width = int(counts.max()) if len(counts) else 0
        slot = np.arange(len(group)) - starts[group]
        rows = np.zeros((len(counts), width), dtype=np.int64)
        mask = np.zeros((len(counts), width), dtype=bool)
        rows[group, slot] = row
        mask[group, slot] = True
        return cls(
            rows=torch.from_numpy(rows),
            mask=torch.from_numpy(mask),
            user_idx=torch.from_numpy(groups["user_idx"].to_numpy(dtype=np.int64)[starts]),
            user_id=torch.from_numpy(groups["user_id"].to_numpy(dtype=np.int64)[starts]),
        )
