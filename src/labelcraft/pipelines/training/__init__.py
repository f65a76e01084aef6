"""Training stage pipeline."""

from labelcraft.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
