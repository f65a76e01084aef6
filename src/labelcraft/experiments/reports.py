"""A cell's reports: per split, the seed summaries and per-seed metrics of one method; merged.

Scores travel between nodes as long tables (method, seed, group, row, score: one row per real
slot of the eval groups, in eval-groups order), which `scores_from_table` turns back into the
``[G, M]`` tensors the metrics read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from labelcraft.evaluation import evaluate_rankings, topk_metrics
from labelcraft.experiments.config import RANDOM, ReportConfig, is_labelcraft
from labelcraft.experiments.summary import summarise_seeds
from labelcraft.labels import MULTI_TASK_RULES, label_heads
from labelcraft.recommender import EvalSet

INTERVAL_NOTE = (
    "mean/weighted_mean: over seeds of the per-seed user means (*_std: sample std over seeds); "
    "ci_*: percentile bootstrap over users of each user's metric averaged over seeds"
)
REPORT_KEYS = ("split", "k", "level", "n_boot", "seeds", "n_users", "n_interactions")
"""Fields two reports must share to be merged."""


def method_kind(method: str) -> str:
    """Kind of a method: "rule", "multi_task", "labelcraft" or "floor" (the random scores)."""
    if method == RANDOM:
        return "floor"
    if is_labelcraft(method):
        return "labelcraft"
    return "multi_task" if method in MULTI_TASK_RULES else "rule"


def split_report(
    split: str,
    eval_set: EvalSet,
    method: str,
    scores: Sequence[torch.Tensor],
    best_epochs: Sequence[int],
    seeds: Sequence[int],
    k: int,
    config: ReportConfig,
    backbone: str = "",
    kind: str | None = None,
) -> dict[str, Any]:
    """Report of one split for one method: its seed summaries and per-seed reports.

    kind: the entry's kind (default `method_kind`; "multi_objective" for such a cell).

    scores: one `[G, M]` score tensor per seed (in ``seeds`` order). Layout: {split, k, level,
    n_boot, seeds, n_users, n_interactions, interval, methods: {method: {method, backbone, kind,
    heads, metrics: {metric: summary}, per_seed: [{seed, best_epoch, score_std, metrics}]}}}
    (backbone: the cell's, "" outside a grid); score_std is the
    std of the seed's scores over real slots (about 0 when the model collapsed to a constant and
    ties rank in slot order). Summary fields: see `labelcraft.experiments.summary`.
    """
    groups, outcomes = eval_set.groups, eval_set.outcomes
    weights = groups.mask.sum(dim=1).numpy()
    reports, per_user = [], []
    for seed_scores in scores:
        reports.append(evaluate_rankings(seed_scores, groups.mask, outcomes, k=k,
                                         n_boot=config.n_boot, seed=config.bootstrap_seed,
                                         level=config.level))
        per_user.append(topk_metrics(seed_scores, groups.mask, outcomes.watch_time, outcomes.ef,
                                     outcomes.duration_s, k=k))
    stacked = {name: np.stack([values[name].numpy() for values in per_user])
               for name in per_user[0]}
    kind = kind or method_kind(method)
    entry = {
        "method": method,
        "backbone": backbone,
        "kind": kind,
        "heads": list(label_heads(method)) if kind in ("rule", "multi_task") else [],
        "metrics": summarise_seeds(reports, stacked, weights, n_boot=config.n_boot,
                                   level=config.level, bootstrap_seed=config.bootstrap_seed),
        "per_seed": [
            {"seed": seed, "best_epoch": epoch, "score_std": float(seed_scores[groups.mask].std()),
             "metrics": report}
            for seed, epoch, seed_scores, report in zip(seeds, best_epochs, scores, reports,
                                                        strict=True)
        ],
    }
    return {
        "split": split, "k": k, "level": config.level, "n_boot": config.n_boot,
        "seeds": list(seeds), "n_users": len(eval_set), "n_interactions": int(weights.sum()),
        "interval": INTERVAL_NOTE, "methods": {method: entry},
    }


def merge_reports(reports: Sequence[Mapping[str, Any]],
                  names: Sequence[str] | None = None) -> dict[str, Any]:
    """One report with the methods of all ``reports`` in their order, the random floor last.

    names: the key of each report's (single) method in the merged report (default: its own);
    the grid passes "<backbone>/<method>" when it has several backbones. The reports must come
    from the same split, users, k, seeds and bootstrap settings, else a ValueError names the
    first field that differs; a name twice is an error too.
    """
    first = reports[0]
    for report in reports[1:]:
        for key in REPORT_KEYS:
            if report[key] != first[key]:
                raise ValueError(f"cannot merge reports with different {key!r}: "
                                 f"{first[key]!r} vs {report[key]!r}")
    methods: dict[str, Any] = {}
    for index, report in enumerate(reports):
        for method, entry in report["methods"].items():
            name = method if names is None else names[index]
            if name in methods:
                raise ValueError(f"method {name!r} appears in more than one report")
            methods[name] = entry
    floor = {name: entry for name, entry in methods.items() if entry["kind"] == "floor"}
    ordered = {name: entry for name, entry in methods.items() if name not in floor} | floor
    return {**first, "methods": ordered}


def long_scores(eval_set: EvalSet, method: str, scores: Sequence[torch.Tensor],
                seeds: Sequence[int]) -> pd.DataFrame:
    """(method, seed, group, row, score) of every real slot, in eval-groups order."""
    mask = eval_set.groups.mask
    group = torch.arange(len(mask)).unsqueeze(1).expand_as(mask)[mask].numpy().astype(np.int32)
    row = eval_set.groups.rows[mask].numpy()
    frames = [
        pd.DataFrame({"method": method, "seed": np.int64(seed), "group": group, "row": row,
                      "score": seed_scores[mask].numpy().astype(np.float32)})
        for seed, seed_scores in zip(seeds, scores, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def scores_from_table(table: pd.DataFrame, eval_set: EvalSet, seeds: Sequence[int],
                      column: str = "score") -> list[torch.Tensor]:
    """The ``[G, M]`` tensor of ``column`` for each seed of a per-slot table with ``seed`` and
    ``row`` columns (`long_scores`; a multi-objective cell's predictions), 0 on padding.

    A ValueError when a seed is missing or its rows are not the eval groups' real slots in
    order (the table comes from another split, feature build or a hand edit).
    """
    mask = eval_set.groups.mask
    expected = eval_set.groups.rows[mask].numpy()
    tensors = []
    for seed in seeds:
        part = table[table["seed"] == seed]
        if not np.array_equal(part["row"].to_numpy(), expected):
            raise ValueError(f"scores of seed {seed}: {len(part)} rows that are not the "
                             f"{len(expected)} real slots of the eval groups in order")
        scores = torch.zeros(mask.shape, dtype=torch.float32)
        scores[mask] = torch.tensor(part[column].to_numpy(np.float32))
        tensors.append(scores)
    return tensors
