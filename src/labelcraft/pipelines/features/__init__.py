"""Features stage pipeline."""

from labelcraft.pipelines.features.pipeline import create_pipeline

__all__ = ["create_pipeline"]
