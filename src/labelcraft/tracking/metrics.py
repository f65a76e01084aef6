"""Flat run metrics from the ingestion report and the feature spec.

Metric names use ``.`` as separator (``rejected.null.user_id``); characters MLflow does not take
in a metric name (such as the ``:`` of rejection reasons) become ``.``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NOT_IN_METRIC_NAME = re.compile(r"[^\w./\- ]")
_FEATURE_COUNT_GROUPS = (
    ("rows", "split_rows"),
    ("eval_users", "eval_users"),
    ("vocab", "vocab_sizes"),
)
"""(metric prefix, feature_spec key) of the per-split and per-vocabulary counts."""


def metric_name(*parts: str) -> str:
    """Join ``parts`` with ``.`` and replace characters MLflow rejects in metric names."""
    return _NOT_IN_METRIC_NAME.sub(".", ".".join(parts))


def ingestion_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """Rows read, kept and rejected, and rejected rows per reason, from an ingestion report.

    ``report`` is the ``ingestion_report`` of the ingestion stage (``input_rows``, ``kept_rows``,
    ``rejected_rows``, ``rejected_by_reason``). Raises ``ValueError`` when the counts do not add up,
    so a report that lost rows is never logged as if it were whole.
    """
    counts = {name: float(report[name]) for name in ("input_rows", "kept_rows", "rejected_rows")}
    by_reason = {
        metric_name("rejected", reason): float(n)
        for reason, n in report["rejected_by_reason"].items()
    }
    if counts["kept_rows"] + counts["rejected_rows"] != counts["input_rows"]:
        raise ValueError(f"ingestion report: kept + rejected != input rows: {counts}")
    if sum(by_reason.values()) != counts["rejected_rows"]:
        raise ValueError(
            f"ingestion report: rejected rows per reason {by_reason} do not add up to "
            f"{counts['rejected_rows']:.0f}"
        )
    return counts | by_reason


def feature_metrics(spec: Mapping[str, Any]) -> dict[str, float]:
    """Rows (all, per split), evaluation users per split and vocabulary sizes, from a feature spec.

    Names: ``rows``, ``rows.train``, ``eval_users.test``, ``vocab.video``, ``duration_buckets``.

    ``spec`` is the ``feature_spec`` of the features stage (``num_rows``, ``split_rows``,
    ``eval_users``, ``vocab_sizes``, ``duration_buckets.effective``).
    """
    metrics = {"rows": float(spec["num_rows"])}
    for prefix, group in _FEATURE_COUNT_GROUPS:
        metrics |= {metric_name(prefix, key): float(n) for key, n in spec[group].items()}
    metrics["duration_buckets"] = float(spec["duration_buckets"]["effective"])
    return metrics


def metric_items(values: Mapping[str, float], step: int = 0) -> dict[str, dict[str, float]]:
    """``{name: value}`` -> ``{name: {"value": value, "step": step}}``.

    The format of ``kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset`` (one point per metric).
    """
    return {name: {"value": float(value), "step": step} for name, value in values.items()}
