"""LabelCraft meta-training loop on tiny synthetic features: config, determinism, early stopping."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.evaluation import EvalOutcomes
from labelcraft.features.split import TRAIN
from labelcraft.features.tensors import EvalGroups, InteractionTensors
from labelcraft.labels import fit_labels
from labelcraft.labels.scaling import PiecewiseScale
from labelcraft.meta import LABEL_CORRELATES, OBJECTIVES, Labeler, MetaConfig, OutcomeScales
from labelcraft.meta.meta_training import (
    LabelCraftConfig,
    LabelCraftResult,
    train_labelcraft,
    validation_objective,
)
from labelcraft.models import ModelSpec
from labelcraft.recommender import EvalSet, epoch_metrics, score_groups
from tests.synthetic_features import tiny_features

MODEL_PARAMS = {"embedding_dim": 4, "attention_hidden": [6], "mlp_hidden": [8]}
BASE = {
    "labeler": {"hidden": [8]},
    "meta": {"lr_label": 1.0},
    "trainer": {"batch_size": 32, "max_epochs": 8, "patience": 8, "lr": 0.01,
                "history_length": 8},
}
VALID_KEYS = {f"valid_{name}" for name in ("NWTG@10", "NEG@10", "DS@10", "objective",
                                           *OBJECTIVES)}
LABEL_KEYS = {"label_mean", "label_std", *(f"label_corr_{name}" for name in LABEL_CORRELATES)}


def config(**overrides: object) -> LabelCraftConfig:
    """`BASE` with top-level keys and `trainer` entries (prefixed `trainer_`) overridden."""
    params = {key: dict(value) for key, value in BASE.items()}
    for key, value in overrides.items():
        if key.startswith("trainer_"):
            params["trainer"][key.removeprefix("trainer_")] = value
        else:
            params[key] = value
    return LabelCraftConfig.from_dict(params)


@pytest.fixture(scope="module")
def data() -> tuple[InteractionTensors, torch.Tensor, EvalSet, object]:
    """Tiny features with 24 validation items per user (more than k = 10, so top-k matters)."""
    features = tiny_features(seed=1, per_day=12, n_users=16)
    tensors = InteractionTensors.from_frames(features.model_inputs, features.feedback)
    train_rows = torch.nonzero(tensors.split == TRAIN).flatten()
    valid = EvalSet.from_frames(features.eval_groups_valid, features.feedback)
    assert int(valid.groups.mask.sum(dim=1).min()) > 10
    return tensors, train_rows, valid, ModelSpec.from_feature_spec(features.feature_spec)


def run(data, cfg: LabelCraftConfig, seed: int = 0) -> LabelCraftResult:
    tensors, train_rows, valid, spec = data
    return train_labelcraft(tensors, train_rows, valid, model_name="din",
                            model_params=MODEL_PARAMS, spec=spec, config=cfg, seed=seed)


@pytest.fixture(scope="module")
def long_run(data) -> LabelCraftResult:
    """8 epochs, no early stop."""
    return run(data, config())


def numbers(history: list[dict[str, float | int]]) -> list[dict[str, float | int]]:
    """History without the wall-clock entries, NaN (a correlation of constant labels) as "nan"."""
    return [{k: "nan" if math.isnan(v) else v for k, v in entry.items()
             if not k.endswith("seconds")}
            for entry in history]


# ---------------------------------------------------------------- config


def test_config_defaults_nested_and_rejections() -> None:
    default = LabelCraftConfig.from_dict(None)
    assert (default.valid_sample_ratio, default.meta_every, default.label_optimizer) == (
        0.5, 1, "sgd")
    assert default.meta == MetaConfig() and default.trainer.eval_metric == "NWTG@10"
    cfg = LabelCraftConfig.from_dict({"meta": {"tau": 0.0}, "labeler": {"inputs": ["skip"]},
                                      "trainer": {"batch_size": 7}, "meta_every": 4})
    assert (cfg.meta.tau, cfg.labeler.inputs, cfg.trainer.batch_size, cfg.meta_every) == (
        0.0, ("skip",), 7, 4)
    with pytest.raises(ValueError, match="unknown labelcraft parameter.*'meta_evry'.*meta_every"):
        LabelCraftConfig.from_dict({"meta_evry": 2})
    with pytest.raises(ValueError, match="unknown meta parameter"):
        LabelCraftConfig.from_dict({"meta": {"lr": 1.0}})
    with pytest.raises(ValueError, match="unknown trainer parameter"):
        LabelCraftConfig.from_dict({"trainer": {"epochs": 1}})
    for bad in ({"valid_sample_ratio": 0.0}, {"valid_sample_ratio": 1.5}, {"meta_every": 0},
                {"meta_every": 1.5}, {"upper_every": 0}, {"upper_every": 2.5},
                {"label_optimizer": "rmsprop"},
                {"meta": {"loss": "bce"}}):
        with pytest.raises(ValueError, match="LabelCraftConfig|must agree|must be an integer"):
            LabelCraftConfig.from_dict(bad)


def test_bad_inputs(data) -> None:
    tensors, train_rows, valid, spec = data
    kwargs = {"model_name": "din", "model_params": MODEL_PARAMS, "spec": spec, "seed": 0}
    with pytest.raises(ValueError, match="history_length is None"):
        train_labelcraft(tensors, train_rows, valid, config=config(trainer_history_length=None),
                         **kwargs)
    with pytest.raises(ValueError, match="no train rows"):
        train_labelcraft(tensors, train_rows[:0], valid, config=config(), **kwargs)


# ---------------------------------------------------------------- the loop


def test_history_keys_length_and_labels(long_run: LabelCraftResult, data) -> None:
    _, train_rows, _, _ = data
    history = long_run.history
    assert [entry["epoch"] for entry in history] == list(range(1, 9))
    expected = {"epoch", "train_loss", "meta_steps", "upper_refreshes", "virtual_loss",
                "meta_grad_norm", "objective", *OBJECTIVES,
                *(f"weight_{name}" for name in OBJECTIVES), *VALID_KEYS, *LABEL_KEYS,
                "train_seconds", "seconds"}
    for entry in history:
        assert set(entry) == expected
        assert all(math.isfinite(value) for value in entry.values())
        assert entry["meta_steps"] == math.ceil(len(train_rows) / 32)  # meta_every = 1
        assert entry["upper_refreshes"] == entry["meta_steps"]  # upper_every = 1
        weights = [entry[f"weight_{name}"] for name in OBJECTIVES]
        assert sum(weights) == pytest.approx(1.0) and min(weights) > 0
    assert set(long_run.start) == VALID_KEYS | LABEL_KEYS
    labels = long_run.labels
    assert labels.shape == (len(train_rows),) and labels.dtype == torch.float32
    assert bool(((labels >= 0) & (labels <= 1)).all()) and float(labels.std()) > 0
    assert torch.equal(long_run.train_rows, train_rows)


def test_deterministic_per_seed(long_run: LabelCraftResult, data) -> None:
    again = run(data, config())
    assert numbers(again.history) == numbers(long_run.history)
    assert torch.equal(again.labels, long_run.labels)
    assert torch.equal(again.best_scores, long_run.best_scores)
    other = run(data, config(), seed=1)
    assert not torch.equal(other.labels, long_run.labels)


def test_early_stopping_keeps_best_states(long_run: LabelCraftResult, data) -> None:
    tensors, _, valid, _ = data
    metric = [entry["valid_NWTG@10"] for entry in long_run.history]
    best = long_run.best_epoch
    assert long_run.best_metric == max(metric) and metric[best - 1] == max(metric)
    assert best < len(metric) - 1, "this seed must peak before the last epochs for the test"
    # patience 1 stops right after the first non-improving epoch ...
    stopped = run(data, config(trainer_patience=1))
    first_drop = next(i for i in range(1, len(metric)) if metric[i] <= max(metric[:i]))
    assert len(stopped.history) == first_drop + 1
    assert numbers(stopped.history) == numbers(long_run.history)[: first_drop + 1]
    # ... and the states returned are those of the best epoch, not the last one: a run cut at
    # the best epoch ends in exactly the same recommender and labeler
    cut = run(data, config(trainer_max_epochs=best))
    assert torch.equal(cut.labels, long_run.labels)
    for name, value in cut.model.state_dict().items():
        assert torch.equal(value, long_run.model.state_dict()[name]), name
    scores = score_groups(long_run.model, tensors, valid.groups, 8)
    assert torch.equal(scores, long_run.best_scores)
    final = epoch_metrics(scores, valid, 10)["NWTG@10"]
    assert final == pytest.approx(long_run.best_metric, abs=1e-12)
    assert final != pytest.approx(metric[-1], abs=1e-6)  # not the last epoch's state


def test_meta_every_and_adam_labeler(long_run: LabelCraftResult, data) -> None:
    _, train_rows, _, _ = data
    sparse = run(data, config(meta_every=3, trainer_max_epochs=2))
    n_batches = math.ceil(len(train_rows) / 32)
    assert [entry["meta_steps"] for entry in sparse.history] == [math.ceil(n_batches / 3)] * 2
    assert numbers(sparse.history) != numbers(long_run.history)[:2]
    reused = run(data, config(upper_every=3, trainer_max_epochs=2))
    assert [(entry["meta_steps"], entry["upper_refreshes"]) for entry in reused.history] == [
        (n_batches, math.ceil(n_batches / 3))] * 2
    assert numbers(reused.history) != numbers(long_run.history)[:2]
    adam = run(data, config(label_optimizer="adam", trainer_max_epochs=2))
    assert numbers(adam.history) == numbers(run(data, config(label_optimizer="adam",
                                                             trainer_max_epochs=2)).history)
    assert not torch.equal(adam.labels, run(data, config(trainer_max_epochs=2)).labels)


def test_frozen_labeler_control(data) -> None:
    """label_optimizer "none": no meta step, the labeler keeps its seeded initial weights."""
    frozen = run(data, config(label_optimizer="none", trainer_max_epochs=2))
    assert [entry["meta_steps"] for entry in frozen.history] == [0, 0]
    assert "objective" not in frozen.history[0] and "valid_objective" in frozen.history[0]
    learned = run(data, config(trainer_max_epochs=2))
    tensors, train_rows, _, _ = data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        initial = Labeler(frozen.labeler.config, tensors.feedback_columns)
    for name, value in initial.net.state_dict().items():
        assert torch.equal(value, frozen.labeler.net.state_dict()[name]), name
    assert not torch.equal(frozen.labels, learned.labels)


def test_validation_objective_rises(long_run: LabelCraftResult) -> None:
    start = long_run.start["valid_objective"]
    final = long_run.history[-1]["valid_objective"]
    best = max(entry["valid_objective"] for entry in long_run.history)
    assert final > start + 0.01, (start, final)
    assert best > start + 0.02, (start, best)


def test_validation_objective_hand_case() -> None:
    """Two users; alpha is the hard top-1 at tiny epsilon; hand-computed M1, M2, M3."""
    mask = torch.tensor([[True, True, True], [True, True, False]])
    groups = EvalGroups(rows=torch.zeros(2, 3, dtype=torch.long), mask=mask,
                        user_idx=torch.tensor([1, 2]), user_id=torch.tensor([11, 12]))
    outcomes = EvalOutcomes(
        watch_time=torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        ef=torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        duration_s=torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
        long_view=torch.zeros(2, 3),
    )
    scales = OutcomeScales(PiecewiseScale(0.5, 1.0), PiecewiseScale(0.5, 1.0))
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.8, 0.0]])
    meta = MetaConfig(k=1, epsilon=1e-4, tau=0.0)
    out = validation_objective(scores, EvalSet(groups, outcomes), meta, scales)
    # top-1: user 0 item 0 (watch 1, no EF), user 1 item 1 (watch 1, EF)
    assert out["usage_time"] == pytest.approx(1.0, abs=1e-4)
    assert out["engagement"] == pytest.approx(0.5, abs=1e-4)
    # alpha * scaled duration = [1, 0, 0] (std sqrt(2)/3) and [0, 1] (std 1/2)
    spread = (math.sqrt(2) / 3 + 0.5) / 2
    assert out["duration_spread"] == pytest.approx(spread, abs=1e-4)
    assert out["objective"] == pytest.approx((1.0 + 0.5 + spread) / 3, abs=1e-4)


def test_warm_start_fits_the_rule_before_meta_learning(data) -> None:
    """warm_start "WT": at epoch 0 the labels already track the WT label, unlike a random start."""
    tensors, train_rows, _, _ = data
    frame = pd.DataFrame(tensors.feedback[train_rows].numpy(),
                         columns=list(tensors.feedback_columns))
    wt = fit_labels("WT", frame)(frame)[:, 0]
    frozen = config(label_optimizer="none", trainer_max_epochs=1)
    warm = run(data, dataclasses.replace(frozen, warm_start="WT", warm_start_steps=400))
    cold = run(data, frozen)
    assert np.corrcoef(warm.labels.numpy(), wt)[0, 1] > 0.95
    assert abs(np.corrcoef(cold.labels.numpy(), wt)[0, 1]) < 0.9
    assert warm.start["label_corr_watch_time"] > 0.9
    with pytest.raises(ValueError, match="warm_start"):
        LabelCraftConfig.from_dict({"warm_start": "watch"})
    with pytest.raises(ValueError, match="warm_start_steps"):
        LabelCraftConfig.from_dict({"warm_start_steps": -1})
