"""The id fields a recommender sees: one declaration each, from which batch and model spec follow.

A field is a ``model_inputs`` column of vocabulary indices (0 = padding / unknown). User fields
describe the user; item fields describe a video and are also gathered for every history item.
``features.fields`` chooses which fields the models get (the feature spec lists them with their
vocabulary sizes); a new field is a declaration here and its column in ``build_features``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdField:
    """One id field: its name (``feature_spec["fields"]``), its ``model_inputs`` column, and
    whether it describes an item (then it is gathered for the history too)."""

    name: str
    column: str
    item: bool


ID_FIELDS: tuple[IdField, ...] = (
    IdField("user", "user_idx", item=False),
    IdField("video", "video_idx", item=True),
    IdField("duration_bucket", "duration_bucket", item=True),
    IdField("tag", "tag_idx", item=True),
    IdField("author", "author_idx", item=True),
)
FIELDS_BY_NAME: dict[str, IdField] = {field.name: field for field in ID_FIELDS}
DEFAULT_FIELDS: tuple[str, ...] = ("user", "video", "duration_bucket", "tag")
"""The fields of conf/base: those of the published result tables (conf/zoo adds ``author``)."""


def check_fields(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` in declaration order; a ValueError on unknown or repeated names, or when no
    item field is chosen."""
    unknown = [name for name in names if name not in FIELDS_BY_NAME]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"features.fields must be distinct names among "
                         f"{[field.name for field in ID_FIELDS]}, got {list(names)}")
    if not any(FIELDS_BY_NAME[name].item for name in names):
        raise ValueError(f"features.fields needs at least one item field, got {list(names)}")
    return tuple(field.name for field in ID_FIELDS if field.name in names)
