"""Settings of the label-rule comparison: methods, seeds, backbone, trainer and report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labelcraft.config import from_params
from labelcraft.labels import LABEL_RULES, MULTI_TASK_RULES, label_heads
from labelcraft.models import MODEL_REGISTRY
from labelcraft.training import TrainConfig

ALL_METHODS: tuple[str, ...] = (*LABEL_RULES, *MULTI_TASK_RULES)
RANDOM = "random"  # the score floor: uniform random scores, one draw per seed
LABELCRAFT = "LabelCraft"  # the meta-learned labels; ablations are "LabelCraft w/o <part>"


def is_labelcraft(method: str) -> bool:
    """Whether ``method`` names LabelCraft or one of its ablations."""
    return method == LABELCRAFT or method.startswith(f"{LABELCRAFT} w/o ")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one comparison of label methods on one split needs.

    methods: label methods (LABEL_RULES names or MULTI_TASK_RULES keys), default all of them.
    seeds: one trained model per method and seed (model init, batch order, random floor).
    rule_params: per-rule fit parameters, e.g. {"D2Q": {"n_groups": 20}}.
    head_weights: how a multi-task model's heads mix into its ranking score (`mix_heads`;
    None = mean of the heads). n_boot, level, bootstrap_seed: bootstrap interval over users.
    """

    methods: tuple[str, ...] = ALL_METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    model: str = "din"
    model_params: Mapping[str, Any] = field(default_factory=dict)
    rule_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    head_weights: tuple[float, ...] | None = None
    n_boot: int = 1000
    level: float = 0.95
    bootstrap_seed: int = 0
    trainer: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        """Coerce YAML lists to tuples; check names, seeds and the bootstrap settings."""
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.head_weights is not None:
            object.__setattr__(self, "head_weights", tuple(float(w) for w in self.head_weights))
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods must be a non-empty list without repeats: {self.methods}")
        for method in self.methods:
            if method == RANDOM:
                raise ValueError(f"{RANDOM!r} is always reported as the floor; do not list it")
            if is_labelcraft(method):
                raise ValueError(f"{method!r} is trained by the labelcraft stage (parameters "
                                 "`labelcraft`), not listed among the rule methods")
            label_heads(method)  # KeyError naming the known methods
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty list without repeats: {self.seeds}")
        if self.model not in MODEL_REGISTRY:
            raise ValueError(
                f"unknown model {self.model!r}; registered: {', '.join(sorted(MODEL_REGISTRY))}"
            )
        if self.head_weights is not None:
            widths = {len(label_heads(m)) for m in self.methods if m in MULTI_TASK_RULES}
            if widths - {len(self.head_weights)}:
                raise ValueError(
                    f"head_weights {list(self.head_weights)} do not match the multi-task heads "
                    f"({sorted(widths)} heads)"
                )
        if self.n_boot < 1 or not 0.0 < self.level < 1.0:
            raise ValueError(f"need n_boot >= 1 and 0 < level < 1, got {self.n_boot}, {self.level}")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> ExperimentConfig:
        """From a parameters mapping (`trainer` nested, see TrainConfig); unknown keys raise."""
        params = dict(params or {})
        if params.get("methods") is None:
            params.pop("methods", None)
        params["trainer"] = TrainConfig.from_dict(params.get("trainer"))
        return from_params(cls, params, "experiment parameter")

    def weights_for(self, method: str) -> tuple[float, ...] | None:
        """Head weights of `method`'s ranking score (None for single-head methods: the head)."""
        return self.head_weights if method in MULTI_TASK_RULES else None
