"""The open-benchmarking tables of a grid: one tidy results table and the backbone x method matrix.

Both read the merged reports (``valid_metrics`` / ``test_metrics``), whose entries carry their
cell's ``backbone`` and ``method``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
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
    return "\n".join(lines + rank_agreement(means, entries)) + "\n"


def rank_agreement(means: pd.DataFrame, entries: Mapping[tuple[str, str], Any]) -> list[str]:
    """Lines on whether the label methods rank alike on every backbone: each trained method's
    rank per backbone (1 = best) and the Spearman correlation of the method order between
    every pair of backbones (none with one backbone)."""
    trained = [m for m in means.columns
               if all(entries[b, m]["kind"] != "floor" for b in means.index if (b, m) in entries)]
    ranks = means[trained].rank(axis=1, ascending=False, method="min")
    lines = ["", "Rank of each trained label method on each backbone (1 = best mean):", "",
             "| backbone | " + " | ".join(trained) + " |", "|---|" + "---|" * len(trained)]
    lines += [f"| {backbone} | " + " | ".join(f"{int(v)}" for v in row) + " |"
              for backbone, row in ranks.iterrows()]
    if len(means) > 1:
        corr = means[trained].T.corr(method="spearman").to_numpy()
        pairs = corr[np.triu_indices(len(corr), k=1)]
        lines += ["", f"Spearman correlation of the method order between the {len(means)} "
                  f"backbones ({len(pairs)} pairs): mean {pairs.mean():.2f}, min "
                  f"{pairs.min():.2f}, max {pairs.max():.2f}."]
    return lines
