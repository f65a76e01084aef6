"""Simulation stage pipeline."""

from labelcraft.pipelines.simulation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
