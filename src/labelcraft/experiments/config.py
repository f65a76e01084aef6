"""Settings of the comparison grid: which cells (backbones x label methods x seeds) and how the
reports are bootstrapped. Each is parsed once, by the node that uses it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labelcraft.config import from_params
from labelcraft.labels import LABEL_RULES, MULTI_TASK_RULES, label_heads
from labelcraft.models import MODEL_REGISTRY

ALL_METHODS: tuple[str, ...] = (*LABEL_RULES, *MULTI_TASK_RULES)
RANDOM = "random"  # the score floor: uniform random scores, one draw per seed
LABELCRAFT = "LabelCraft"  # the meta-learned labels; ablations are "LabelCraft w/o <part>"


def is_labelcraft(method: str) -> bool:
    """Whether ``method`` names LabelCraft or one of its ablations."""
    return method == LABELCRAFT or method.startswith(f"{LABELCRAFT} w/o ")


@dataclass(frozen=True)
class GridConfig:
    """The cells of the comparison (``params:comparison``).

    backbones: registry names of the recommenders (``labelcraft.models.MODEL_REGISTRY``), each
    with its hyper-parameters under ``params:backbones.<name>``. methods: label rules
    (LABEL_RULES names or MULTI_TASK_RULES keys), default all of them; LabelCraft and its
    ablations (``params:labelcraft``) and the random floor are cells of every backbone too.
    seeds: one trained model per cell and seed (model init, batch order, random floor).
    head_weights: how a multi-task model's heads mix into its ranking score (`mix_heads`;
    None = mean of the heads).
    """

    backbones: tuple[str, ...] = ("din",)
    methods: tuple[str, ...] = ALL_METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    head_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples; check names, seeds and the head weights."""
        object.__setattr__(self, "backbones", tuple(self.backbones))
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.head_weights is not None:
            object.__setattr__(self, "head_weights", tuple(float(w) for w in self.head_weights))
        for name, values in (("backbones", self.backbones), ("methods", self.methods),
                             ("seeds", self.seeds)):
            if not values or len(set(values)) != len(values):
                raise ValueError(f"comparison.{name} must be a non-empty list without repeats: "
                                 f"{list(values)}")
        for backbone in self.backbones:
            if backbone not in MODEL_REGISTRY:
                raise ValueError(f"unknown backbone {backbone!r}; registered: "
                                 f"{', '.join(sorted(MODEL_REGISTRY))}")
        for method in self.methods:
            if method == RANDOM:
                raise ValueError(f"{RANDOM!r} is always a cell (the floor); do not list it")
            if is_labelcraft(method):
                raise ValueError(f"{method!r} comes from the `labelcraft` parameters (its "
                                 "ablations), not from comparison.methods")
            label_heads(method)  # KeyError naming the known methods
        if self.head_weights is not None:
            widths = {len(label_heads(m)) for m in self.methods if m in MULTI_TASK_RULES}
            if widths - {len(self.head_weights)}:
                raise ValueError(
                    f"head_weights {list(self.head_weights)} do not match the multi-task heads "
                    f"({sorted(widths)} heads)"
                )

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> GridConfig:
        """From ``params:comparison``; ``methods: null`` = every rule; unknown keys raise."""
        params = dict(params or {})
        if params.get("methods") is None:
            params.pop("methods", None)
        return from_params(cls, params, "comparison parameter")

    def weights_for(self, method: str) -> tuple[float, ...] | None:
        """Head weights of `method`'s ranking score (None for single-head methods: the head)."""
        return self.head_weights if method in MULTI_TASK_RULES else None


@dataclass(frozen=True)
class ReportConfig:
    """How a cell's reports are summarised (``params:evaluation``; k is ``params:trainer.k``).

    n_boot, level, bootstrap_seed: the percentile bootstrap over users of the intervals.
    """

    n_boot: int = 1000
    level: float = 0.95
    bootstrap_seed: int = 0

    def __post_init__(self) -> None:
        """Check the bootstrap settings."""
        if self.n_boot < 1 or not 0.0 < self.level < 1.0:
            raise ValueError(f"need n_boot >= 1 and 0 < level < 1, got {self.n_boot}, {self.level}")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> ReportConfig:
        """From ``params:evaluation``; unknown keys raise."""
        return from_params(cls, params, "evaluation parameter")
