"""Marginal rates of a KuaiRand-format log compared with the real slice's."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd

from labelcraft.kuairand.rates import interaction_rates
from labelcraft.simulator.config import REAL_SLICE_RATES

logger = logging.getLogger(__name__)

def calibration_report(
    source: pd.DataFrame | Mapping[str, float], factor: float = 1.5
) -> pd.DataFrame:
    """Simulated vs real value of the REAL_SLICE_RATES metrics, in that order.

    `source` is a log (the 19 KuaiRand columns: every metric is measured) or a mapping
    metric -> simulated value, e.g. the ingestion's rates (keys not in REAL_SLICE_RATES are
    ignored; metrics it lacks are left out of the table and logged). Returns columns metric,
    simulated, real, ratio (simulated / real), within_factor (1/factor <= ratio <= factor).
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    simulated = interaction_rates(source) if isinstance(source, pd.DataFrame) else dict(source)
    metrics = [m for m in REAL_SLICE_RATES if m in simulated]
    missing = [m for m in REAL_SLICE_RATES if m not in simulated]
    if not metrics:
        raise ValueError(
            f"no known metric among {sorted(simulated)}; expected some of {list(REAL_SLICE_RATES)}"
        )
    if missing:
        logger.info("Calibration: no simulated value for %s", missing)
    table = pd.DataFrame(
        {
            "metric": metrics,
            "simulated": [float(simulated[m]) for m in metrics],
            "real": [REAL_SLICE_RATES[m] for m in metrics],
        }
    )
    table["ratio"] = table["simulated"] / table["real"]
    table["within_factor"] = table["ratio"].between(1.0 / factor, factor)
    return table
