"""Kedro datasets of the labelcraft project."""

from labelcraft.datasets.kuairand_csv import KuaiRandCSVDataset

__all__ = ["KuaiRandCSVDataset"]
