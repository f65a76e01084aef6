"""Latent users (tag interests, activity) and videos (tags, duration, quality, popularity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelcraft.simulator.config import SimulationConfig

MAX_TAGS = 3


@dataclass(frozen=True)
class Population:
    """Latent state of the simulated world (U users, V videos, T tags)."""

    interest: np.ndarray  # [U, T] float64, each row sums to 1 (Dirichlet)
    activity: np.ndarray  # [U] float64, mean 1 (log-normal)
    video_tags: np.ndarray  # [V, 3] int64, column 0 the main tag, -1 = no tag
    tag_weights: np.ndarray  # [V, 3] float64, each row sums to 1 (0 on padding)
    duration_s: np.ndarray  # [V] float64, true duration in seconds (> 0)
    duration_ms: np.ndarray  # [V] int64, recorded duration (0 where unknown)
    quality: np.ndarray  # [V] float64
    log_popularity: np.ndarray  # [V] float64, the policy's prior popularity
    author: np.ndarray  # [V] int64, author index in [0, n_authors)

    def affinity(self, users: np.ndarray, videos: np.ndarray) -> np.ndarray:
        """User interest in each video's tags, weighted by tag weight: [N] in [0, 1]."""
        tags = self.video_tags[videos]  # [N, 3]
        values = self.interest[users[:, None], np.maximum(tags, 0)]  # [N, 3]
        return (values * self.tag_weights[videos]).sum(axis=1)


def _tag_share(config: SimulationConfig) -> np.ndarray:
    """Zipf share of each tag: [T], sums to 1."""
    share = np.arange(1, config.n_tags + 1, dtype=np.float64) ** -config.tag_zipf_exponent
    return share / share.sum()


def _video_tags(
    config: SimulationConfig, share: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """1-3 distinct tags per video drawn by tag share (main tag first) and their weights."""
    n_videos, n_tags = config.n_videos, config.n_tags
    probs = np.asarray(config.tag_count_probs, dtype=np.float64)
    counts = rng.choice(MAX_TAGS, size=n_videos, p=probs / probs.sum()) + 1  # [V]
    counts = np.minimum(counts, n_tags)
    # Weighted sampling without replacement: the smallest Exp(1) / share keys win, in order.
    keys = rng.exponential(size=(n_videos, n_tags)) / share  # [V, T]
    order = np.argsort(keys, axis=1)[:, :MAX_TAGS]
    tags = np.where(np.arange(MAX_TAGS) < counts[:, None], order, -1)
    rest = (1.0 - config.main_tag_weight) / np.maximum(counts - 1, 1)  # [V]
    weights = np.where(tags >= 0, rest[:, None], 0.0)
    weights[:, 0] = np.where(counts > 1, config.main_tag_weight, 1.0)
    return tags.astype(np.int64), weights


def make_population(config: SimulationConfig, rng: np.random.Generator) -> Population:
    """Draw users and videos from the config's distributions."""
    share = _tag_share(config)
    alpha = config.interest_concentration * config.n_tags * share
    interest = rng.dirichlet(alpha, size=config.n_users)
    sigma = config.activity_sigma
    activity = rng.lognormal(-0.5 * sigma**2, sigma, size=config.n_users)

    tags, weights = _video_tags(config, share, rng)
    duration_s = np.clip(
        rng.lognormal(config.duration_log_mean, config.duration_log_sigma, size=config.n_videos),
        1.0,
        config.duration_max_s,
    )
    recorded = rng.random(config.n_videos) >= config.duration_zero_prob
    duration_ms = np.where(recorded, np.round(duration_s * 1000.0), 0).astype(np.int64)

    author = rng.integers(0, config.n_authors, size=config.n_videos)
    shared = config.author_quality_share
    author_effect = rng.normal(size=config.n_authors)
    quality = config.quality_sigma * (
        np.sqrt(shared) * author_effect[author]
        + np.sqrt(1.0 - shared) * rng.normal(size=config.n_videos)
    )
    log_popularity = (
        config.popularity_quality_weight * quality
        + config.popularity_sigma * rng.normal(size=config.n_videos)
    )
    return Population(
        interest=interest,
        activity=activity,
        video_tags=tags,
        tag_weights=weights,
        duration_s=duration_s,
        duration_ms=duration_ms,
        quality=quality,
        log_popularity=log_popularity,
        author=author,
    )
