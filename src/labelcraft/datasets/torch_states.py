"""Kedro dataset of model weights: named state dicts saved with ``torch.save``.

Loads with ``weights_only=True``: only tensors and plain containers are read back, never code,
so a weights file from elsewhere cannot run anything (unlike a pickle of a model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError

States = dict[str, dict[str, torch.Tensor]]


class TorchStatesDataset(AbstractDataset[States, States]):
    """``{name: state_dict}`` (e.g. ``{"model": ..., "labeler": ...}``) in one ``.pt`` file.

    Args:
        filepath: the ``.pt`` file (parent folders are created on save).
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _load(self) -> States:
        try:
            states = torch.load(self._filepath, weights_only=True)
        except FileNotFoundError as error:
            raise DatasetError(f"{self._filepath}: no weights saved yet (run the cell's train "
                               "node)") from error
        if not isinstance(states, dict) or not all(isinstance(v, dict) for v in states.values()):
            raise DatasetError(f"{self._filepath}: expected {{name: state_dict}}, got "
                               f"{type(states).__name__}")
        return states

    def _save(self, data: States) -> None:
        if not isinstance(data, dict):
            raise DatasetError(f"{self._filepath}: can only save {{name: state_dict}}, got "
                               f"{type(data).__name__}")
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        torch.save({name: dict(state) for name, state in data.items()}, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
