"""The Kedro side of provenance records (`labelcraft.tracking.fingerprints`).

`ProvenanceHook`, before each node: hashes the raw files the node reads (datasets with
``source_files()``, the KuaiRand-format folders), reads the records of its other inputs, and
stops with `ProvenanceError` when an input has no record or the inputs were not built from the
same data (the message names the datasets and the ``kedro run`` that rebuilds them). After each
save it writes the output's record beside the file (``<file>.provenance.json``). It tags the
run's MLflow run ``data_fingerprint.<source>`` and, at the end, every child run
``data_fingerprint`` (by its ``data_source`` tag).

Records live beside local files only; in-memory datasets keep theirs for the run; a dataset on
remote storage is not checked (logged). Hooks do not run under ``ParallelRunner``: a dataset it
saves has no record, and the next run reading it asks for a rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from mlflow import MlflowClient

from labelcraft.tracking.fingerprints import (
    Record,
    check_inputs,
    file_entry,
    mismatch_message,
    node_record,
    output_record,
    read_record,
    record_path,
    write_record,
)
from labelcraft.tracking.provenance import DATA_SOURCE_TAG

logger = logging.getLogger(__name__)

DATA_FINGERPRINT_TAG = "data_fingerprint"
"""MLflow tag: ``data_fingerprint.<source>`` on a run, ``data_fingerprint`` on a child run."""
_LOCAL_PROTOCOLS = {None, "file", "local"}


class ProvenanceError(RuntimeError):
    """A node's inputs have no provenance record or were not built from the same data."""


@runtime_checkable
class ReadsSourceFiles(Protocol):
    """A dataset over raw files that no node of the project wrote from its own inputs."""

    def source_files(self) -> list[Path]:
        """The files a load reads, in read order."""


def is_parameter(name: str) -> bool:
    return name == "parameters" or name.startswith("params:")


def data_path(dataset: Any) -> Path | None:
    """The local file (or folder) a dataset saves to; None in memory or on remote storage."""
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None or getattr(dataset, "_protocol", None) not in _LOCAL_PROTOCOLS:
        return None
    return Path(str(filepath))


class ProvenanceHook:
    """Check inputs before a node runs, record outputs after they are saved (module doc)."""

    def __init__(self) -> None:
        self._reset(None, None)

    def _reset(self, env: str | None, parent_run: str | None) -> None:
        self._env, self._parent_run = env, parent_run
        self._catalog: CatalogProtocol | None = None
        self._current: dict[str, Record | None] = {}  # dataset -> its record now
        self._pending: dict[str, Record] = {}  # node -> the record of its outputs
        self._tagged: dict[str, str] = {}  # source -> data fingerprint tagged on the run

    @hook_impl(trylast=True)  # after kedro-mlflow has opened the run
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        active = mlflow.active_run()
        self._reset(run_params.get("env"), active.info.run_id if active else None)

    def _dataset(self, name: str) -> Any:
        return self._catalog.get(name) if self._catalog is not None else None

    def _record(self, name: str) -> Record | None:
        """The record of `name` now: written in this run, else read from beside its file."""
        if name not in self._current:
            path = data_path(self._dataset(name))
            self._current[name] = read_record(path) if path is not None else None
        return self._current[name]

    @hook_impl
    def before_node_run(self, node: Node, catalog: CatalogProtocol,
                        inputs: dict[str, Any]) -> None:
        """Hash raw inputs, check the others' records; remember the outputs' record."""
        self._catalog = catalog
        parameters, raw_files, records, missing = {}, [], {}, []
        for name in node.inputs:
            if is_parameter(name):
                parameters[name] = inputs[name]
                continue
            dataset = self._dataset(name)
            if isinstance(dataset, ReadsSourceFiles):
                raw_files += [file_entry(name, path) for path in dataset.source_files()]
            record = self._record(name)
            if record is not None:
                records[name] = record
            elif data_path(dataset) is not None and not isinstance(dataset, ReadsSourceFiles):
                missing.append(name)
            elif not isinstance(dataset, ReadsSourceFiles):
                logger.info("Provenance of %s not checked: not a local file", name)
        if missing:
            raise ProvenanceError(self._missing_message(node.name, missing))
        current = {upstream: self._record(upstream)
                   for record in records.values() for upstream in record["lineage"]}
        mismatches = check_inputs(records, current)
        if mismatches:
            nodes = {rebuild for mismatch in mismatches for rebuild in mismatch.rebuild}
            raise ProvenanceError(mismatch_message(node.name, mismatches, self._command(nodes)))
        self._pending[node.name] = record = node_record(node.name, parameters, raw_files, records)
        self._tag_run(record["data_fingerprints"])

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Node) -> None:
        """Write the saved dataset's record beside its file (or keep it for the run)."""
        pending = self._pending.get(node.name)
        if pending is None:  # the node ran outside before_node_run (not a runner of Kedro's)
            return
        path = data_path(self._dataset(dataset_name))
        record = output_record(pending, dataset_name, persisted=path is not None)
        if path is not None:
            write_record(path, record)
        self._current[dataset_name] = record

    def _tag_run(self, fingerprints: dict[str, str]) -> None:
        new = {source: fp for source, fp in fingerprints.items() if self._tagged.get(source) != fp}
        if new and self._parent_run is not None:
            client = MlflowClient()
            for source, fingerprint in new.items():
                client.set_tag(self._parent_run, f"{DATA_FINGERPRINT_TAG}.{source}", fingerprint)
        self._tagged |= new

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._tag_child_runs()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._tag_child_runs()

    def _tag_child_runs(self) -> None:
        """Tag every child run of the run with its data source's fingerprint."""
        if self._parent_run is None or not self._tagged:
            return
        client = MlflowClient()
        experiment = client.get_run(self._parent_run).info.experiment_id
        query = f"tags.`mlflow.parentRunId` = '{self._parent_run}'"
        token = None
        while True:
            page = client.search_runs([experiment], query, page_token=token)
            for run in page:
                fingerprint = self._tagged.get(run.data.tags.get(DATA_SOURCE_TAG, ""))
                if fingerprint is not None:
                    client.set_tag(run.info.run_id, DATA_FINGERPRINT_TAG, fingerprint)
            token = page.token
            if not token:
                break

    def _missing_message(self, node: str, missing: list[str]) -> str:
        where = ", ".join(f"{name} ({record_path(data_path(self._dataset(name)))})"
                          for name in missing)
        producers = {producer.name for name in missing
                     for producer in _registered_nodes() if name in producer.outputs}
        return (f"Provenance check failed before node {node!r}: no provenance record for "
                f"{where}. It was saved before this project kept records, by another tool, or "
                "by a runner without hooks (ParallelRunner), so what it was built from is "
                f"unknown. Rebuild it with:\n  {self._command(producers)}")

    def _command(self, nodes: Iterable[str]) -> str:
        """``kedro run`` (with this run's --env) from `nodes`, in a pipeline that has them."""
        wanted = set(nodes)
        parts = ["kedro run"]
        if self._env and self._env != "local":
            parts.append(f"--env {self._env}")
        names = sorted(pipelines, key=lambda name: name != "__default__")  # the default first
        for name in names:
            if wanted <= {node.name for node in pipelines[name].nodes}:
                if name != "__default__":
                    parts.append(f"--pipelines {name}")
                break
        parts.append(f'--from-nodes "{",".join(sorted(wanted))}"')
        return " ".join(parts)


def _registered_nodes() -> list[Node]:
    return [node for pipeline in pipelines.values() for node in pipeline.nodes]
