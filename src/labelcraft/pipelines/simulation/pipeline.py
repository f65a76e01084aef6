"""Simulation stage: only the ``simulated`` source has it."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.simulation.nodes import check_calibration, simulate_kuairand_logs
from labelcraft.sources import SIMULATED


def create_pipeline(**kwargs) -> Pipeline:
    """Seeded simulator -> KuaiRand-format raw files + ground truth; calibration check.

    The check reads the ingestion report, so it has its own namespace
    (``simulated.calibration``): a namespace must not be interrupted by another stage's nodes.
    """
    simulate = Pipeline(
        [
            Node(
                simulate_kuairand_logs,
                inputs="params:simulation",
                outputs=[
                    "raw_logs",
                    "raw_videos",
                    "raw_users",
                    "truth_interactions",
                    "truth_users",
                    "truth_videos",
                ],
                name="simulate_kuairand_logs",
            ),
        ]
    )
    calibrate = Pipeline(
        [
            Node(
                check_calibration,
                inputs=["ingestion_report", "params:calibration_factor"],
                outputs="calibration_report",
                name="check_calibration",
            ),
        ]
    )
    return per_source(simulate, [SIMULATED], stage="simulation") + per_source(
        calibrate, [SIMULATED], stage="simulation", part="calibration"
    )
