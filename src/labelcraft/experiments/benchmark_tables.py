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
    """Means and seed stds of ``metric`` as backbones x label methods tables (grid order; the
    multi-objective cells, which use no label method, are not in it)."""
    means: dict[str, dict[str, float]] = {}
    stds: dict[str, dict[str, float]] = {}
    for entry in report["methods"].values():
        if entry["kind"] == "multi_objective":
            continue
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
               for entry in report["methods"].values() if entry["kind"] != "multi_objective"}
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


TASK_METRICS: tuple[str, ...] = (
    "AUC_skip", "gAUC_skip", "AUC_long_view", "gAUC_long_view", "AUC_EF", "gAUC_EF",
    "AUC_hate", "gAUC_hate", "MAE_watch_time", "XAUC_watch_time")
"""The per-task metrics of the multi-objective table, in its column order."""


def _task_of(metric: str) -> str:
    """The task a per-task metric measures: "gAUC_long_view" -> "long_view"."""
    return metric.split("_", 1)[1]


def task_table_markdown(report: Mapping[str, Any]) -> str:
    """Markdown table of the multi-objective cells of ``report``: a row per cell, a column per
    metric of `TASK_METRICS` (blank where the cell has no head for the task): mean ± std over
    seeds and, for the per-user metrics, the bootstrap interval over users."""
    entries = [(name, entry) for name, entry in report["methods"].items()
               if entry["kind"] == "multi_objective"]
    title = f"# Per-task metrics of the multi-objective cells: {report['split']} split"
    if not entries:
        return f"{title}\n\nNo multi-objective cell in this run (params:multi_objective).\n"
    lines = [
        title, "",
        f"{len(report['seeds'])} seed(s) {tuple(report['seeds'])}, {report['n_users']:,} users, "
        f"{report['n_interactions']:,} impressions; mean ± std over seeds, [{report['level']:.0%} "
        "bootstrap interval over users of the user's value averaged over seeds]. MAE in seconds "
        "(lower is better); the others are higher-is-better.", "",
        "| cell | " + " | ".join(TASK_METRICS) + " |", "|---|" + "---|" * len(TASK_METRICS)]
    for name, entry in entries:
        cells = []
        for metric in TASK_METRICS:
            summary = entry["metrics"].get(metric)
            if summary is None or _task_of(metric) not in entry["heads"]:
                cells.append("")
                continue
            digits = 2 if metric.startswith("MAE") else 4
            text = f"{summary['value']:.{digits}f}"
            if not math.isnan(summary["value_std"]):
                text += f" ± {summary['value_std']:.{digits}f}"
            if "ci_low" in summary:
                text += f" [{summary['ci_low']:.{digits}f}, {summary['ci_high']:.{digits}f}]"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
