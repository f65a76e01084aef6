"""Simulation stage: only the ``simulated`` source has it."""

from kedro.pipeline import Node, Pipeline

from labelcraft.pipelines.namespacing import per_source
from labelcraft.pipelines.simulation.nodes import check_calibration, simulate_kuairand_logs
from labelcraft.sources import SIMULATED


def create_pipeline(**kwargs) -> Pipeline:
    """Seeded simulator -> KuaiRand-format raw files + ground truth; calibration check."""
    template = Pipeline(
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
            Node(
                check_calibration,
                inputs=["ingestion_report", "params:calibration_factor"],
                outputs="calibration_report",
                name="check_calibration",
            ),
        ]
    )
    return per_source(template, [SIMULATED], stage="simulation")
