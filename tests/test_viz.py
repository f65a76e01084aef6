"""Kedro-Viz static export: ``kedro viz build`` of a project copy, checked through its JSON.

The build writes ``build/`` in the working directory (the CLI has no target option), so it runs
in a throw-away project copy. ``build/api/main`` and ``build/api/pipelines/<id>`` hold each
pipeline's graph (nodes, edges, tags, layers, namespaces); ``build/api/nodes/<id>`` one node's
details. The CLI reports failures as a message with exit code 0, so the files are the evidence.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelcraft.experiments import LABELCRAFT
from labelcraft.pipelines.comparison.pipeline import cells_from_parameters
from labelcraft.pipelines.run_parameters import pipeline_parameters
from labelcraft.sources import KUAIRAND, SIMULATED, SOURCES
from tests.conftest import project_environment

pytestmark = pytest.mark.e2e

BUILD_TIMEOUT_S = 300

STAGE_NODES = {
    "simulation": ("simulate_kuairand_logs", "check_calibration"),
    "ingestion": ("ingest_logs", "summarise_ingestion"),
    "features": ("build_model_inputs", "summarise_features"),
    "reporting": (
        "merge_valid_metrics",
        "merge_test_metrics",
        "merge_training_history",
        "merge_test_scores",
        "write_leaderboard",
        "plot_training_curves",
        "plot_duration_histograms",
        "plot_leaderboard",
        "plot_label_surface",
        "correlate_labels_with_rules",
        "plot_label_surface_ratio",
        "write_results_table",
        "write_matrix_leaderboard",
        "plot_matrix_leaderboard",
        "write_task_table",
    ),
}
"""Node names of each stage pipeline, before the ``<source>.<stage>`` namespace."""
NODE_PART = {"check_calibration": "calibration"}
"""Nodes in a namespace other than their stage's (it reads the ingestion stage's report)."""
CELLS = cells_from_parameters(pipeline_parameters())
"""The grid of conf/base: 9 rules, LabelCraft, its control and the floor on DIN."""
CELL_NODES = {"rule": ("fit_labels", "train", "evaluate", "write_run_card"),
              "multi_task": ("fit_labels", "train", "evaluate", "write_run_card"),
              "labelcraft": ("train", "evaluate", "write_run_card"),
              "floor": ("train", "evaluate", "write_run_card"),
              "multi_objective": ("train", "evaluate", "write_run_card")}

TRUTH_NODES = {"reporting": {SIMULATED: ("score_truth_agreement",)}}
"""Stage nodes of only the sources with a ground truth (the simulator's)."""

STAGE_SOURCES = {
    "simulation": (SIMULATED,),
    **dict.fromkeys(("ingestion", "features", "comparison", "reporting"), SOURCES),
}
STAGES = (*STAGE_NODES, "comparison")

LAYERS = [
    ("raw",), ("intermediate",), ("feature",), ("model_input",), ("models", "model_output"),
    ("reporting",)
]
"""Kedro-Viz layers of the catalog in data-flow order (layers of one tuple in either order)."""


def viz_build(project: Path, *options: str) -> Path:
    """``build/api`` of ``kedro viz build <options>`` run in ``project``."""
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build", *options],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    api_dir = project / "build" / "api"
    assert done.returncode == 0 and (api_dir / "main").is_file(), (
        f"kedro viz build failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    return api_dir


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``build/api`` of ``kedro viz build`` in a fresh project copy."""
    with project_environment(tmp_path_factory.mktemp("viz_project")) as project:
        yield viz_build(project)


def _graph(api: Path, pipeline: str) -> dict[str, Any]:
    return json.loads((api / "pipelines" / pipeline).read_text())


def _tasks(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Task nodes of a pipeline graph by full (namespaced) name."""
    return {node["full_name"]: node for node in graph["nodes"] if node["type"] == "task"}


def _stage_tasks(stage: str, source: str) -> set[str]:
    """Full names of ``stage``'s nodes for ``source`` (none if the stage skips the source)."""
    if source not in STAGE_SOURCES[stage]:
        return set()
    if stage == "comparison":
        return {f"{cell.namespace(source)}.{name}" for cell in CELLS
                for name in (*CELL_NODES[cell.kind],
                             *(["register_labeler"] if cell.method == LABELCRAFT else []))}
    names = (*STAGE_NODES[stage], *TRUTH_NODES.get(stage, {}).get(source, ()))
    return {f"{source}.{NODE_PART.get(name, stage)}.{name}" for name in names}


def _expected_tasks(source: str) -> set[str]:
    return set().union(*(_stage_tasks(stage, source) for stage in STAGES))


def test_every_pipeline_is_exported(api: Path) -> None:
    """The default, both source and every stage pipeline are listed and written."""
    main = json.loads((api / "main").read_text())
    listed = {pipeline["id"] for pipeline in main["pipelines"]}
    expected = {"__default__", SIMULATED, KUAIRAND, *STAGES}
    assert expected <= listed
    assert main["selected_pipeline"] == "__default__"
    for pipeline in listed:
        assert (api / "pipelines" / pipeline).is_file(), pipeline


@pytest.mark.parametrize("source", SOURCES)
def test_source_pipeline_holds_its_namespace_only(api: Path, source: str) -> None:
    """A source's pipeline has every stage node and grid cell of that source and nothing of
    another source; each stage and each cell is a modular pipeline of the source."""
    graph = _graph(api, source)
    tasks = _tasks(graph)
    assert _expected_tasks(source) == set(tasks)
    for full_name, node in tasks.items():
        namespace = full_name.rsplit(".", 1)[0]
        assert node["modular_pipelines"] == [namespace], full_name
        assert full_name == f"{namespace}.{node['name']}"  # the readable name drops it
    data_names = [node["name"] for node in graph["nodes"] if node["type"] == "data"]
    assert data_names and all(name.startswith(f"{source}.") for name in data_names)
    modular = set(graph["modular_pipelines"])
    assert {source, f"{source}.din", f"{source}.reporting"} <= modular
    assert {cell.namespace(source) for cell in CELLS} <= modular
    other = {s for s in SOURCES if s != source}
    assert not {name for name in modular if name.split(".")[0] in other}


def test_the_grid_has_one_train_node_per_cell(api: Path) -> None:
    """At least 12 cells on DIN (9 rules, LabelCraft, its control, the floor), each with one
    train node tagged with the stage and its kind."""
    tasks = _tasks(_graph(api, KUAIRAND))
    train = {name: node for name, node in tasks.items() if node["name"] == "train"}
    assert len(train) == len(CELLS) >= 12
    for cell in CELLS:
        node = train[f"{cell.namespace(KUAIRAND)}.train"]
        assert {"comparison", cell.kind} <= set(node["tags"])


def test_default_pipeline_is_the_simulated_source(api: Path) -> None:
    """``__default__`` shows the same nodes as ``simulated``."""
    assert set(_tasks(_graph(api, "__default__"))) == set(_tasks(_graph(api, SIMULATED)))


@pytest.mark.parametrize("stage", STAGES)
def test_stage_pipeline_groups_sources_and_tags_nodes(api: Path, stage: str) -> None:
    """A stage pipeline holds its nodes once per source, each tagged with the stage."""
    graph = _graph(api, stage)
    tasks = _tasks(graph)
    expected = set().union(*(_stage_tasks(stage, source) for source in SOURCES))
    assert set(tasks) == expected
    assert all(stage in node["tags"] for node in tasks.values())
    assert {tag["id"] for tag in graph["tags"]} >= {stage}
    assert set(STAGE_SOURCES[stage]) <= set(graph["modular_pipelines"])


@pytest.mark.parametrize("pipeline", [*STAGES, *SOURCES])
def test_datasets_sit_in_layers_in_data_flow_order(api: Path, pipeline: str) -> None:
    """Every dataset of the stages has a layer; source pipelines order the layers by data flow."""
    graph = _graph(api, pipeline)
    unlayered = [n["name"] for n in graph["nodes"] if n["type"] == "data" and not n.get("layer")]
    if pipeline in STAGES:
        assert not unlayered, f"datasets without a kedro-viz layer: {unlayered}"
    else:
        rank = {layer: step for step, layers in enumerate(LAYERS) for layer in layers}
        order = [rank[layer] for layer in graph["layers"] if layer in rank]
        assert order == sorted(order) and len(order) == len(rank), graph["layers"]


def test_node_details_show_code_and_parameters(api: Path) -> None:
    """The detail file of ``simulated.features.build_model_inputs`` has its code, file and
    parameters."""
    node = _tasks(_graph(api, SIMULATED))[f"{SIMULATED}.features.build_model_inputs"]
    details = json.loads((api / "nodes" / node["id"]).read_text())
    assert "def build_model_inputs" in details["code"]
    assert details["filepath"].endswith("pipelines/features/nodes.py")
    assert details["parameters"]["features"]["history_length"] == 100
    assert f"{SIMULATED}.model_inputs" in details["outputs"]
    assert "simulated.features.build_model_inputs" in details["run_command"]


def test_mlflow_datasets_are_visible(api: Path) -> None:
    """The datasets logged to MLflow appear with their kedro-mlflow types."""
    graph = _graph(api, SIMULATED)
    types = {n["name"]: n["dataset_type"] for n in graph["nodes"] if n["type"] == "data"}
    assert "MlflowMetricsHistoryDataset" in types[f"{SIMULATED}.ingestion_metrics"]
    assert "MlflowMetricsHistoryDataset" in types[f"{SIMULATED}.feature_metrics"]
    assert "mlflow_artifact_dataset" in types[f"{SIMULATED}.calibration_report"]


def test_plots_preview_as_images(
    default_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``--include-previews`` Kedro-Viz shows each plot of a finished run as a PNG."""
    with project_environment(tmp_path) as project:
        shutil.copytree(default_run / "data", project / "data")  # the shared run stays read-only
        monkeypatch.setenv("KEDRO_ENV", "test")
        api = viz_build(project, "--include-previews")
        data = {n["name"]: n for n in _graph(api, SIMULATED)["nodes"] if n["type"] == "data"}
        for plot in ("training_curves", "duration_histograms", "leaderboard", "label_surface",
                     "label_surface_ratio"):
            node_id = data[f"{SIMULATED}.{plot}_plot"]["id"]
            details = json.loads((api / "nodes" / node_id).read_text())
            assert details["preview_type"] == "ImagePreview", plot
            assert base64.b64decode(details["preview"])[:8] == b"\x89PNG\r\n\x1a\n", plot
