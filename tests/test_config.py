"""Strict parameter dataclasses: unknown keys and values of the wrong type name the parameter."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from labelcraft.config import from_params
from labelcraft.features import FeatureParams


@dataclass(frozen=True)
class Example:
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    name: str = "a"
    limit: int | None = None
    widths: tuple[int, ...] = (1,)


@pytest.mark.parametrize(("key", "value", "kind"), [
    ("count", "abc", "an integer"), ("count", 2.5, "an integer"), ("count", True, "an integer"),
    ("rate", "fast", "a number"), ("flag", 1, "true or false"), ("name", 3, "a string"),
    ("limit", 1.5, "an integer"),
])
def test_a_value_of_the_wrong_type_names_the_parameter(key: str, value: object,
                                                       kind: str) -> None:
    with pytest.raises(ValueError, match=rf"'{key}' \(example parameter\) must be {kind}, got "):
        from_params(Example, {key: value}, "example parameter")


def test_valid_values_pass() -> None:
    got = from_params(Example, {"count": 3, "rate": 2, "flag": True, "name": "b", "limit": None,
                                "widths": [2, 3]}, "example parameter")
    assert got == Example(count=3, rate=2, flag=True, name="b", limit=None, widths=(2, 3))


def test_feature_parameters_from_the_command_line() -> None:
    """What ``--params features.test_days=abc`` / ``=2.5`` hand the features stage."""
    for value in ("abc", 2.5):
        match = r"'test_days' \(feature parameter\) must be an integer"
        with pytest.raises(ValueError, match=match):
            FeatureParams.from_dict({"test_days": value})
