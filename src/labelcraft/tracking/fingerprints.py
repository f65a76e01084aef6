"""Provenance records: which raw files and parameters every saved dataset comes from.

A record is written beside each saved file (``<file>.provenance.json``) by
`labelcraft.hooks.ProvenanceHook`. It holds:

- ``fingerprint``: the producing node run's hash over its name, its parameters, the raw files
  it read and the fingerprints of its other inputs (a Merkle hash: it changes when anything
  upstream changes); every output of one node run shares it;
- ``data_fingerprints``: per data source, the hash of that source's raw files behind the
  dataset (``{"kuairand": ...}``), the fingerprint MLflow runs are tagged with;
- ``raw_files``: those files (reading dataset, file name, size in bytes, SHA-256 of the content);
- ``parameters``: the values of the node's own ``params:`` inputs;
- ``inputs``: the fingerprint of each direct input; ``lineage``: the fingerprint of every saved
  dataset upstream, as it was when this one was built.

`check_inputs` is what a node runs before it starts: every input's lineage must still be what
is on disk (no upstream dataset was rebuilt since), and the inputs must agree with each other on
every dataset and every source's raw files they share. Pure functions: no Kedro, no MLflow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelcraft.datasets.strict_json import strict_json

FORMAT = "labelcraft.provenance/1"
SUFFIX = ".provenance.json"
_CHUNK = 1 << 20  # bytes read at a time when hashing a file

Record = dict[str, Any]


def record_path(data_path: Path) -> Path:
    """Where the record of the dataset saved at `data_path` (file or folder) lives."""
    return data_path.with_name(data_path.name + SUFFIX)


def short(fingerprint: str) -> str:
    """The first 12 hex digits, for messages."""
    return fingerprint[:12]


def _sha256_text(value: Any) -> str:
    return hashlib.sha256(strict_json(value, sort_keys=True, default=str).encode()).hexdigest()


def file_entry(dataset: str, path: Path) -> dict[str, Any]:
    """``{"dataset", "name", "size", "sha256"}`` of one raw file read by `dataset`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return {"dataset": dataset, "name": path.name, "size": path.stat().st_size,
            "sha256": digest.hexdigest()}


def source_of(dataset: str) -> str:
    """The data source of a dataset name (``kuairand.raw_logs`` -> ``kuairand``)."""
    return dataset.split(".", 1)[0]


def data_fingerprints(raw_files: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Per source, the hash of its raw file entries (sorted, so file order does not matter)."""
    by_source: dict[str, list[Mapping[str, Any]]] = {}
    for entry in raw_files:
        by_source.setdefault(source_of(entry["dataset"]), []).append(entry)
    return {source: _sha256_text(sorted(entries, key=lambda e: (e["dataset"], e["name"])))
            for source, entries in sorted(by_source.items())}


def node_record(node: str, parameters: Mapping[str, Any], raw_files: Sequence[Mapping[str, Any]],
                inputs: Mapping[str, Record]) -> Record:
    """The record shared by the outputs of one run of `node` (``dataset`` and ``written_at`` are
    added per output by `output_record`).

    raw_files: entries of the raw files the node read itself; inputs: the record of each other
    input (persisted or in memory), whose raw files and lineage are carried over.
    """
    raw = {(e["dataset"], e["name"]): dict(e) for e in raw_files}
    for record in inputs.values():
        raw |= {(e["dataset"], e["name"]): e for e in record["raw_files"]}
    lineage: dict[str, str] = {}
    for name, record in inputs.items():
        lineage |= record["lineage"]
        if record.get("persisted", True):
            lineage[name] = record["fingerprint"]
    own = {"node": node, "parameters": dict(parameters), "raw_files": list(raw_files),
           "inputs": {name: record["fingerprint"] for name, record in sorted(inputs.items())}}
    entries = [raw[key] for key in sorted(raw)]
    return {
        "format": FORMAT,
        "node": node,
        "fingerprint": _sha256_text(own),
        "data_fingerprints": data_fingerprints(entries),
        "raw_files": entries,
        "parameters": dict(parameters),
        "inputs": own["inputs"],
        "lineage": dict(sorted(lineage.items())),
    }


def output_record(record: Record, dataset: str, *, persisted: bool) -> Record:
    """`record` for one output `dataset`, stamped with the time it is written (UTC)."""
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {"dataset": dataset, **record, "persisted": persisted, "written_at": stamp}


def write_record(data_path: Path, record: Record) -> None:
    """Write `record` beside the dataset saved at `data_path`."""
    record_path(data_path).write_text(strict_json(record, indent=1, default=str) + "\n")


def read_record(data_path: Path) -> Record | None:
    """The record of the dataset saved at `data_path`; None when the dataset or its record is
    missing. A record that is not this format is a ValueError naming the file."""
    path = record_path(data_path)
    if not path.exists() or not data_path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"provenance record {path} is not valid JSON: {error}") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"provenance record {path} is not a {FORMAT} record")
    return record


@dataclass(frozen=True)
class Mismatch:
    """One reason a node's inputs cannot be used together.

    dataset: the input (or upstream dataset) built from other data; rebuild: the nodes whose
    rerun (``--from-nodes``) rebuilds it.
    """

    dataset: str
    reason: str
    rebuild: tuple[str, ...]


def _stale(name: str, record: Record, current: Mapping[str, Record | None]) -> Mismatch | None:
    """How `record` (input `name`) was built from a version of an upstream dataset that is no
    longer the one on disk; None when its whole lineage is current."""
    for upstream, fingerprint in record["lineage"].items():
        now = current.get(upstream)
        if now is None or now["fingerprint"] == fingerprint:
            continue
        # rebuild from the datasets built directly from the old version of `upstream`
        built_on_old = {candidate["node"]
                        for candidate in [record, *(current.get(d) for d in record["lineage"])]
                        if candidate is not None
                        and candidate["inputs"].get(upstream, now["fingerprint"])
                        != now["fingerprint"]}
        return Mismatch(
            name,
            f"{name} was built from {upstream} {short(fingerprint)}, but {upstream} is now "
            f"{short(now['fingerprint'])} (written {now['written_at']} by node {now['node']})",
            tuple(sorted(built_on_old)) or (record["node"],),
        )
    return None


def check_inputs(records: Mapping[str, Record], current: Mapping[str, Record | None]
                 ) -> list[Mismatch]:
    """Every reason the inputs of a node were not built from the same data (empty: they were).

    records: the record of each input; current: the record now on disk (or of this run) of
    every dataset named in their lineages. Checks, per input, that its lineage is current
    (`_stale`), then that the inputs agree on each upstream dataset and each source's raw files
    they share (which catches copies whose upstream records are gone).
    """
    found = [m for name, record in sorted(records.items())
             if (m := _stale(name, record, current)) is not None]
    if found:
        return found
    for kind in ("lineage", "data_fingerprints"):
        seen: dict[str, tuple[str, str]] = {}
        for name, record in sorted(records.items()):
            for key, fingerprint in record[kind].items():
                other = seen.setdefault(key, (name, fingerprint))
                if other[1] != fingerprint:
                    what = f"{key}'s raw files" if kind == "data_fingerprints" else key
                    found.append(Mismatch(
                        name,
                        f"{other[0]} and {name} were built from different {what} "
                        f"({short(other[1])} vs {short(fingerprint)})",
                        tuple(sorted({records[other[0]]["node"], record["node"]})),
                    ))
    return found


def mismatch_message(node: str, mismatches: Sequence[Mismatch], command: str) -> str:
    """The error a node stops with: what disagrees, and the command that rebuilds it."""
    lines = [f"Provenance check failed before node {node!r}: its inputs were not built from the "
             "same data."]
    lines += [f"  - {m.reason}" for m in mismatches[:10]]
    if len(mismatches) > 10:
        lines.append(f"  ... and {len(mismatches) - 10} more")
    lines.append(f"Rebuild them with:\n  {command}")
    return "\n".join(lines)
