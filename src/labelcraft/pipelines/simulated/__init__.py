"""The simulated data source, all stages."""

from labelcraft.pipelines.simulated.pipeline import create_pipeline

__all__ = ["create_pipeline"]
