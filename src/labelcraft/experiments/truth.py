"""Agreement of each method's test ranking with the simulator's latent satisfaction.

Only a simulated source has a ground truth. Per test evaluation user, the model's ranking is
scored by NDCG@k with the user's latent satisfaction as the gain, `SAT_NDCG@k`:
DCG@k / IDCG@k with gain / log2(rank + 1) (the same code path as NWTG@k). Satisfaction is a
real number (it may be negative), so each user's gains are shifted by the user's minimum:
gain = satisfaction - min over the user's test items (the least satisfying item has gain 0; a
user whose items are all equally satisfying scores 1). Random scores give the floor.

Join: an evaluation row gets the satisfaction of the truth row with the same
(user_id, video_id, time_ms). Truth keys that repeat (the simulator writes unique keys, so this
is a safeguard) are averaged, with a logged warning; log rows that repeat a key all get that
key's satisfaction. An evaluation row without a truth row is an error naming the first ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from labelcraft.evaluation import normalised_gain_at_k, rank_order, summarise_users
from labelcraft.experiments.summary import summarise_seeds
from labelcraft.features.tensors import EvalGroups

logger = logging.getLogger(__name__)

KEY = ("user_id", "video_id", "time_ms")
GAIN_NOTE = (
    "NDCG@k of the test ranking with gain = latent satisfaction minus the user's minimum "
    "over the user's test items; truth joined on (user_id, video_id, time_ms), repeated truth "
    "keys averaged"
)


def satisfaction_of_rows(
    rows: np.ndarray, model_inputs: pd.DataFrame, truth: pd.DataFrame
) -> tuple[np.ndarray, int]:
    """Satisfaction `[R]` float64 of the `model_inputs` rows `[R]`, and the repeated truth keys."""
    missing = [c for c in (*KEY, "satisfaction") if c not in truth.columns]
    if missing:
        raise KeyError(f"truth_interactions lacks column(s) {missing}; has {list(truth.columns)}")
    key = list(KEY)
    per_key = truth.groupby(key, sort=False, as_index=False)["satisfaction"].mean()
    repeated = len(truth) - len(per_key)
    if repeated:
        logger.warning("truth_interactions: %d rows repeat a key %s; averaged", repeated, KEY)
    wanted = model_inputs[key].iloc[rows].reset_index(drop=True)
    joined = wanted.merge(per_key, how="left", on=key, validate="many_to_one")
    satisfaction = joined["satisfaction"].to_numpy(dtype=np.float64, na_value=np.nan)
    absent = np.flatnonzero(np.isnan(satisfaction))
    if absent.size:
        raise ValueError(
            f"{absent.size} evaluation row(s) have no truth_interactions row with the same "
            f"{KEY}; first model_inputs rows {rows[absent[:5]].tolist()}: "
            f"{wanted.iloc[absent[:5]].to_dict(orient='records')}"
        )
    return satisfaction, repeated


def satisfaction_gains(
    groups: EvalGroups, model_inputs: pd.DataFrame, truth: pd.DataFrame
) -> tuple[torch.Tensor, int]:
    """Per-user shifted satisfaction gains `[G, M]` float64 (0 on padding), repeated keys."""
    mask = groups.mask
    satisfaction, repeated = satisfaction_of_rows(groups.rows[mask].numpy(), model_inputs, truth)
    values = torch.zeros(mask.shape, dtype=torch.float64)
    values[mask] = torch.tensor(satisfaction)
    low = torch.where(mask, values, torch.inf).min(dim=1, keepdim=True).values
    return torch.where(mask, values - low, 0.0), repeated


def truth_agreement(
    test_scores: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    model_inputs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int = 10,
    n_boot: int = 1000,
    level: float = 0.95,
    bootstrap_seed: int = 0,
) -> dict[str, Any]:
    """SAT_NDCG@k per method, summarised over seeds like the other metrics (see module doc).

    test_scores: long (method, seed, group, row, score) over the real test slots in eval-groups
    order, as written by the rule experiment. Returns {k, metric, gain, n_users,
    repeated_truth_keys, methods: {method: {metrics: {metric: summary}, per_seed: [...]}}}.
    """
    groups = EvalGroups.from_frame(eval_groups_test)
    mask = groups.mask
    gains, repeated = satisfaction_gains(groups, model_inputs, truth)
    expected_rows = groups.rows[mask].numpy()
    weights = mask.sum(dim=1).numpy()
    name = f"SAT_NDCG@{k}"
    methods: dict[str, Any] = {}
    for method, frame in test_scores.groupby("method", sort=False):
        reports: list[Mapping[str, Mapping[str, float | int]]] = []
        per_user, seeds = [], []
        for seed, seed_frame in frame.groupby("seed", sort=False):
            if not np.array_equal(seed_frame["row"].to_numpy(), expected_rows):
                raise ValueError(
                    f"test_scores of {method!r} seed {seed} do not follow the eval groups' rows"
                )
            scores = torch.zeros(mask.shape, dtype=torch.float64)
            scores[mask] = torch.tensor(seed_frame["score"].to_numpy(dtype=np.float64))
            ndcg = normalised_gain_at_k(rank_order(scores, mask), mask, gains, k)
            per_user.append(ndcg.numpy())
            seeds.append(int(seed))
            reports.append(
                {
                    name: summarise_users(
                        ndcg, weights, n_boot=n_boot, seed=bootstrap_seed, level=level
                    )
                }
            )
        methods[str(method)] = {
            "metrics": summarise_seeds(
                reports,
                {name: np.stack(per_user)},
                weights,
                n_boot=n_boot,
                level=level,
                bootstrap_seed=bootstrap_seed,
            ),
            "per_seed": [
                {"seed": seed, "metrics": report}
                for seed, report in zip(seeds, reports, strict=True)
            ],
        }
    return {
        "k": k,
        "metric": name,
        "gain": GAIN_NOTE,
        "n_users": len(weights),
        "repeated_truth_keys": repeated,
        "methods": methods,
    }
