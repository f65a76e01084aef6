"""The recommender's input: the fields and their vocabulary sizes, the batch and its construction.

Feature-keyed: a batch holds one id tensor per field and a model embeds the fields its
`ModelSpec` lists, so a new field of the features needs no change in the models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from labelcraft.features.fields import DEFAULT_FIELDS, FIELDS_BY_NAME
from labelcraft.features.tensors import InteractionTensors, gather_history


@dataclass(frozen=True)
class RecBatch:
    """One batch of candidate interactions with their histories (all ids 0 = padding/unknown).

    ids: field name -> ``[B]`` long; history: item field name -> ``[B, L]`` long, left-padded;
    history_mask: ``[B, L]`` bool, True on real history items; history_feedback: what the user
    did with each history item and its context (`labelcraft.features.history_feedback`) ->
    ``[B, L]`` long codes, 0 on padding (empty when the features have none).
    """

    ids: Mapping[str, torch.Tensor]
    history: Mapping[str, torch.Tensor]
    history_mask: torch.Tensor
    history_feedback: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check shapes: every id ``[B]``, every history tensor ``[B, L]`` like the mask."""
        sizes = {name: tuple(value.shape) for name, value in self.ids.items()}
        if not sizes or len(set(sizes.values())) != 1 or len(next(iter(sizes.values()))) != 1:
            raise ValueError(f"RecBatch.ids must be [B] tensors of one size, got {sizes}")
        (b,) = next(iter(sizes.values()))
        shape = self.history_mask.shape
        if len(shape) != 2 or shape[0] != b or self.history_mask.dtype != torch.bool:
            raise ValueError(f"RecBatch.history_mask must be bool [{b}, L], got "
                             f"{self.history_mask.dtype} {tuple(shape)}")
        for name, value in {**self.history, **self.history_feedback}.items():
            if value.shape != shape:
                raise ValueError(f"RecBatch history field {name!r} has shape {tuple(value.shape)}, "
                                 f"expected {tuple(shape)} like history_mask")

    def __len__(self) -> int:
        """Batch size B."""
        return len(self.history_mask)

    def slice(self, start: int, stop: int) -> RecBatch:
        """The candidates ``start:stop`` (views, no copy)."""
        return RecBatch({name: value[start:stop] for name, value in self.ids.items()},
                        {name: value[start:stop] for name, value in self.history.items()},
                        self.history_mask[start:stop],
                        {name: value[start:stop] for name, value in self.history_feedback.items()})


@dataclass(frozen=True)
class ModelSpec:
    """The fields a model embeds and their vocabulary sizes (each counting index 0).

    vocab_sizes: field name -> size, in `ID_FIELDS` order; user_fields / item_fields: the names
    describing the user / an item (item fields are in the history too).
    """

    vocab_sizes: Mapping[str, int]
    item_fields: tuple[str, ...] = field(init=False)
    user_fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        """Every field is known with index 0 plus at least one real id; one item field."""
        unknown = [name for name in self.vocab_sizes if name not in FIELDS_BY_NAME]
        if unknown:
            raise ValueError(f"ModelSpec: unknown fields {unknown}; known: {list(FIELDS_BY_NAME)}")
        ordered = {name: int(self.vocab_sizes[name]) for name in FIELDS_BY_NAME
                   if name in self.vocab_sizes}
        for name, size in ordered.items():
            if size < 2:
                raise ValueError(f"ModelSpec: vocabulary of {name!r} must be >= 2 (index 0 + "
                                 f"ids), got {size}")
        object.__setattr__(self, "vocab_sizes", ordered)
        object.__setattr__(self, "item_fields",
                           tuple(name for name in ordered if FIELDS_BY_NAME[name].item))
        object.__setattr__(self, "user_fields",
                           tuple(name for name in ordered if not FIELDS_BY_NAME[name].item))
        if not self.item_fields:
            raise ValueError(f"ModelSpec needs at least one item field, got {list(ordered)}")

    @classmethod
    def from_feature_spec(cls, feature_spec: Mapping[str, Any]) -> ModelSpec:
        """The fields of ``feature_spec["fields"]`` (features written before fields were
        configurable: the default fields of ``vocab_sizes``)."""
        if "fields" in feature_spec:
            return cls({entry["name"]: entry["vocab_size"] for entry in feature_spec["fields"]})
        sizes = feature_spec["vocab_sizes"]
        return cls({name: sizes[name] for name in DEFAULT_FIELDS})


def make_batch(tensors: InteractionTensors, rows: torch.Tensor, history_length: int) -> RecBatch:
    """Batch of the interactions at ``rows [B]`` with their last ``history_length`` items."""
    rows = torch.as_tensor(rows, dtype=torch.long)
    history = gather_history(tensors, rows, history_length)
    return RecBatch(ids={name: value[rows] for name, value in tensors.ids.items()},
                    history=history.ids, history_mask=history.mask,
                    history_feedback=history.feedback)
