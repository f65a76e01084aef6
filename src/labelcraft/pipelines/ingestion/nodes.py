"""Ingestion nodes: raw KuaiRand-format files -> typed interactions + rejected rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from labelcraft.kuairand.rates import interaction_rates
from labelcraft.kuairand.reader import MAX_REPORTED
from labelcraft.kuairand.schema import SOURCE_COLUMNS
from labelcraft.kuairand.validation import ingest, parse_user_ids
from labelcraft.spark import is_spark_frame
from labelcraft.tracking import ingestion_metrics, metric_items

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)


def ingest_logs(
    raw_logs: Any, raw_videos: Any, raw_users: Any
) -> tuple[Any, Any, dict[str, Any]]:
    """Type and validate the logs, join video attributes, and count what was kept and rejected.

    Returns the interactions table, the rejected rows (original text, file, line and ``reason``)
    and a report with the counts and the marginal rates of the kept interactions. Logs without
    a row, or whose every row is rejected, stop here with that reason (no later stage can use
    them). Spark frames in give Spark frames out (`labelcraft.spark.validation`), pandas frames
    pandas frames.
    """
    if is_spark_frame(raw_logs):
        return _ingest_logs_spark(raw_logs, raw_videos, raw_users)
    interactions, rejected, report = ingest(raw_logs, raw_videos)
    if len(interactions) == 0:
        first = rejected.head(MAX_REPORTED)[[*SOURCE_COLUMNS, "reason"]].itertuples(index=False)
        raise nothing_kept_error(report, first)
    known_users = parse_user_ids(raw_users)
    log_users = pd.Series(interactions["user_id"].unique())
    missing = log_users[~log_users.isin(known_users)]
    _add_user_check(report, len(raw_users), len(missing), sorted(missing.tolist())[:MAX_REPORTED])
    return interactions, rejected, _add_rates(report, interaction_rates(interactions))


def _ingest_logs_spark(
    raw_logs: DataFrame, raw_videos: DataFrame, raw_users: DataFrame
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """`ingest_logs` on Spark frames: the interactions (with source_file/source_line for the row
    order) and rejected rows stay Spark frames; the report is the pandas path's."""
    from labelcraft.spark.validation import (  # noqa: PLC0415 (optional dependency)
        ingest_spark,
        interaction_rates_spark,
        missing_users_spark,
        parse_user_ids_spark,
    )

    interactions, rejected, report = ingest_spark(raw_logs, raw_videos)
    if report["kept_rows"] == 0:
        first = (rejected.select(*SOURCE_COLUMNS, "reason").orderBy(*SOURCE_COLUMNS)
                 .limit(MAX_REPORTED).collect())
        raise nothing_kept_error(report, first)
    missing, first_missing = missing_users_spark(interactions, parse_user_ids_spark(raw_users))
    _add_user_check(report, raw_users.count(), missing, first_missing)
    return interactions, rejected, _add_rates(report, interaction_rates_spark(interactions))


def nothing_kept_error(report: dict[str, Any],
                       first_rejected: Iterable[tuple[str, int, str]]) -> ValueError:
    """The error for logs that keep no row: header only, or every row rejected (`report`, and
    the first rejected rows as (source_file, source_line, reason))."""
    files = ", ".join(entry["file"] for entry in report.get("files", [])) or "no rows"
    if report["input_rows"] == 0:
        return ValueError(f"the logs have a header and no rows ({files}): nothing to ingest")
    first = ", ".join(f"{file}:{line} {reason}" for file, line, reason in first_rejected)
    return ValueError(f"every one of the {report['input_rows']} log rows was rejected "
                      f"({report['rejected_by_reason']}; files {files}; first: {first}): "
                      "nothing kept to build features from")


def _add_user_check(report: dict[str, Any], user_file_rows: int, missing: int,
                    first_missing: list[int]) -> None:
    """Record the user-file check in `report`; warn about the `missing` log users."""
    report["user_file_rows"] = user_file_rows
    report["log_users_missing_from_user_file"] = missing
    if missing:
        logger.warning("%d user(s) of the logs are missing from the user file (kept: the user "
                       "file is not used for features), first ids %s", missing, first_missing)


def _add_rates(report: dict[str, Any], rates: dict[str, float]) -> dict[str, Any]:
    """`report` with the marginal `rates` of the kept interactions (logged)."""
    report["rates"] = rates
    logger.info("Marginal rates of the kept interactions: %s", report["rates"])
    return report


def summarise_ingestion(ingestion_report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Rows read, kept and rejected (in total and per reason) as run metrics.

    Output format of ``MlflowMetricsHistoryDataset``: ``{name: {"value": v, "step": 0}}``.
    """
    return metric_items(ingestion_metrics(ingestion_report))
