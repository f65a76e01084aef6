"""Name-keyed model zoo: ``@register_model(name)`` and ``build_model(name, spec, params)``.

A registered class defines ``config_class`` (a dataclass of its hyper-parameters, with defaults)
and is built as ``cls(spec, config, n_heads)``; ``params`` (e.g. from YAML) are checked against
the config's fields, so a typo is an error instead of a silently ignored key. A class that
reads what users did with their history items sets ``reads_history_feedback = True``; the
batches of the others do not carry it (`ComparisonData.for_backbone`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from labelcraft.config import from_params
from labelcraft.models.batch import ModelSpec

logger = logging.getLogger(__name__)

MODEL_REGISTRY: dict[str, type[nn.Module]] = {}

ModelT = TypeVar("ModelT", bound=type[nn.Module])


def register_model(name: str) -> Callable[[ModelT], ModelT]:
    """Class decorator adding a model to ``MODEL_REGISTRY`` under ``name``."""

    def decorate(cls: ModelT) -> ModelT:
        if name in MODEL_REGISTRY:
            raise ValueError(f"model name {name!r} is already registered "
                             f"({MODEL_REGISTRY[name].__qualname__})")
        config_class = getattr(cls, "config_class", None)
        if config_class is None or not dataclasses.is_dataclass(config_class):
            raise TypeError(f"{cls.__qualname__} needs a dataclass `config_class` to be registered")
        MODEL_REGISTRY[name] = cls
        return cls

    return decorate


def build_model(
    name: str, spec: ModelSpec, params: Mapping[str, Any] | None = None, n_heads: int = 1
) -> nn.Module:
    """Model ``name`` for vocabularies ``spec``, hyper-parameters ``params``, ``n_heads`` outputs.

    Missing keys take the config's defaults; an unknown name or key raises a ``ValueError``
    listing the valid ones.
    """
    if name not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered models: "
                         f"{', '.join(sorted(MODEL_REGISTRY))}")
    cls = MODEL_REGISTRY[name]
    config_class = cls.config_class  # type: ignore[attr-defined]
    model = cls(spec, from_params(config_class, params, f"parameter of model {name!r}"), n_heads)
    logger.info("built model %s with %s, %d head(s), %d parameters", name, params or "defaults",
                n_heads, sum(p.numel() for p in model.parameters()))
    return model
