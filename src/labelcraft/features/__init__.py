"""Features stage: chronological split, vocabularies, timelines, feedback, eval groups."""

from labelcraft.features.build import FeatureParams, FeatureSet, build_features

__all__ = ["FeatureParams", "FeatureSet", "build_features"]
