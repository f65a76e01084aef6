"""User responses to exposures: latent satisfaction, watch time and the event flags.

satisfaction = w_i * log(n_tags * interest + 0.1) + w_q * quality + sigma * noise, where interest is
the user's affinity for the video's tags (uniform interest gives log(1.1) ~ 0.1).

Watch time: a play is a skip (shorter than ``skip_seconds``, a share of them 0 ms) with probability
sigmoid(a - skip_slope * s). Otherwise the user completes the video with a probability rising with
satisfaction and falling with duration (then often loops: play = duration * (1 + log-normal extra)),
or stops part-way at a share of the video that rises with satisfaction and quality (logit-normal).
long_view = play >= min(duration, long_view_seconds) (long_view_seconds when the duration is 0).

Each event is Bernoulli with logit a + slope * satisfaction (+ a bonus on long views for like,
follow, comment, forward, profile enter and comment view; + a bonus on non-skips for click;
hate: a - slope * satisfaction). The intercepts ``a`` are solved on a sample of rows so each
marginal rate equals its ``target_*`` rate. A comment implies the comment section was viewed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelcraft.simulator.config import SimulationConfig
from labelcraft.simulator.population import Population

_INTEREST_FLOOR = 0.1
_MAX_REPLAY_EXTRA = 9.0  # at most ten loops of a video


@dataclass(frozen=True)
class Feedback:
    """Per-exposure latent variables and logged responses, all [N]."""

    satisfaction: np.ndarray  # float64
    interest: np.ndarray  # float64, user affinity for the video's tags, in [0, 1]
    quality: np.ndarray  # float64
    play_time_ms: np.ndarray  # int64 >= 0
    long_view: np.ndarray  # bool
    click: np.ndarray  # bool
    like: np.ndarray  # bool
    follow: np.ndarray  # bool
    comment: np.ndarray  # bool
    forward: np.ndarray  # bool
    hate: np.ndarray  # bool
    profile_enter: np.ndarray  # bool
    comment_stay_ms: np.ndarray  # int64, 0 unless the comment section was viewed
    profile_stay_ms: np.ndarray  # int64, 0 unless the profile was entered


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Numerically stable logistic function, elementwise."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def solve_intercept(offset: np.ndarray, target: float, iterations: int = 60) -> float:
    """Intercept a with mean(sigmoid(a + offset)) == target, by bisection; offset [M]."""
    low, high = -50.0, 50.0
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        if sigmoid(middle + offset).mean() < target:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


class _EventSampler:
    """Draws Bernoulli events whose intercept is solved on a fixed sample of rows."""

    def __init__(self, sample: np.ndarray, rng: np.random.Generator) -> None:
        self.sample = sample  # [M] row indices used to solve intercepts
        self.rng = rng

    def draw(
        self, offset: np.ndarray, target: float, among: np.ndarray | None = None
    ) -> np.ndarray:
        """Bernoulli(sigmoid(a + offset)) [N] with mean `target` (over rows `among` [N] bool)."""
        rows = self.sample if among is None else self.sample[among[self.sample]]
        intercept = solve_intercept(offset[rows], target)
        return self.rng.random(len(offset)) < sigmoid(intercept + offset)


def _watch_seconds(
    config: SimulationConfig,
    satisfaction: np.ndarray,
    quality: np.ndarray,
    duration_s: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Play time in seconds of a play that is not a skip: [N], >= skip_seconds."""
    n = len(satisfaction)
    log_duration = np.log(duration_s / 60.0)
    complete = rng.random(n) < sigmoid(
        config.complete_intercept
        + config.complete_slope * satisfaction
        - config.complete_duration_slope * log_duration
    )
    replays = rng.random(n) < config.replay_prob
    extra = np.where(
        replays,
        np.minimum(
            rng.lognormal(config.replay_log_mean, config.replay_log_sigma, n), _MAX_REPLAY_EXTRA
        ),
        0.0,
    )
    share = sigmoid(
        config.partial_mean
        + config.partial_slope * satisfaction
        + config.partial_quality_slope * quality
        - config.partial_duration_slope * log_duration
        + config.partial_sigma * rng.normal(size=n)
    )
    partial = config.skip_seconds + share * np.maximum(duration_s - config.skip_seconds, 0.0)
    return np.maximum(np.where(complete, duration_s * (1.0 + extra), partial), config.skip_seconds)


def _stay_ms(
    mask: np.ndarray, log_mean: float, log_sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Log-normal stay time in ms (>= 1) where mask [N] is true, else 0: [N] int64."""
    stay = np.maximum(np.round(rng.lognormal(log_mean, log_sigma, len(mask))), 1.0)
    return np.where(mask, stay, 0.0).astype(np.int64)


def respond(
    config: SimulationConfig,
    population: Population,
    user: np.ndarray,
    video: np.ndarray,
    rng: np.random.Generator,
) -> Feedback:
    """Simulate every response to the exposures (user [N], video [N])."""
    n = len(user)
    interest = population.affinity(user, video)
    quality = population.quality[video]
    satisfaction = (
        config.satisfaction_interest_weight * np.log(config.n_tags * interest + _INTEREST_FLOOR)
        + config.satisfaction_quality_weight * quality
        + config.satisfaction_noise_sigma * rng.normal(size=n)
    )
    sample = np.arange(n)
    if n > config.calibration_sample:
        sample = np.sort(rng.choice(n, size=config.calibration_sample, replace=False))
    events = _EventSampler(sample, rng)

    skip = events.draw(-config.skip_slope * satisfaction, config.target_skip)
    skip_ms = np.where(
        rng.random(n) < config.skip_zero_fraction,
        0.0,
        np.floor(rng.random(n) * config.skip_seconds * 1000.0),
    )
    watch_s = _watch_seconds(config, satisfaction, quality, population.duration_s[video], rng)
    play_ms = np.where(skip, skip_ms, np.ceil(watch_s * 1000.0)).astype(np.int64)

    duration_ms = population.duration_ms[video]
    threshold = np.minimum(
        np.where(duration_ms > 0, duration_ms, np.inf), config.long_view_seconds * 1000.0
    )
    long_view = play_ms >= threshold

    click = events.draw(
        config.click_slope * satisfaction + config.click_watch_logit * ~skip, config.target_click
    )
    bonus = config.engagement_long_view_logit * long_view

    def engaged(slope: float, target: float) -> np.ndarray:
        return events.draw(slope * satisfaction + bonus, target)

    like = engaged(config.like_slope, config.target_like)
    follow = engaged(config.follow_slope, config.target_follow)
    comment = engaged(config.comment_slope, config.target_comment)
    forward = engaged(config.forward_slope, config.target_forward)
    profile_enter = engaged(config.profile_enter_slope, config.target_profile_enter)
    hate = events.draw(-config.hate_slope * satisfaction, config.target_hate)
    comment_rate = comment[sample].mean()
    view_target = (config.target_comment_view - comment_rate) / (1.0 - comment_rate)
    comment_view = comment | events.draw(
        config.comment_view_slope * satisfaction + bonus, max(view_target, 1e-9), among=~comment
    )
    return Feedback(
        satisfaction=satisfaction,
        interest=interest,
        quality=quality,
        play_time_ms=play_ms,
        long_view=long_view,
        click=click,
        like=like,
        follow=follow,
        comment=comment,
        forward=forward,
        hate=hate,
        profile_enter=profile_enter,
        comment_stay_ms=_stay_ms(
            comment_view, config.comment_stay_log_mean, config.comment_stay_log_sigma, rng
        ),
        profile_stay_ms=_stay_ms(
            profile_enter, config.profile_stay_log_mean, config.profile_stay_log_sigma, rng
        ),
    )
