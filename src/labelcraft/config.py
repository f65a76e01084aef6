"""Strict construction of parameter dataclasses from YAML / ``--params`` mappings."""

from __future__ import annotations

import dataclasses
import difflib
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
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
