"""Ingestion nodes: raw KuaiRand-format files -> typed interactions + rejected rows."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from labelcraft.kuairand.rates import interaction_rates
from labelcraft.kuairand.validation import ingest, parse_user_ids
from labelcraft.tracking import ingestion_metrics, metric_items

logger = logging.getLogger(__name__)


def ingest_logs(
    raw_logs: pd.DataFrame, raw_videos: pd.DataFrame, raw_users: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Type and validate the logs, join video attributes, and count what was kept and rejected.

    Returns the interactions table, the rejected rows (original text, file, line and ``reason``)
    and a report with the counts and the marginal rates of the kept interactions. Logs without
    a row, or whose every row is rejected, stop here with that reason (no later stage can use
    them).
    """
    interactions, rejected, report = ingest(raw_logs, raw_videos)
    if len(interactions) == 0:
        files = ", ".join(entry["file"] for entry in report.get("files", [])) or "no rows"
        if report["input_rows"] == 0:
            raise ValueError(f"the logs have a header and no rows ({files}): nothing to ingest")
        first = ", ".join(f"{row.source_file}:{row.source_line} {row.reason}"
                          for row in rejected.head(5).itertuples())
        raise ValueError(f"every one of the {report['input_rows']} log rows was rejected "
                         f"({report['rejected_by_reason']}; files {files}; first: {first}): "
                         "nothing kept to build features from")
    known_users = parse_user_ids(raw_users)
    log_users = pd.Series(interactions["user_id"].unique())
    report["user_file_rows"] = len(raw_users)
    missing = log_users[~log_users.isin(known_users)]
    report["log_users_missing_from_user_file"] = len(missing)
    if len(missing):
        logger.warning("%d user(s) of the logs are missing from the user file (kept: the user "
                       "file is not used for features), first ids %s", len(missing),
                       sorted(missing.tolist())[:5])
    report["rates"] = interaction_rates(interactions)
    logger.info("Marginal rates of the kept interactions: %s", report["rates"])
    return interactions, rejected, report


def summarise_ingestion(ingestion_report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Rows read, kept and rejected (in total and per reason) as run metrics.

    Output format of ``MlflowMetricsHistoryDataset``: ``{name: {"value": v, "step": 0}}``.
    """
    return metric_items(ingestion_metrics(ingestion_report))
