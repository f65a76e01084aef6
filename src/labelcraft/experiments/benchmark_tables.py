"""The open-benchmarking tables of a grid: one tidy results table and the backbone x method matrix.

Both read the merged reports (``valid_metrics`` / ``test_metrics``), whose entries carry their
cell's ``backbone`` and ``method``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

RESULT_COLUMNS = ("backbone", "method", "seed", "split", "metric", "value")
"""The columns of ``results.csv``, exactly."""


def tidy_results(reports: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per backbone, method, seed, split and metric of the merged ``reports`` (valid,
    test): a top-k metric's value is the seed's mean over users, an AUC's or gAUC's its value."""
    rows = []
    for report in reports:
        for entry in report["methods"].values():
            for seed in entry["per_seed"]:
                for metric, summary in seed["metrics"].items():
                    rows.append((entry["backbone"], entry["method"], int(seed["seed"]),
                                 report["split"], metric,
                                 float(summary.get("mean", summary.get("value")))))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def matrix(report: Mapping[str, Any], metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Means and seed stds of ``metric`` as backbones x methods tables (grid order)."""
    means: dict[str, dict[str, float]] = {}
    stds: dict[str, dict[str, float]] = {}
    for entry in report["methods"].values():
        summary = entry["metrics"][metric]
        field = "mean" if "mean" in summary else "value"
        means.setdefault(entry["backbone"], {})[entry["method"]] = summary[field]
        stds.setdefault(entry["backbone"], {})[entry["method"]] = summary[f"{field}_std"]
    return pd.DataFrame(means).T, pd.DataFrame(stds).T


def matrix_markdown(report: Mapping[str, Any], metric: str) -> str:
    """Markdown matrix: a row per backbone, a column per label method, "mean ± std" over seeds
    of ``metric`` on the report's split; bold: the best method of each backbone."""
    means, stds = matrix(report, metric)
    lines = [
        f"# {metric} by backbone and label method: {report['split']} split",
        "",
        f"{len(report['seeds'])} seed(s) {tuple(report['seeds'])}, {report['n_users']:,} users; "
        "mean ± std over seeds. Bold: the best label method of each backbone (random excluded).",
        "",
        "| backbone | " + " | ".join(means.columns) + " |",
        "|---|" + "---|" * len(means.columns),
    ]
    entries = {(entry["backbone"], entry["method"]): entry
               for entry in report["methods"].values()}
    for backbone, row in means.iterrows():
        trained = row[[m for m in row.index if entries[backbone, m]["kind"] != "floor"]]
        best = trained.idxmax() if trained.notna().any() else None
        cells = []
        for method, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                cells.append("")
                continue
            std = stds.loc[backbone, method]
            text = f"{value:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")
            cells.append(f"**{text}**" if method == best else text)
        lines.append(f"| {backbone} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
