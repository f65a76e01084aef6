"""Per-user evaluation groups of one split (users with more than `min_items` interactions)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def build_eval_groups(
    user_id: np.ndarray,
    user_idx: np.ndarray,
    split: np.ndarray,
    which: int,
    min_items: int = 10,
) -> pd.DataFrame:
    """Long table (group int32, user_idx int32, user_id int64, row int64) of split `which`.

    Inputs `[N]` are in timeline order (sorted by user_id). Users are grouped by raw user_id, so
    users unseen in train (user_idx 0) stay distinct. Groups are numbered 0..G-1 by user_id; rows
    within a group are in timeline order. Only users with more than `min_items` rows are kept.
    """
    rows = np.flatnonzero(np.asarray(split) == which)
    users = np.asarray(user_id, dtype=np.int64)[rows]
    if len(rows) and (users[1:] < users[:-1]).any():
        raise ValueError("eval groups need rows in timeline order (sorted by user_id)")
    new_user = np.ones(len(rows), dtype=bool)
    new_user[1:] = users[1:] != users[:-1]
    starts = np.flatnonzero(new_user)
    counts = np.diff(np.append(starts, len(rows)))
    keep = np.repeat(counts > min_items, counts)
    kept_rows = rows[keep]
    group = np.cumsum(new_user[keep]) - 1
    return pd.DataFrame(
        {
            "group": group.astype(np.int32),
            "user_idx": np.asarray(user_idx)[kept_rows].astype(np.int32),
            "user_id": users[keep],
            "row": kept_rows.astype(np.int64),
        }
    )
