"""The recommender's input: id vocabulary sizes, the batch and its construction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from labelcraft.features.tensors import InteractionTensors, gather_history


@dataclass(frozen=True)
class RecBatch:
    """One batch of candidate interactions with their histories (all ids 0 = padding/unknown).

    user, video, bucket, tag: ``[B]`` long; history_video, history_bucket, history_tag: ``[B, L]``
    long, left-padded; history_mask: ``[B, L]`` bool, True on real history items.
    """

    user: torch.Tensor
    video: torch.Tensor
    bucket: torch.Tensor
    tag: torch.Tensor
    history_video: torch.Tensor
    history_bucket: torch.Tensor
    history_tag: torch.Tensor
    history_mask: torch.Tensor

    def __post_init__(self) -> None:
        """Check shapes: the four ids ``[B]``, the history tensors ``[B, L]``."""
        (b,) = self.user.shape
        for name in ("video", "bucket", "tag"):
            if getattr(self, name).shape != (b,):
                raise ValueError(f"RecBatch.{name} has shape {tuple(getattr(self, name).shape)}, "
                                 f"expected ({b},) like user")
        shape = self.history_mask.shape
        if len(shape) != 2 or shape[0] != b or self.history_mask.dtype != torch.bool:
            raise ValueError(f"RecBatch.history_mask must be bool [{b}, L], got "
                             f"{self.history_mask.dtype} {tuple(shape)}")
        for name in ("history_video", "history_bucket", "history_tag"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"RecBatch.{name} has shape {tuple(getattr(self, name).shape)}, "
                                 f"expected {tuple(shape)} like history_mask")

    def __len__(self) -> int:
        """Batch size B."""
        return self.user.shape[0]

    def slice(self, start: int, stop: int) -> RecBatch:
        """The candidates ``start:stop`` (views, no copy)."""
        return RecBatch(**{field.name: getattr(self, field.name)[start:stop]
                           for field in dataclasses.fields(self)})


@dataclass(frozen=True)
class ModelSpec:
    """Vocabulary sizes of the id features, each counting index 0 (padding/unknown)."""

    n_users: int
    n_videos: int
    n_buckets: int
    n_tags: int

    def __post_init__(self) -> None:
        """Every vocabulary needs index 0 plus at least one real id."""
        for name in ("n_users", "n_videos", "n_buckets", "n_tags"):
            if getattr(self, name) < 2:
                raise ValueError(f"ModelSpec.{name} must be >= 2 (index 0 + ids), "
                                 f"got {getattr(self, name)}")


def make_batch(tensors: InteractionTensors, rows: torch.Tensor, history_length: int) -> RecBatch:
    """Batch of the interactions at ``rows [B]`` with their last ``history_length`` items."""
    rows = torch.as_tensor(rows, dtype=torch.long)
    history = gather_history(tensors, rows, history_length)
    return RecBatch(
        user=tensors.user[rows],
        video=tensors.video[rows],
        bucket=tensors.bucket[rows],
        tag=tensors.tag[rows],
        history_video=history.video,
        history_bucket=history.bucket,
        history_tag=history.tag,
        history_mask=history.mask,
    )
