"""Instantiate a stage's template pipeline once per data source."""

from __future__ import annotations

from collections.abc import Iterable

from kedro.pipeline import Pipeline, pipeline


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
