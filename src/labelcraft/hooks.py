"""Project hooks: the run's parameters for the pipelines; MLflow run tags.

``RunParametersHook`` hands the run's parameters to the pipeline registry (the grid's cells come
from them, `labelcraft.pipelines.run_parameters`) and sets the torch threads once per run
(``runtime.num_threads``). ``RunTagsHook`` tags each MLflow run with its data source(s) and the
git commit that ran. ``SparkSessionHook`` starts the run's Spark session from
``conf/<env>/spark.yml`` when the environment has one (``--env spark``).

kedro-mlflow opens one MLflow run per ``kedro run`` and logs parameters and the MLflow datasets
of ``conf/base/catalog_mlflow.yml``; run tags have no dataset, so this hook adds them. It acts
once, in ``before_pipeline_run`` (after kedro-mlflow has started the run, in the main process),
so it works with every runner and a run that fails later keeps its tags.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
import torch
from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from labelcraft.pipelines.run_parameters import use_run_parameters
from labelcraft.sources import SOURCES
from labelcraft.spark.session import start_session
from labelcraft.tracking import DATA_SOURCE_TAG, data_sources, git_state

logger = logging.getLogger(__name__)

CODE_DIR = Path(__file__).resolve().parent
"""The package's folder: the git commit recorded is that of the code that ran."""


class RunParametersHook:
    """Before the pipelines are read: build them from the run's parameters; set torch threads."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        """Read the parameters raw (``context.params`` would validate, hence build, the
        pipelines first) with the run's ``--env`` and ``--params`` applied."""
        parameters = context.config_loader["parameters"]
        use_run_parameters(parameters)
        threads = int((parameters.get("runtime") or {}).get("num_threads", 0))
        if threads < 0:
            raise ValueError(f"runtime.num_threads must be >= 0, got {threads}")
        if threads:
            torch.set_num_threads(threads)
        logger.info("torch threads: %d", torch.get_num_threads())


class SparkSessionHook:
    """Start the Spark session of an environment with a ``spark.yml`` (none: do nothing)."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        try:
            settings = context.config_loader["spark"]
        except MissingConfigException:
            return
        if settings:
            start_session(settings)


class RunTagsHook:
    """Set ``data_source``, ``git_commit`` (+ MLflow's own commit tag) and ``git_dirty``."""

    @hook_impl(trylast=True)  # after kedro-mlflow's before_pipeline_run has opened the run
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        """Tag the active MLflow run; do nothing when tracking is off for this pipeline."""
        if mlflow.active_run() is None:
            logger.info("No active MLflow run: run tags not set")
            return
        sources = data_sources((node.namespace for node in pipeline.nodes), SOURCES)
        tags = {DATA_SOURCE_TAG: ",".join(sources) or "none"}
        state = git_state(CODE_DIR)
        if state is not None:
            tags |= {
                "git_commit": state.commit,
                "mlflow.source.git.commit": state.commit,
                "git_dirty": str(state.dirty).lower(),
            }
        mlflow.set_tags(tags)
        logger.info("MLflow run tags: %s", tags)
