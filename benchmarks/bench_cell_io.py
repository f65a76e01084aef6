"""Seconds of dataset I/O a grid cell adds, after a ``kedro run`` of the source.

Since every cell is its own nodes, each node loads its inputs from disk and saves its outputs
(one stage node used to hold everything in memory). For one cell (default ``<source>.din.wt``)
and the reporting stage's merge nodes, this times, through the project's catalog as the runner
uses it: loading every input of every node, saving every output (into a temporary copy of the
data folder), and the tensors a train node builds from its inputs (``ComparisonData``). The
last line is ``per_cell_s <x>``: load + save + build of one cell.

    python benchmarks/bench_cell_io.py --source simulated
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from labelcraft import settings
from labelcraft.datasets.strict_json import strict_json
from labelcraft.experiments import ComparisonData
from labelcraft.pipelines.comparison.pipeline import cell_pipeline, cells_from_parameters
from labelcraft.pipelines.reporting.pipeline import create_pipeline as reporting_pipeline

logger = logging.getLogger("bench_cell_io")
PROJECT = Path(__file__).resolve().parents[1]


def _config() -> tuple[dict[str, Any], dict[str, Any]]:
    """The catalog and parameters of conf/base + conf/local."""
    loader = OmegaConfigLoader(str(PROJECT / "conf"), **settings.CONFIG_LOADER_ARGS)
    return dict(loader["catalog"]), dict(loader["parameters"])


def _rebased(config: Any, root: Path) -> Any:
    """``config`` with every ``data/...`` path moved under ``root``."""
    if isinstance(config, dict):
        return {key: _rebased(value, root) for key, value in config.items()}
    if isinstance(config, str) and config.startswith("data/"):
        return str(root / config)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="simulated")
    parser.add_argument("--cell", default="din.wt", help="<backbone>.<method slug>")
    args = parser.parse_args()
    # force: importing Kedro installed its own handlers (root at WARNING)
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    logging.getLogger("kedro").setLevel(logging.WARNING)
    catalog_config, parameters = _config()
    cells = {c.local("")[:-1]: c for c in cells_from_parameters(parameters)}
    cell = cells[args.cell]
    merge = reporting_pipeline().only_nodes_with_namespaces([f"{args.source}.reporting"])
    merge = merge.filter(node_names=[n.name for n in merge.nodes if ".merge_" in n.name])
    nodes = [*cell_pipeline(cell, args.source).nodes, *merge.nodes]
    with tempfile.TemporaryDirectory() as folder:
        reading = DataCatalog.from_config(_rebased(catalog_config, PROJECT))
        writing = DataCatalog.from_config(_rebased(catalog_config, Path(folder)))
        result: dict[str, Any] = {"source": args.source, "cell": args.cell, "nodes": {}}
        for node in nodes:
            started = time.perf_counter()
            loaded = {name: reading.load(name) for name in node.inputs
                      if not name.startswith("params:")}
            entry = {"load_s": round(time.perf_counter() - started, 3)}
            outputs = {name: reading.load(name) for name in node.outputs}
            started = time.perf_counter()
            for name, value in outputs.items():
                writing.save(name, value)
            entry["save_s"] = round(time.perf_counter() - started, 3)
            if node.name.endswith(".train"):
                started = time.perf_counter()
                ComparisonData.from_frames(*(loaded[f"{args.source}.{name}"] for name in (
                    "model_inputs", "feedback", "eval_groups_valid", "eval_groups_test",
                    "feature_spec")))
                entry["build_s"] = round(time.perf_counter() - started, 3)
            result["nodes"][node.name] = entry
            logger.info("%s: %s", node.name, entry)
    cell_nodes = [e for name, e in result["nodes"].items() if ".reporting." not in name]
    per_cell = sum(e["load_s"] + e["save_s"] + e.get("build_s", 0.0) for e in cell_nodes)
    merge_s = sum(e["load_s"] + e["save_s"] for name, e in result["nodes"].items()
                  if ".reporting." in name)
    result |= {"per_cell_s": round(per_cell, 2), "merge_s": round(merge_s, 2)}
    logger.info(strict_json(result))
    logger.info("per_cell_s %.2f", per_cell)


if __name__ == "__main__":
    main()
