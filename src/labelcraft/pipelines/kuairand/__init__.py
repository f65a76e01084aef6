"""The kuairand data source, all stages."""

from labelcraft.pipelines.kuairand.pipeline import create_pipeline

__all__ = ["create_pipeline"]
