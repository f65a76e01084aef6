"""Provenance records: hand-built lineages for the check, then real `kedro run`s that mix data."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from labelcraft.provenance_hook import ProvenanceError
from labelcraft.tracking.fingerprints import (
    check_inputs,
    data_fingerprints,
    file_entry,
    node_record,
    output_record,
    read_record,
    record_path,
)
from tests.conftest import run_session, tracking_uri

RAW = [{"dataset": "kuairand.raw_logs", "name": "log.csv", "size": 3, "sha256": "a" * 64}]


def built(node: str, dataset: str, inputs: dict[str, dict] | None = None, *,
          raw: list[dict] | None = None, params: dict | None = None) -> dict:
    """The record of `dataset` as `node` would write it."""
    record = node_record(node, params or {}, raw or [], inputs or {})
    return output_record(record, dataset, persisted=True)


# ---------------------------------------------------------------- records


def test_file_entry_is_name_size_and_sha256_of_the_content(tmp_path: Path) -> None:
    path = tmp_path / "log_standard_x.csv"
    path.write_bytes(b"user_id,video_id\n1,2\n")
    assert file_entry("kuairand.raw_logs", path) == {
        "dataset": "kuairand.raw_logs", "name": "log_standard_x.csv", "size": 21,
        "sha256": hashlib.sha256(b"user_id,video_id\n1,2\n").hexdigest()}


def test_data_fingerprints_are_per_source_and_ignore_file_order() -> None:
    logs = {"dataset": "kuairand.raw_logs", "name": "a.csv", "size": 1, "sha256": "1"}
    videos = {"dataset": "kuairand.raw_videos", "name": "b.csv", "size": 1, "sha256": "2"}
    other = {"dataset": "simulated.raw_logs", "name": "c.csv", "size": 1, "sha256": "3"}
    both = data_fingerprints([logs, videos, other])
    assert both == data_fingerprints([other, videos, logs])
    assert both["kuairand"] == data_fingerprints([videos, logs])["kuairand"]
    assert both["simulated"] != both["kuairand"]
    assert data_fingerprints([logs | {"sha256": "9"}, videos])["kuairand"] != both["kuairand"]


def test_fingerprint_changes_with_raw_files_parameters_and_inputs_only() -> None:
    base = node_record("ingest", {"params:x": 1}, RAW, {})
    assert node_record("ingest", {"params:x": 1}, RAW, {}) == base  # deterministic
    changed_raw = [RAW[0] | {"sha256": "b" * 64}]
    assert node_record("ingest", {"params:x": 1}, changed_raw, {})["fingerprint"] != \
        base["fingerprint"]
    assert node_record("ingest", {"params:x": 2}, RAW, {})["fingerprint"] != base["fingerprint"]
    interactions = built("ingest", "interactions", raw=RAW)
    features = node_record("build", {}, [], {"interactions": interactions})
    other = built("ingest", "interactions", raw=changed_raw)
    assert node_record("build", {}, [], {"interactions": other})["fingerprint"] != \
        features["fingerprint"]
    # raw files and the source's data fingerprint are carried downstream
    assert features["raw_files"] == RAW
    assert features["data_fingerprints"] == interactions["data_fingerprints"]
    assert features["lineage"] == {"interactions": interactions["fingerprint"]}


def test_consistent_inputs_pass() -> None:
    interactions = built("ingest", "interactions", raw=RAW)
    inputs = built("build", "model_inputs", {"interactions": interactions})
    groups = built("build", "eval_groups", {"interactions": interactions})
    current = {"interactions": interactions, "model_inputs": inputs, "eval_groups": groups}
    assert check_inputs({"model_inputs": inputs, "eval_groups": groups}, current) == []


def test_an_input_built_from_an_older_upstream_names_it_and_the_node_to_rerun() -> None:
    """The issue's case: new logs ingested, features not rebuilt, a cell then trains."""
    old = built("ingest", "interactions", raw=RAW)
    features = built("build", "model_inputs", {"interactions": old})
    new = built("ingest", "interactions", raw=[RAW[0] | {"sha256": "c" * 64}])
    (mismatch,) = check_inputs({"model_inputs": features},
                               {"interactions": new, "model_inputs": features})
    assert mismatch.dataset == "model_inputs" and mismatch.rebuild == ("build",)
    assert f"built from interactions {old['fingerprint'][:12]}" in mismatch.reason
    assert f"now {new['fingerprint'][:12]}" in mismatch.reason
    # two levels down, the rerun starts at the dataset built directly from the old version
    scores = built("train", "scores", {"model_inputs": features})
    (deep,) = check_inputs({"scores": scores}, {"interactions": new, "model_inputs": features})
    assert deep.dataset == "scores" and deep.rebuild == ("build",)


def test_inputs_from_different_raw_files_disagree_even_without_upstream_records() -> None:
    left = built("build", "model_inputs", {"interactions": built("ingest", "interactions",
                                                                 raw=RAW)})
    right = built("other_build", "eval_groups",
                  {"interactions": built("ingest", "interactions",
                                         raw=[RAW[0] | {"size": 4}])})
    found = check_inputs({"model_inputs": left, "eval_groups": right}, {})  # records gone
    assert {m.rebuild for m in found} == {("build", "other_build")}
    assert any("kuairand's raw files" in m.reason for m in found)


def test_a_record_that_is_not_one_is_refused_naming_the_file(tmp_path: Path) -> None:
    data = tmp_path / "model_inputs.parquet"
    data.write_bytes(b"x")
    assert read_record(data) is None  # no record
    record_path(data).write_text("{not json")
    with pytest.raises(ValueError, match="model_inputs.parquet.provenance.json is not valid"):
        read_record(data)
    record_path(data).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="is not a labelcraft.provenance/1 record"):
        read_record(data)


# ---------------------------------------------------------------- real runs (conf/test)


def test_every_saved_dataset_has_a_record_naming_its_raw_files(default_run: Path) -> None:
    data = default_run / "data"
    record = read_record(data / "02_intermediate/simulated/interactions.parquet")
    assert record is not None and record["node"] == "simulated.ingestion.ingest_logs"
    raw = data / "01_raw/simulated"
    assert {(e["name"], e["size"], e["sha256"]) for e in record["raw_files"]} == {
        (path.name, path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in raw.glob("*.csv")}
    features = read_record(data / "05_model_input/simulated/model_inputs.parquet")
    assert features["parameters"]["params:features"]["history_length"] == 100
    assert features["lineage"]["simulated.interactions"] == record["fingerprint"]
    board = read_record(data / "08_reporting/simulated/leaderboard.md")
    assert board["data_fingerprints"] == record["data_fingerprints"]
    saved = [p for p in data.rglob("*") if p.is_file() and not p.name.endswith(".provenance.json")]
    assert [p for p in saved if not record_path(p).exists()] == []


def test_mlflow_runs_carry_the_data_fingerprint(default_run: Path) -> None:
    record = read_record(default_run / "data/02_intermediate/simulated/interactions.parquet")
    fingerprint = record["data_fingerprints"]["simulated"]
    client = MlflowClient(tracking_uri(default_run))
    runs = client.search_runs([client.get_experiment_by_name("labelcraft").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.data.tags["data_fingerprint.simulated"] == fingerprint
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert children and {r.data.tags["data_fingerprint"] for r in children} == {fingerprint}


def _new_logs(project: Path) -> None:
    """Replace the simulated logs by other logs (the last 50 rows dropped)."""
    logs = project / "data/01_raw/simulated/log_standard_simulated.csv"
    lines = logs.read_text().splitlines(keepends=True)
    logs.write_text("".join(lines[:-50]))


def test_a_stage_run_on_features_of_other_logs_stops_and_names_the_rebuild(
        default_run: Path, project_copy: Path) -> None:
    """New logs are ingested, features are not rebuilt (as after a failed features node): a
    cell's training stops naming the stale datasets and the command; after it, it runs."""
    shutil.copytree(default_run / "data", project_copy / "data")
    _new_logs(project_copy)
    run_session(project_copy, "__default__", node_names=["simulated.ingestion.ingest_logs"])
    with pytest.raises(ProvenanceError) as error:
        run_session(project_copy, "__default__", namespaces=["simulated.din.wt"])
    message = str(error.value)
    assert "before node 'simulated.din.wt." in message
    assert re.search(r"simulated\.\w+ was built from simulated\.interactions [0-9a-f]{12}, but "
                     r"simulated\.interactions is now [0-9a-f]{12}", message), message
    command = 'kedro run --env test --from-nodes "simulated.features.build_model_inputs"'
    assert command in message
    run_session(project_copy, "__default__",
                node_names=["simulated.features.build_model_inputs"])
    run_session(project_copy, "__default__", namespaces=["simulated.din.wt"])  # now consistent
    scores = read_record(project_copy / "data/07_model_output/simulated/din/wt/test_scores.parquet")
    ingested = read_record(project_copy / "data/02_intermediate/simulated/interactions.parquet")
    assert scores["lineage"]["simulated.interactions"] == ingested["fingerprint"]


def test_a_dataset_without_a_record_is_not_trusted(default_run: Path, project_copy: Path) -> None:
    shutil.copytree(default_run / "data", project_copy / "data")
    record_path(project_copy / "data/05_model_input/simulated/feedback.parquet").unlink()
    with pytest.raises(ProvenanceError, match=r"no provenance record for simulated\.feedback "
                       r"\(.*feedback\.parquet\.provenance\.json\)") as error:
        run_session(project_copy, "__default__", namespaces=["simulated.din.wt"])
    assert '--from-nodes "simulated.features.build_model_inputs"' in str(error.value)
