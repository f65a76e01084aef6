"""The tables of a part of the grid: merge the test reports of the cells a run wrote.

A run restricted with ``--namespaces`` (some cells only) does not rebuild the reporting stage,
whose merge reads every cell of the grid. This script merges the ``test_report.json`` of the
cells found under ``data/07_model_output/<source>/`` (or the ``--cells`` given as
``<backbone slug>/<method slug>``) and prints the leaderboard, the backbone x label method
matrix of NWTG@10 and the multi-objective per-task table, as the reporting stage writes them.

    python benchmarks/cell_tables.py --source kuairand [--cells feedback_aware/wt din/wt ...]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from labelcraft.experiments import (
    leaderboard_markdown,
    matrix_markdown,
    merge_reports,
    task_table_markdown,
)

logger = logging.getLogger("cell_tables")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="kuairand")
    parser.add_argument("--data", type=Path, default=Path("data"), help="the run's data folder")
    parser.add_argument("--cells", nargs="+", help="<backbone slug>/<method slug>; default all")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = args.data / "07_model_output" / args.source
    paths = ([root / cell / "test_report.json" for cell in args.cells] if args.cells
             else sorted(root.glob("*/*/test_report.json")))
    missing = [str(path) for path in paths if not path.exists()]
    if missing or not paths:
        raise SystemExit(f"no test report at {missing or root}")
    reports = [json.loads(path.read_text()) for path in paths]
    several = len({entry["backbone"] for report in reports
                   for entry in report["methods"].values()}) > 1
    names = [f"{entry['backbone']}/{method}" if several else method
             for report in reports for method, entry in report["methods"].items()]
    merged = merge_reports(reports, names)
    label_cells = any(entry["kind"] != "multi_objective" for entry in merged["methods"].values())
    matrix = matrix_markdown(merged, f"NWTG@{merged['k']}") if label_cells else ""
    logger.info("%s\n%s\n%s", leaderboard_markdown(merged), matrix,
                task_table_markdown(merged))


if __name__ == "__main__":
    main()
