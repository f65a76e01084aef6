"""`simulate(config)`: the whole generative model, from population to KuaiRand-format frames."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelcraft.kuairand.schema import LOG_COLUMNS
from labelcraft.simulator.catalog import user_features, video_features
from labelcraft.simulator.config import SimulationConfig
from labelcraft.simulator.feedback import respond
from labelcraft.simulator.policy import expose
from labelcraft.simulator.population import make_population
from labelcraft.simulator.timing import assign_times, local_date_hourmin

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedData:
    """KuaiRand-format files and the ground truth behind them.

    logs: the 19 LOG_COLUMNS (int64), sorted by (time_ms, user_id, video_id).
    videos / users: the 12 VIDEO_COLUMNS / 31 USER_COLUMNS of the KuaiRand feature files.
    truth_interactions: user_id, video_id, time_ms (unique key, row-aligned with logs),
      satisfaction, interest (user affinity for the video's tags), quality.
    truth_users: user_id, activity, top_tag, interest_0..interest_{T-1}.
    truth_videos: video_id, quality, main_tag.
    """

    logs: pd.DataFrame
    videos: pd.DataFrame
    users: pd.DataFrame
    truth_interactions: pd.DataFrame
    truth_users: pd.DataFrame
    truth_videos: pd.DataFrame
    config: SimulationConfig


def simulate(config: SimulationConfig) -> SimulatedData:
    """Simulate users, videos, a logging policy and the users' feedback; deterministic per seed."""
    started = time.perf_counter()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(5)]
    population_rng, policy_rng, feedback_rng, time_rng, catalog_rng = streams
    population = make_population(config, population_rng)
    exposures = expose(config, population, policy_rng)
    user, video = exposures.user, exposures.video
    if len(user) == 0:
        raise ValueError(
            "the simulation produced no log rows: raise n_users, n_days or rows_per_user_day"
        )
    feedback = respond(config, population, user, video, feedback_rng)
    time_ms = assign_times(config, exposures, feedback.play_time_ms, time_rng)
    date, hourmin = local_date_hourmin(time_ms)
    n = len(user)

    columns = {
        "user_id": user,
        "video_id": video,
        "date": date,
        "hourmin": hourmin,
        "time_ms": time_ms,
        "is_click": feedback.click,
        "is_like": feedback.like,
        "is_follow": feedback.follow,
        "is_comment": feedback.comment,
        "is_forward": feedback.forward,
        "is_hate": feedback.hate,
        "long_view": feedback.long_view,
        "play_time_ms": feedback.play_time_ms,
        "duration_ms": population.duration_ms[video],
        "profile_stay_time": feedback.profile_stay_ms,
        "comment_stay_time": feedback.comment_stay_ms,
        "is_profile_enter": feedback.profile_enter,
        "is_rand": np.zeros(n, dtype=np.int64),
        "tab": exposures.session_tab[exposures.session],
    }
    order = np.lexsort((video, user, time_ms))
    logs = pd.DataFrame(
        {name: np.asarray(columns[name])[order].astype(np.int64) for name in LOG_COLUMNS}
    )
    truth_interactions = pd.DataFrame(
        {
            "user_id": logs["user_id"],
            "video_id": logs["video_id"],
            "time_ms": logs["time_ms"],
            "satisfaction": feedback.satisfaction[order],
            "interest": feedback.interest[order],
            "quality": feedback.quality[order],
        }
    )
    interest = pd.DataFrame(
        population.interest, columns=[f"interest_{t}" for t in range(config.n_tags)]
    )
    truth_users = pd.concat(
        [
            pd.DataFrame(
                {
                    "user_id": np.arange(config.n_users, dtype=np.int64),
                    "activity": population.activity,
                    "top_tag": population.interest.argmax(axis=1).astype(np.int64),
                }
            ),
            interest,
        ],
        axis=1,
    )
    truth_videos = pd.DataFrame(
        {
            "video_id": np.arange(config.n_videos, dtype=np.int64),
            "quality": population.quality,
            "main_tag": population.video_tags[:, 0],
        }
    )
    data = SimulatedData(
        logs=logs,
        videos=video_features(config, population, catalog_rng),
        users=user_features(config, population, catalog_rng),
        truth_interactions=truth_interactions,
        truth_users=truth_users,
        truth_videos=truth_videos,
        config=config,
    )
    logger.info(
        "Simulated %d log rows (%d users, %d videos, %d days) in %.1f s",
        n,
        config.n_users,
        config.n_videos,
        config.n_days,
        time.perf_counter() - started,
    )
    return data
