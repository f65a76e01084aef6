"""Kedro datasets of the labelcraft project."""

from labelcraft.datasets.kuairand_csv import KuaiRandCSVDataset
from labelcraft.datasets.labeler_artifact import LabelerDataset
from labelcraft.datasets.torch_states import TorchStatesDataset

__all__ = ["KuaiRandCSVDataset", "LabelerDataset", "TorchStatesDataset"]
