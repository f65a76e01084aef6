"""LabelCraft's cells of the grid: the main configuration and its ablations.

Each ablation is a cell "LabelCraft w/o <part>": the main configuration with one part removed
(`ABLATIONS`), trained and evaluated like the rules (same backbone, split, users and seeds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labelcraft.experiments.config import LABELCRAFT
from labelcraft.meta.meta_training import LabelCraftConfig
from labelcraft.recommender import TrainConfig

INPUT_ABLATIONS: dict[str, tuple[str, ...]] = {
    "WI": ("play_time_s",),
    "DI": ("duration_s",),
    "EI": ("like", "follow", "comment"),
}
"""The paper's input ablations: the labeler inputs each one removes."""
OBJECTIVE_ABLATIONS: dict[str, str] = {
    "WO": "usage_time",
    "EO": "engagement",
    "DO": "duration_spread",
}
"""The paper's objective ablations: the upper objective each one disables."""
ABLATIONS: tuple[str, ...] = (
    "meta", "balancing", "scaling", *INPUT_ABLATIONS, *OBJECTIVE_ABLATIONS)
"""meta: no meta-learning (the labeler keeps its initial weights: the warm start's, or its seeded
random ones without one; the control);
balancing: equal objective weights (tau = 0); scaling: raw labeler inputs; the others above."""


def ablate(config: LabelCraftConfig, part: str) -> LabelCraftConfig:
    """``config`` without ``part`` (one of `ABLATIONS`).

    A ValueError when the part is unknown or already absent (an input not among the labeler's
    inputs, an objective not enabled), so an ablation row never silently equals the full run.
    """
    meta, labeler = config.meta, config.labeler
    if part == "meta":
        return dataclasses.replace(config, label_optimizer="none")
    if part == "balancing":
        return dataclasses.replace(config, meta=dataclasses.replace(meta, tau=0.0))
    if part == "scaling":
        return dataclasses.replace(config, labeler=dataclasses.replace(labeler, scaling="raw"))
    if part in INPUT_ABLATIONS:
        kept = tuple(name for name in labeler.inputs if name not in INPUT_ABLATIONS[part])
        if len(kept) == len(labeler.inputs):
            raise ValueError(f"ablation {part!r} removes {list(INPUT_ABLATIONS[part])}, but the "
                             f"labeler inputs {list(labeler.inputs)} hold none of them")
        return dataclasses.replace(config, labeler=dataclasses.replace(labeler, inputs=kept))
    if part in OBJECTIVE_ABLATIONS:
        removed = OBJECTIVE_ABLATIONS[part]
        if removed not in meta.objectives:
            raise ValueError(f"ablation {part!r} disables {removed!r}, which is not among the "
                             f"enabled objectives {list(meta.objectives)}")
        kept = tuple(name for name in meta.objectives if name != removed)
        return dataclasses.replace(config, meta=dataclasses.replace(meta, objectives=kept))
    raise ValueError(f"unknown ablation {part!r}; known: {', '.join(ABLATIONS)}")


@dataclass(frozen=True)
class LabelCraftVariants:
    """The main LabelCraft configuration and the ablation rows to train beside it."""

    labelcraft: LabelCraftConfig
    ablations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the ablations (known, distinct, applicable) by building every variant."""
        object.__setattr__(self, "ablations", tuple(self.ablations))
        if len(set(self.ablations)) != len(self.ablations):
            raise ValueError(f"ablations must not repeat: {list(self.ablations)}")
        self.variants()

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any] | None, trainer: TrainConfig
    ) -> LabelCraftVariants:
        """From ``params:labelcraft`` and the rules' trainer (``params:trainer``) it shares.

        ``trainer`` holds overrides of the rules' ``trainer``; ``meta.loss`` and ``meta.k``
        default to the trainer's loss and k; ``ablations`` lists parts of `ABLATIONS` (a list,
        a string of names separated by spaces, or "all"); the other keys are `LabelCraftConfig`
        fields. Unknown keys raise a ValueError.
        """
        params = dict(params or {})
        ablations = params.pop("ablations", None) or ()
        if isinstance(ablations, str):  # from the command line, where commas split --params
            ablations = ABLATIONS if ablations.strip() == "all" else ablations.split()
        trainer_params = {**dataclasses.asdict(trainer), **(params.pop("trainer", None) or {})}
        meta = {"loss": trainer_params["loss"], "k": trainer_params["k"],
                **(params.pop("meta", None) or {})}
        config = LabelCraftConfig.from_dict({**params, "meta": meta, "trainer": trainer_params})
        return cls(labelcraft=config, ablations=tuple(ablations))

    def variants(self) -> dict[str, LabelCraftConfig]:
        """Row name -> configuration: "LabelCraft" first, then "LabelCraft w/o <part>"."""
        return {
            LABELCRAFT: self.labelcraft,
            **{
                f"{LABELCRAFT} w/o {part}": ablate(self.labelcraft, part)
                for part in self.ablations
            },
        }
