"""Strict construction of parameter dataclasses from YAML / ``--params`` mappings."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT")


def from_params(cls: type[ConfigT], params: Mapping[str, Any] | None, what: str) -> ConfigT:
    """Build the dataclass ``cls`` from ``params``; lists become tuples.

    A key that is not a field of ``cls`` raises a ``ValueError`` naming ``what`` (for example
    "simulation parameter"), the unknown keys with a did-you-mean hint and the valid keys, so a
    typo in a parameters file is an error instead of a silently ignored value.
    """
    params = dict(params or {})
    known = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(params) - set(known))
    if unknown:
        hints = [
            f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)
            for key in unknown
            for close in [difflib.get_close_matches(key, known, n=1)]
        ]
        raise ValueError(
            f"unknown {what}(s): {', '.join(hints)}; valid keys are: {', '.join(known)}"
        )
    hints = typing.get_type_hints(cls)
    for key, value in params.items():
        expected = _scalar_type(hints.get(key))
        if expected is not None and value is not None and not _is_a(value, expected):
            raise ValueError(f"{key!r} ({what}) must be {_NAMES[expected]}, got {value!r}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})


_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _scalar_type(hint: Any) -> type | None:
    """The scalar type (int, float, bool, str) a field's annotation asks for, None when it is
    not one of those or ``X | None``."""
    if hint in _NAMES:
        return hint
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) in (types.UnionType, typing.Union) and len(args) == 1:
        return args[0] if args[0] in _NAMES else None
    return None


def _is_a(value: Any, expected: type) -> bool:
    """Whether ``value`` is a valid ``expected``: an int is a number, a bool is no integer."""
    if expected is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)
