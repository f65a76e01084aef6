"""Logging policy: which videos each user is shown each day, grouped into sessions.

Each exposure is, with probability ``explore_rate``, a uniformly random video; otherwise the
policy draws a tag from its (noisy, tempered) estimate of the user's interests, then a video whose
main tag it is, in proportion to the video's popularity of the day (a daily random walk around
its quality-driven prior). A video the user was already shown (earlier that day or before) is
redrawn, up to ``repeat_redraws`` times, so repeats stay rare. Users have
Poisson(rows_per_user_day * activity) exposures a day, split at random into
1 + Poisson(session_extra_mean) sessions, each with its own start hour and tab.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np
from tqdm.auto import tqdm

from labelcraft.simulator.config import SimulationConfig
from labelcraft.simulator.population import Population

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exposures:
    """N exposures in S sessions; rows of a session are contiguous, sessions in day order."""

    user: np.ndarray  # [N] int64
    video: np.ndarray  # [N] int64
    session: np.ndarray  # [N] int64, index into the session arrays
    session_day: np.ndarray  # [S] int64, day index in [0, n_days)
    session_hour: np.ndarray  # [S] int64, start hour 0..23 (UTC+8)
    session_tab: np.ndarray  # [S] int64


def _categorical(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Row-wise inverse-CDF draw: cdf [N, K] (last column ~1), uniform [N] -> [N] in [0, K)."""
    return np.minimum((uniform[:, None] >= cdf).sum(axis=1), cdf.shape[1] - 1)


def _policy_tag_cdf(
    config: SimulationConfig,
    population: Population,
    has_video: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """CDF of the policy's tag choice per user: [U, T], zero mass on tags without videos."""
    noisy = np.log(population.interest + 1e-12) + config.policy_noise_sigma * rng.normal(
        size=population.interest.shape
    )
    logits = np.where(has_video, noisy / config.policy_temperature, -np.inf)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs, axis=1)
    return cdf / cdf[:, -1:]


@dataclass(frozen=True)
class _Recommender:
    """The policy's static parts: per-user tag CDF and the catalogue grouped by main tag."""

    tag_cdf: np.ndarray  # [U, T]
    by_tag: np.ndarray  # [V] video ids sorted by main tag
    bounds: np.ndarray  # [T + 1] start of each tag's segment in by_tag
    explore_rate: float

    @classmethod
    def build(
        cls, config: SimulationConfig, population: Population, rng: np.random.Generator
    ) -> _Recommender:
        main_tag = population.video_tags[:, 0]
        by_tag = np.argsort(main_tag, kind="stable")
        bounds = np.searchsorted(main_tag[by_tag], np.arange(config.n_tags + 1))
        tag_cdf = _policy_tag_cdf(config, population, np.diff(bounds) > 0, rng)
        return cls(tag_cdf, by_tag, bounds, config.explore_rate)

    def draw(
        self, users: np.ndarray, log_popularity: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """One video per exposure of `users` [M]: random, or a tag then a video by popularity."""
        tags = _categorical(self.tag_cdf[users], rng.random(len(users)))
        weights = np.exp(log_popularity[self.by_tag] - log_popularity.max())
        cumulative = np.concatenate([[0.0], np.cumsum(weights)])  # [V + 1]
        low, high = self.bounds[tags], self.bounds[tags + 1]
        target = cumulative[low] + rng.random(len(tags)) * (cumulative[high] - cumulative[low])
        position = np.clip(np.searchsorted(cumulative, target, side="right") - 1, low, high - 1)
        video = self.by_tag[position]
        explore = rng.random(len(users)) < self.explore_rate
        video[explore] = rng.integers(0, len(self.by_tag), size=int(explore.sum()))
        return video


def _repeated(keys: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """True where keys [N] is in `seen` (sorted) or equals an earlier key of keys: [N] bool.

    Sort-based on purpose: np.unique / np.isin take a slow hash path on large int64 arrays.
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeated = np.empty(len(keys), dtype=bool)
    repeated[order] = np.r_[False, ordered[1:] == ordered[:-1]]
    position = np.minimum(np.searchsorted(seen, keys), max(len(seen) - 1, 0))
    return repeated | (seen[position] == keys if len(seen) else False)


def _day_sessions(
    config: SimulationConfig, activity: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exposures of one day: user [N], session [N] (sorted, 0-based) and session user [S]."""
    users_all = np.arange(config.n_users)
    counts = rng.poisson(config.rows_per_user_day * activity)  # [U]
    active = counts > 0
    sessions = np.zeros(config.n_users, dtype=np.int64)  # [U]
    sessions[active] = np.minimum(
        1 + rng.poisson(config.session_extra_mean, size=int(active.sum())), counts[active]
    )
    first_session = np.cumsum(sessions) - sessions  # [U]
    user = np.repeat(users_all, counts)  # [N]
    session = first_session[user] + np.floor(rng.random(len(user)) * sessions[user]).astype(
        np.int64
    )
    order = np.argsort(session, kind="stable")
    return user[order], session[order], np.repeat(users_all, sessions)


def expose(config: SimulationConfig, population: Population, rng: np.random.Generator) -> Exposures:
    """Run the logging policy over all days (one vectorised step per day)."""
    recommender = _Recommender.build(config, population, rng)
    hour_p = np.asarray(config.hour_weights, dtype=np.float64) / sum(config.hour_weights)
    tab_p = np.asarray(config.tab_weights, dtype=np.float64) / sum(config.tab_weights)
    log_popularity = population.log_popularity.copy()
    seen = np.empty(0, dtype=np.int64)  # sorted keys user * n_videos + video already shown
    parts: dict[str, list[np.ndarray]] = {f.name: [] for f in fields(Exposures)}
    n_sessions = 0
    for day in tqdm(range(config.n_days), desc="simulate days", leave=False):
        if day > 0:
            log_popularity += config.popularity_drift_sigma * rng.normal(size=config.n_videos)
        user, session, session_user = _day_sessions(config, population.activity, rng)
        video = recommender.draw(user, log_popularity, rng)
        for _ in range(config.repeat_redraws):
            repeat = _repeated(user * config.n_videos + video, seen)
            if not repeat.any():
                break
            video[repeat] = recommender.draw(user[repeat], log_popularity, rng)
        seen = np.sort(np.concatenate([seen, user * config.n_videos + video]))

        parts["user"].append(user)
        parts["video"].append(video)
        parts["session"].append(session + n_sessions)
        parts["session_day"].append(np.full(len(session_user), day, dtype=np.int64))
        parts["session_hour"].append(rng.choice(24, size=len(session_user), p=hour_p))
        parts["session_tab"].append(rng.choice(len(tab_p), size=len(session_user), p=tab_p))
        n_sessions += len(session_user)
    n_rows = sum(map(len, parts["user"]))
    logger.info("Logging policy: %d exposures in %d sessions", n_rows, n_sessions)
    return Exposures(**{k: np.concatenate(v).astype(np.int64) for k, v in parts.items()})
