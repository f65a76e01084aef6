"""Comparison stage pipeline."""

from labelcraft.pipelines.comparison.pipeline import create_pipeline

__all__ = ["create_pipeline"]
