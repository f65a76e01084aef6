"""Markdown leaderboard of a split report: label methods as rows, the paper's columns first.

Columns: NWTG@k, DS@k, NEG@k (the paper's table), each "mean ± std [low, high]": mean and
sample std over seeds, and the bootstrap interval over users of the seed-averaged metric; then
AUC of the score for EF and for long_view ("mean ± std" over seeds) and, when a truth report
is given, SAT_NDCG@k (agreement with the simulator's latent satisfaction). The best trained
method of each top-k column is in bold (higher is better for all three); the random floor is
never bolded. A last line names the trained methods that no other trained method beats on all
three top-k metrics at once (`undominated`, by the means over seeds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DECIMALS = {"NWTG": 4, "NEG": 4, "DS": 2, "SAT_NDCG": 4}  # by metric name before "@k"
AUC_DECIMALS = 3


def _decimals(metric: str) -> int:
    return AUC_DECIMALS if metric.startswith("AUC") else DECIMALS[metric.partition("@")[0]]


def format_summary(entry: Mapping[str, float | int], decimals: int) -> str:
    """Format a summary: "mean ± std [low, high]" (per-user metric) or "value ± std" (AUC).

    A NaN std (one seed) is left out; NaN values print as "n/a".
    """
    key = "mean" if "mean" in entry else "value"

    def number(value: float | int) -> str:
        return "n/a" if math.isnan(value) else f"{value:.{decimals}f}"

    text = number(entry[key])
    std = entry.get(f"{key}_std", math.nan)
    if not math.isnan(std):
        text += f" ± {number(std)}"
    if "ci_low" in entry:
        text += f" [{number(entry['ci_low'])}, {number(entry['ci_high'])}]"
    return text


def undominated(report: Mapping[str, Any]) -> list[str]:
    """Trained methods (report order) that no other trained method beats on NWTG, DS and NEG@k.

    "Beats" means a strictly higher mean over seeds on each of the three; the floor is ignored.
    """
    k = report["k"]
    topk = (f"NWTG@{k}", f"DS@{k}", f"NEG@{k}")
    means = {
        method: [entry["metrics"][metric]["mean"] for metric in topk]
        for method, entry in report["methods"].items()
        if entry["kind"] != "floor"
    }
    return [
        method
        for method, own in means.items()
        if not any(
            all(o > m for o, m in zip(other, own, strict=True))
            for name, other in means.items()
            if name != method
        )
    ]


def leaderboard_markdown(
    report: Mapping[str, Any],
    truth: Mapping[str, Any] | None = None,
    *,
    title: str = "Label methods",
) -> str:
    """Markdown table of a `split_report` (and optional `truth_agreement`) with a legend."""
    k = report["k"]
    topk = [f"NWTG@{k}", f"DS@{k}", f"NEG@{k}"]
    columns = [*topk, "AUC_EF", "AUC_long_view"]
    methods: Mapping[str, Any] = report["methods"]
    cells = {m: dict(entry["metrics"]) for m, entry in methods.items()}
    if truth is not None:
        truth_metric = truth["metric"]
        columns.append(truth_metric)
        topk.append(truth_metric)
        for method, entry in truth["methods"].items():
            cells.setdefault(method, {}).update(entry["metrics"])
    trained = [m for m in methods if methods[m]["kind"] != "floor"]
    best = {
        column: max(trained, key=lambda m, c=column: cells[m][c]["mean"], default=None)
        for column in topk
        if all(column in cells[m] for m in trained)
    }
    header = ["Method", *(c.replace("_", " ") for c in columns)]
    lines = [
        f"# {title}: {report['split']} split",
        "",
        f"k = {k}; {len(report['seeds'])} seed(s) {tuple(report['seeds'])}; "
        f"{report['n_users']:,} users, {report['n_interactions']:,} interactions. "
        f"Cells: mean ± std over seeds [{report['level']:.0%} bootstrap interval over users "
        "of the seed-averaged metric]. DS in seconds. Bold: best trained method.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for method, metrics in cells.items():
        row = [method]
        for column in columns:
            entry = metrics.get(column)
            if entry is None:
                row.append("")
                continue
            text = format_summary(entry, _decimals(column))
            row.append(f"**{text}**" if best.get(column) == method else text)
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"Not beaten on NWTG@{k}, DS@{k} and NEG@{k} at once by another trained method (means): "
        f"{', '.join(undominated(report))}.",
    ]
    if truth is not None:
        lines += ["", f"{truth['metric']}: {truth['gain']}."]
    return "\n".join(lines) + "\n"
