"""Instantiate stage pipelines per data source, and assemble a source's whole pipeline."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, pipeline

from labelcraft.sources import SOURCES, STAGES


def per_source(template: Pipeline, sources: Iterable[str], stage: str) -> Pipeline:
    """Namespace ``template`` under each source; parameters stay shared across sources.

    Datasets become ``<source>.<name>`` and nodes ``<source>.<node>``; every node is tagged with
    its ``stage`` so ``kedro run --tags <stage>`` and Kedro-Viz can select a stage.
    """
    shared_params = {name for name in template.inputs() if name.startswith("params:")}
    return sum(
        (
            pipeline(template, namespace=source, parameters=shared_params, tags=stage)
            for source in sources
        ),
        Pipeline([]),
    )


def per_source_node(
    func: Callable[..., object],
    *,
    inputs: list[str],
    outputs: list[str],
    name: str,
    stage: str,
    sources: Iterable[str] = SOURCES,
) -> Pipeline:
    """One node ``name`` per source, namespaced like `per_source`, that also gets ``source=``.

    For nodes that must know their data source (to name MLflow child runs): a Kedro node has no
    other way to learn its namespace. ``func`` keeps its name and docstring for Kedro-Viz.
    """
    return sum(
        (
            per_source(
                Pipeline(
                    [
                        Node(
                            update_wrapper(partial(func, source=source), func),
                            inputs=inputs,
                            outputs=outputs,
                            name=name,
                        )
                    ]
                ),
                [source],
                stage=stage,
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
