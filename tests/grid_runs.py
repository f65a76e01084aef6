"""Run slices of the comparison grid with Kedro's SequentialRunner on an in-memory catalog.

As the Kedro starters test their pipelines: the real cell templates and merge nodes, tiny
features as MemoryDatasets and the parameters flattened into ``params:`` entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from labelcraft.experiments import Cell, SeedRun, merge_reports, seed_runs
from labelcraft.features import FeatureSet
from labelcraft.pipelines.comparison.pipeline import SOURCE_DATA, cell_pipeline
from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.reporting.pipeline import merge_pipeline

SOURCE = "tiny"
TINY_PARAMETERS: dict[str, Any] = {
    "comparison": {"backbones": ["din"], "methods": None, "seeds": [0, 1], "head_weights": None},
    "backbones": {"din": {"embedding_dim": 4, "attention_hidden": [6], "mlp_hidden": [8]}},
    "label_rules": {},
    "trainer": {"batch_size": 64, "max_epochs": 2, "patience": 1, "lr": 0.01},
    "evaluation": {"n_boot": 50},
    "labelcraft": {"ablations": [], "meta_every": 2, "label_optimizer": "adam",
                   "meta": {"lr_label": 0.01}, "labeler": {"hidden": [8]},
                   "trainer": {"batch_size": 32}},
}
"""Parameters of a tiny grid (missing keys take the configs' defaults)."""


class KeptDataset(MemoryDataset):
    """A MemoryDataset the runner does not empty after its last consumer, for inspection."""

    def _release(self) -> None:
        pass


def flat_parameters(parameters: Mapping[str, Any], prefix: str = "params:") -> dict[str, Any]:
    """``params:<key>`` for every key and nested key, as a Kedro context feeds them."""
    flat: dict[str, Any] = {}
    for key, value in parameters.items():
        flat[f"{prefix}{key}"] = value
        if isinstance(value, Mapping):
            flat |= flat_parameters(value, f"{prefix}{key}.")
    return flat


def grid_catalog(features: FeatureSet, parameters: Mapping[str, Any]) -> DataCatalog:
    """The features of source ``tiny`` and the parameters, in memory."""
    data = {f"{SOURCE}.{name}": getattr(features, name) for name in SOURCE_DATA}
    datasets = {name: MemoryDataset(value) for name, value in
                (data | flat_parameters(parameters)).items() if value is not None}
    return DataCatalog(datasets=datasets)


def grid_slice(cells: Sequence[Cell], merge: bool = True) -> Pipeline:
    """The ``cells`` of source ``tiny`` and, with ``merge``, the reporting stage's merge nodes."""
    whole = sum((cell_pipeline(cell, SOURCE) for cell in cells), Pipeline([]))
    if merge:
        template, renamed = merge_pipeline(cells)
        whole += per_source(template, [SOURCE], stage="reporting", datasets=renamed)
    return whole


def run_grid(features: FeatureSet, cells: Sequence[Cell],
             parameters: Mapping[str, Any] = TINY_PARAMETERS) -> DataCatalog:
    """Run `grid_slice` on `grid_catalog`; the catalog holds every output afterwards."""
    catalog = grid_catalog(features, parameters)
    pipe = grid_slice(cells)
    for name in pipe.all_outputs():
        catalog[name] = KeptDataset()
    SequentialRunner().run(pipe, catalog)
    return catalog


@dataclass
class GridOutputs:
    """Some cells of a `run_grid` catalog merged as the reporting stage merges them, their seed
    runs (what the MLflow callback receives) and the first LabelCraft cell's labels and labeler.
    """

    valid_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    histories: pd.DataFrame
    test_scores: pd.DataFrame
    seed_runs: list[SeedRun]
    labels: pd.DataFrame | None = None
    labeler: dict[str, Any] | None = None


def cell_outputs(catalog: DataCatalog, cells: Sequence[Cell]) -> GridOutputs:
    """`GridOutputs` of ``cells`` (of source ``tiny``) in ``catalog``."""
    def load(cell: Cell, name: str) -> Any:
        return catalog[f"{cell.namespace(SOURCE)}.{name}"].load()

    trained = [cell for cell in cells if cell.kind != "floor"]
    runs = [run for cell in cells for run in seed_runs(
        cell.method, cell.backbone, load(cell, "valid_report"), load(cell, "test_report"),
        load(cell, "history") if cell in trained else None,
        load(cell, "weights") if cell in trained else None)]
    learned = [cell for cell in cells if cell.kind == "labelcraft"]
    return GridOutputs(
        *(merge_reports([load(cell, f"{split}_report") for cell in cells])
          for split in ("valid", "test")),
        histories=pd.concat([load(cell, "history") for cell in trained], ignore_index=True),
        test_scores=pd.concat([load(cell, "test_scores") for cell in cells], ignore_index=True),
        seed_runs=runs,
        labels=load(learned[0], "labels") if learned else None,
        labeler=load(learned[0], "labeler") if learned else None,
    )
