"""LabelCraft stage pipeline."""

from labelcraft.pipelines.labelcraft.pipeline import create_pipeline

__all__ = ["create_pipeline"]
