"""Kedro datasets of the labelcraft project."""

from labelcraft.datasets.kuairand_csv import KuaiRandCSVDataset
from labelcraft.datasets.labeler_artifact import LabelerDataset
from labelcraft.datasets.spark_kuairand_csv import SparkKuaiRandCSVDataset
from labelcraft.datasets.spark_parquet import SparkParquetDataset
from labelcraft.datasets.strict_json import StrictJSONDataset
from labelcraft.datasets.torch_states import TorchStatesDataset

__all__ = [
    "KuaiRandCSVDataset",
    "LabelerDataset",
    "SparkKuaiRandCSVDataset",
    "SparkParquetDataset",
    "StrictJSONDataset",
    "TorchStatesDataset",
]
