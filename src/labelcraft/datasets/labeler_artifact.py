"""Kedro dataset of a learned labeler: its weights and a JSON description in one ``.pt`` file.

Saved with ``torch.save`` as ``{"format", "description": <JSON text>, "state_dict": tensors}``;
loaded with ``weights_only=True``, so nothing in the file can run code, then checked: the format
tag, the description (the labeler's config: unknown keys refused; its feedback columns) and the
tensors (names and shapes must be those of that labeler). A tampered file is refused with the
reason. The data is `labelcraft.meta.Labeler.to_artifact`'s dict (``config``,
``feedback_columns``, ``state_dict``), as `Labeler.from_artifact` reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError

from labelcraft.meta.labeler import Labeler

FORMAT = "labelcraft.labeler/1"
Artifact = dict[str, Any]


class LabelerDataset(AbstractDataset[Artifact, Artifact]):
    """A labeler artifact as one safe ``.pt`` file (see module doc).

    Args:
        filepath: the ``.pt`` file (parent folders are created on save).
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _save(self, data: Artifact) -> None:
        description = json.dumps({"config": data["config"],
                                  "feedback_columns": list(data["feedback_columns"])},
                                 allow_nan=False)
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": FORMAT, "description": description,
                    "state_dict": dict(data["state_dict"])}, self._filepath)

    def _load(self) -> Artifact:
        try:
            raw = torch.load(self._filepath, weights_only=True)
        except FileNotFoundError as error:
            raise DatasetError(f"{self._filepath}: no labeler saved yet") from error
        except Exception as error:  # weights_only refuses anything that is not plain data
            raise DatasetError(f"{self._filepath}: refused, not a plain-data labeler file "
                               f"({type(error).__name__}: {str(error)[:200]})") from error
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise DatasetError(f"{self._filepath}: refused, format tag is not {FORMAT!r}")
        try:
            description = json.loads(raw["description"])
            artifact = {"config": description["config"],
                        "feedback_columns": description["feedback_columns"],
                        "state_dict": raw["state_dict"]}
            Labeler.from_artifact(artifact)  # config keys, columns, tensor names and shapes
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise DatasetError(f"{self._filepath}: refused, the description or weights do not "
                               f"describe a labeler ({type(error).__name__}: "
                               f"{str(error)[:300]})") from error
        return artifact

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
