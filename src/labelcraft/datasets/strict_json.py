"""Strict JSON (RFC 8259): a value that is not a finite number is written as ``null``.

Python's `json` writes ``NaN`` and ``Infinity`` by default, which most JSON readers (browsers,
``jq``, Java, Go) refuse. Every JSON file the project writes goes through `strict_json`: the
reports' undefined figures (the std of one seed, the AUC of a split without positives) become
``null``, and anything else that is not JSON (a numpy array, an object) is an error.
Reports that hold numbers only are read back with ``null_as_nan``, so the code that reads them
sees the NaN it wrote.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from kedro_datasets.json import JSONDataset


def finite_or_null(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) replaced by None, at any depth.

    Mappings and lists/tuples are rebuilt (tuples become lists, as in JSON); other values are
    returned as they are.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(item) for item in value]
    return value


def null_as_nan(value: Any) -> Any:
    """``value`` with every None replaced by NaN, at any depth (the inverse of `finite_or_null`
    for JSON that holds numbers only; +-inf also come back as NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, Mapping):
        return {key: null_as_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [null_as_nan(item) for item in value]
    return value


def strict_json(value: Any, **dumps_args: Any) -> str:
    """``json.dumps`` of `finite_or_null(value)` with ``allow_nan=False``."""
    return json.dumps(finite_or_null(value), allow_nan=False, **dumps_args)


class StrictJSONDataset(JSONDataset):
    """kedro-datasets' ``json.JSONDataset`` whose save writes strict JSON (see module doc).

    Same catalog arguments; ``save_args`` (``indent``, ``sort_keys`` ...) still apply, but
    ``allow_nan`` is always False. ``null_as_nan: true`` (the metric reports, which hold no
    other null) loads every null as NaN.
    """

    def __init__(self, *, null_as_nan: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._save_args = {**self._save_args, "allow_nan": False}
        self._null_as_nan = null_as_nan

    def save(self, data: Any) -> None:
        super().save(finite_or_null(data))

    def load(self) -> Any:
        data = super().load()
        return null_as_nan(data) if self._null_as_nan else data
