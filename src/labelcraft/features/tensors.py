"""Torch views of the feature tables: per-row tensors, history gathering, eval groups."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from labelcraft.features.feedback import FEEDBACK_COLUMNS
from labelcraft.features.fields import ID_FIELDS
from labelcraft.features.history_feedback import HISTORY_FEEDBACK_COLUMNS, time_gap_bucket


def _long(frame: pd.DataFrame, column: str) -> torch.Tensor:
    return torch.from_numpy(frame[column].to_numpy(dtype=np.int64, copy=True))


@dataclass
class InteractionTensors:
    """Per-interaction tensors in timeline order (N rows, F feedback columns).

    ids: field name -> `[N]` long vocabulary indices (0 = padding / unknown), every field of
    `ID_FIELDS` whose column ``model_inputs`` has; item_fields: the names among them that
    describe an item (gathered for histories); split: `[N]` int8; timeline_start, history_end:
    `[N]` long row pointers; feedback: `[N, F]` float32. history_feedback: column ->
    `[N]` long codes of `HISTORY_FEEDBACK_COLUMNS` (empty for features built without them) and
    time_ms: `[N]` long (None then), gathered for the history items.
    """

    ids: dict[str, torch.Tensor]
    item_fields: tuple[str, ...]
    split: torch.Tensor
    timeline_start: torch.Tensor
    history_end: torch.Tensor
    feedback: torch.Tensor
    feedback_columns: tuple[str, ...] = FEEDBACK_COLUMNS
    history_feedback: dict[str, torch.Tensor] = field(default_factory=dict)
    time_ms: torch.Tensor | None = None

    @classmethod
    def from_frames(cls, model_inputs: pd.DataFrame, feedback: pd.DataFrame) -> InteractionTensors:
        """Tensors from the row-aligned `model_inputs` and `feedback` tables."""
        if len(model_inputs) != len(feedback):
            raise ValueError(
                f"model_inputs ({len(model_inputs)} rows) and feedback ({len(feedback)} rows) "
                "are not row-aligned"
            )
        fields = [field for field in ID_FIELDS if field.column in model_inputs.columns]
        return cls(
            ids={field.name: _long(model_inputs, field.column) for field in fields},
            item_fields=tuple(field.name for field in fields if field.item),
            split=torch.from_numpy(model_inputs["split"].to_numpy(dtype=np.int8, copy=True)),
            timeline_start=_long(model_inputs, "timeline_start"),
            history_end=_long(model_inputs, "history_end"),
            feedback=torch.from_numpy(feedback.to_numpy(dtype=np.float32, copy=True)),
            feedback_columns=tuple(feedback.columns),
            history_feedback={name: _long(model_inputs, name) for name in HISTORY_FEEDBACK_COLUMNS
                              if name in model_inputs.columns},
            time_ms=_long(model_inputs, "time_ms") if "time_ms" in model_inputs else None,
        )

    def __len__(self) -> int:
        return len(self.split)


@dataclass
class HistoryBatch:
    """Last L earlier items of B target rows, left-padded (most recent last).

    ids: item field name -> `[B, L]` long (0 on padding); mask: `[B, L]` bool, True on real
    items; feedback: what the user did with each item and its context (`HISTORY_FEEDBACK_COLUMNS`
    and ``time_gap_bucket``, see `labelcraft.features.history_feedback`) -> `[B, L]` long, 0 on
    padding; empty when the tensors carry no history feedback.
    """

    ids: dict[str, torch.Tensor]
    mask: torch.Tensor
    feedback: dict[str, torch.Tensor] = field(default_factory=dict)


def gather_history(tensors: InteractionTensors, rows: torch.Tensor, length: int) -> HistoryBatch:
    """History of the target rows `[B]`: rows [max(start, end - L), end) of each user's timeline.

    One vectorised indexed read at positions `[B, L]` per item field and feedback column; no
    N x L matrix is built. Every gathered item is strictly earlier than its target (the
    timeline pointers), so no target's own feedback is in its history.
    """
    if length < 1:
        raise ValueError(f"history length must be >= 1, got {length}")
    end = tensors.history_end[rows].unsqueeze(1)
    positions = end - length + torch.arange(length, dtype=torch.long, device=end.device)
    mask = positions >= tensors.timeline_start[rows].unsqueeze(1)
    positions = torch.where(mask, positions, 0)
    feedback = {name: values[positions] * mask for name, values in
                tensors.history_feedback.items()}
    if feedback and tensors.time_ms is not None:
        gap = tensors.time_ms[rows].unsqueeze(1) - tensors.time_ms[positions]
        feedback["time_gap_bucket"] = time_gap_bucket(gap) * mask
    return HistoryBatch(
        ids={name: tensors.ids[name][positions] * mask for name in tensors.item_fields},
        mask=mask,
        feedback=feedback,
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
