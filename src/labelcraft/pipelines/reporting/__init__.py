"""Reporting stage pipeline."""

from labelcraft.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
