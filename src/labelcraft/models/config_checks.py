"""Checks shared by the backbones' hyper-parameter dataclasses and constructors: one message
per kind of mistake, naming the config class and the field."""

from __future__ import annotations

from typing import Any

from labelcraft.models.layers import ACTIVATIONS
from labelcraft.models.task_towers import TOWERS


def is_positive_int(value: object) -> bool:
    """True for an ``int`` (not a ``bool``) >= 1."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_positive_int(config: Any, name: str) -> None:
    """Raise a ``ValueError`` unless ``config.<name>`` is an int >= 1."""
    value = getattr(config, name)
    if not is_positive_int(value):
        raise ValueError(f"{type(config).__name__}.{name} must be an int >= 1, got {value!r}")


def check_widths(config: Any, name: str) -> None:
    """Coerce ``config.<name>`` (a YAML list) to a tuple; raise unless all are positive ints."""
    widths = tuple(getattr(config, name))
    object.__setattr__(config, name, widths)
    if not all(is_positive_int(w) for w in widths):
        raise ValueError(f"{type(config).__name__}.{name} must be positive ints, got "
                         f"{list(widths)}")


def check_activation(config: Any) -> None:
    """Raise unless ``config.activation`` is one of `ACTIVATIONS`."""
    if config.activation not in ACTIVATIONS:
        raise ValueError(f"{type(config).__name__}.activation must be one of "
                         f"{', '.join(ACTIVATIONS)}, got {config.activation!r}")


def check_dropout(config: Any) -> None:
    """Raise unless ``config.dropout`` is a number in [0, 1)."""
    value = config.dropout
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ValueError(f"{type(config).__name__}.dropout must be in [0, 1), got {value!r}")


def check_n_heads(n_heads: int) -> None:
    """Raise unless a model is asked for at least one output head."""
    if n_heads < 1:
        raise ValueError(f"n_heads must be >= 1, got {n_heads}")


def check_towers(config: Any) -> None:
    """Raise unless ``config.towers`` is a known prediction part and its MMoE settings valid
    (``num_experts`` an int >= 1, ``tower_hidden`` positive widths)."""
    if config.towers not in TOWERS:
        raise ValueError(f"{type(config).__name__}.towers must be one of {', '.join(TOWERS)}, "
                         f"got {config.towers!r}")
    check_positive_int(config, "num_experts")
    check_widths(config, "tower_hidden")
