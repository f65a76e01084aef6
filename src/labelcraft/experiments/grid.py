"""The cells of the comparison grid: one per backbone and label method, named for Kedro.

A cell's namespace is ``<source>.<backbone>.<slug>`` (``kuairand.din.wt_ef``,
``kuairand.autoint_plus.labelcraft``); the list of
cells comes from the parameters, so a new rule, ablation or backbone adds cells and no code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from labelcraft.experiments.config import LABELCRAFT, RANDOM, GridConfig
from labelcraft.experiments.reports import method_kind


def backbone_slug(backbone: str) -> str:
    """The namespace part of a backbone: "autoint+" -> "autoint_plus"."""
    return backbone.lower().replace("+", "_plus")


def method_slug(method: str) -> str:
    """The namespace part of a method: "WT+EF" -> "wt_ef", "LabelCraft w/o meta" ->
    "labelcraft_wo_meta", "multi-objective (MMoE)" -> "multi_objective_mmoe"."""
    slug = method.lower().replace(" w/o ", "_wo_")
    return re.sub(r"[^a-z0-9]+", "_", slug).strip("_")


@dataclass(frozen=True)
class Cell:
    """One cell: a label method (its report name, e.g. "WT+EF") on one backbone, or a
    multi-objective variant (``multi_objective``: trained on the raw signals, no label)."""

    backbone: str
    method: str
    multi_objective: bool = False

    @property
    def slug(self) -> str:
        """The method's namespace part (`method_slug`)."""
        return method_slug(self.method)

    @property
    def kind(self) -> str:
        """"multi_objective", else "rule", "multi_task", "labelcraft" or "floor"
        (`method_kind`)."""
        return "multi_objective" if self.multi_objective else method_kind(self.method)

    def namespace(self, source: str) -> str:
        """``<source>.<backbone slug>.<slug>``."""
        return f"{source}.{self.local('')}"[:-1]

    def local(self, dataset: str) -> str:
        """A dataset of the cell, named within its source: ``<backbone slug>.<slug>.<dataset>``
        (`backbone_slug`, `method_slug`)."""
        return f"{backbone_slug(self.backbone)}.{self.slug}.{dataset}"

    def report_name(self, several_backbones: bool) -> str:
        """Its key in the merged reports: the method, or "<backbone>/<method>" when the grid
        has several backbones."""
        return f"{self.backbone}/{self.method}" if several_backbones else self.method


def grid_cells(grid: GridConfig, labelcraft_rows: Sequence[str],
               multi_objective: Sequence[tuple[str, str]] = ()) -> list[Cell]:
    """Every cell: per backbone the rules (in ``grid.methods`` order), the LabelCraft rows
    (``labelcraft_rows``: "LabelCraft" and its ablations), then the random floor; then the
    multi-objective variants (``multi_objective``: (backbone, name) pairs).

    A ValueError when two cells share a namespace (their datasets would collide).
    """
    methods = [*grid.methods, *labelcraft_rows, RANDOM]
    slugs = [method_slug(method) for method in methods]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"two methods share a namespace: {dict(zip(methods, slugs, strict=True))}")
    if LABELCRAFT not in labelcraft_rows:
        raise ValueError(f"the LabelCraft rows must include {LABELCRAFT!r}: {labelcraft_rows}")
    cells = [Cell(backbone, method) for backbone in grid.backbones for method in methods]
    cells += [Cell(backbone, name, multi_objective=True) for backbone, name in multi_objective]
    spaces = [cell.local("") for cell in cells]
    if len(set(spaces)) != len(spaces):
        twice = sorted({space[:-1] for space in spaces if spaces.count(space) > 1})
        raise ValueError(f"two cells share a namespace: {twice}")
    return cells
