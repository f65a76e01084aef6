"""Instantiate stage pipelines per data source, and assemble a source's whole pipeline."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from kedro.pipeline import Pipeline, pipeline

from labelcraft.sources import STAGES


def per_source(template: Pipeline, sources: Iterable[str], stage: str,
               part: str | None = None, datasets: Mapping[str, str] | None = None) -> Pipeline:
    """``template`` once per source: nodes ``<source>.<part>.<node>`` (``part`` defaults to the
    stage), datasets ``<source>.<name>``; parameters stay shared across sources.

    ``datasets`` renames template datasets first (``{"valid_report_3": "din.wt.valid_report"}``
    -> ``<source>.din.wt.valid_report``), for datasets of a cell namespace, whose dotted names a
    template should not spell (Kedro reserves the dot for namespacing).

    The node namespace makes each stage a modular pipeline of its source in Kedro-Viz and
    selectable with ``--namespaces <source>.<stage>``; every node is also tagged with its
    ``stage`` (``kedro run --tags <stage>``).
    """
    shared_params = {name for name in template.inputs() if name.startswith("params:")}
    inputs = template.inputs() - shared_params
    outputs = template.all_outputs()
    renamed = dict(datasets or {})
    return sum(
        (
            pipeline(
                template,
                namespace=f"{source}.{part or stage}",
                prefix_datasets_with_namespace=False,
                inputs={name: f"{source}.{renamed.get(name, name)}" for name in inputs},
                outputs={name: f"{source}.{renamed.get(name, name)}" for name in outputs},
                parameters=shared_params,
                tags=stage,
            )
            for source in sources
        ),
        Pipeline([]),
    )


def source_pipeline(source: str) -> Pipeline:
    """Every stage's nodes for ``source``, from raw files to reports.

    Stages are imported by name (``labelcraft.pipelines.<stage>``), so this works when Kedro
    loads only the requested pipeline (``kedro run --pipelines <source>``).
    """
    stages = (
        importlib.import_module(f"labelcraft.pipelines.{stage}.pipeline").create_pipeline()
        for stage in STAGES
    )
    whole = sum(stages, Pipeline([]))
    return whole.only_nodes_with_namespaces([source])
