"""How the learned labels relate to the rules' labels on the same train interactions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from labelcraft.labels import LABEL_RULES, fit_labels


def rule_label_correlations(labels: pd.DataFrame, feedback: pd.DataFrame,
                            train_rows: np.ndarray,
                            rule_params: Mapping[str, Mapping[str, Any]] | None = None,
                            ) -> pd.DataFrame:
    """Pearson and Spearman correlation of the learned label with each rule's label.

    labels: ``row`` (of the feedback table) and ``label`` for the train interactions (the
    ``labelcraft_labels`` dataset); feedback: the whole feedback table; train_rows ``[T]``: its
    train rows, on which every rule is fitted (as in the comparison). One row per single rule of
    ``LABEL_RULES``, in registry order: rule, pearson, spearman (NaN where a label is constant).
    """
    missing = sorted(set(labels["row"]) - set(train_rows.tolist()))
    if missing:
        raise ValueError(f"labelcraft_labels has {len(missing)} row(s) outside the train split, "
                         f"first {missing[:5]}")
    train = feedback.iloc[train_rows]
    rows = labels["row"].to_numpy()
    learned = pd.Series(labels["label"].to_numpy(np.float64))
    out = []
    for rule in LABEL_RULES:
        fitted = fit_labels(rule, train, {k: v for k, v in (rule_params or {}).items()
                                          if k == rule})
        rule_label = pd.Series(fitted(feedback.iloc[rows])[:, 0].astype(np.float64))
        out.append({"rule": rule, "pearson": learned.corr(rule_label),
                    "spearman": learned.corr(rule_label, method="spearman")})
    return pd.DataFrame(out)
