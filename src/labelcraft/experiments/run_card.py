"""A cell's reproducibility card (BARS's set): resolved configuration, package versions, seeds,
metrics and the training log, in one JSON document."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
import platform
from collections.abc import Mapping
from typing import Any

import pandas as pd

from labelcraft.config import from_params
from labelcraft.models import MODEL_REGISTRY

PACKAGES = ("torch", "numpy", "pandas", "pyarrow", "kedro", "kedro-datasets", "mlflow",
            "kedro-mlflow", "labelcraft")


def package_versions() -> dict[str, str]:
    """Python and the versions of `PACKAGES` installed ("absent" when one is not)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def resolved_backbone(backbone: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The backbone's hyper-parameters with its defaults filled in (unknown keys raise)."""
    config_class = MODEL_REGISTRY[backbone].config_class  # type: ignore[attr-defined]
    return dataclasses.asdict(from_params(config_class, params, f"parameter of {backbone!r}"))


def _plain(value: Any) -> Any:
    """JSON-able: NaN -> None, numpy scalars -> Python numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def run_card(
    method: str,
    backbone: str,
    configuration: Mapping[str, Any],
    valid_report: Mapping[str, Any],
    test_report: Mapping[str, Any],
    history: pd.DataFrame | None,
) -> dict[str, Any]:
    """The card of one cell.

    configuration: what trained it, resolved (backbone hyper-parameters, trainer, LabelCraft's
    configuration or the rules' fit parameters). metrics: split -> the per-seed reports. log:
    the per-epoch history rows (empty for the random floor).
    """
    rows = [] if history is None else [
        {key: _plain(value) for key, value in row.items()} for row in history.to_dict("records")]
    return {
        "backbone": backbone,
        "method": method,
        "seeds": list(test_report["seeds"]),
        "configuration": dict(configuration),
        "packages": package_versions(),
        "metrics": {report["split"]: report["methods"][method]["per_seed"]
                    for report in (valid_report, test_report)},
        "log": rows,
    }
