"""Simulation nodes: a seeded generative model writing KuaiRand-format logs and its ground truth."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from labelcraft.simulator import SimulationConfig, calibration_report, simulate

logger = logging.getLogger(__name__)


def simulate_kuairand_logs(
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Simulate logs, video and user files in KuaiRand format, plus the ground-truth tables."""
    data = simulate(SimulationConfig.from_dict(params))
    return (
        data.logs,
        data.videos,
        data.users,
        data.truth_interactions,
        data.truth_users,
        data.truth_videos,
    )


def check_calibration(ingestion_report: dict[str, Any], factor: float) -> dict[str, Any]:
    """Compare the ingested simulated rates with the real KuaiRand slice and log the table."""
    table = calibration_report(ingestion_report["rates"], factor=factor)
    logger.info("Simulated vs real KuaiRand marginal rates:\n%s", table.to_string(index=False))
    outside = table.loc[~table["within_factor"], "metric"].tolist()
    if outside:
        logger.warning("Rates outside a factor of %.2f of the real slice: %s", factor, outside)
    return {"factor": factor, "outside": outside, "rows": table.to_dict(orient="records")}
