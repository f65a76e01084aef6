"""Label new logs with a registered labeler."""

from labelcraft.pipelines.label_logs.pipeline import create_pipeline

__all__ = ["create_pipeline"]
