"""Built-in simulator: seeded KuaiRand-format logs with their ground truth (no Kedro imports)."""

from labelcraft.simulator.calibration import calibration_report
from labelcraft.simulator.config import REAL_SLICE_RATES, SimulationConfig
from labelcraft.simulator.generate import SimulatedData, simulate

__all__ = [
    "REAL_SLICE_RATES",
    "SimulatedData",
    "SimulationConfig",
    "calibration_report",
    "simulate",
]
