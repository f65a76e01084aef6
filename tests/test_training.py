"""Trainer: config checks, seeded determinism, early stopping, batched group scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelcraft.features.split import TRAIN
from labelcraft.features.tensors import EvalGroups, InteractionTensors
from labelcraft.labels import fit_labels
from labelcraft.models import ModelSpec, make_batch
from labelcraft.recommender import (
    EvalSet,
    TrainConfig,
    build_seeded_model,
    epoch_metrics,
    score_groups,
    train_model,
)
from labelcraft.recommender import trainer as trainer_module
from tests.synthetic_features import tiny_features

TINY_MODEL = {"embedding_dim": 4, "attention_hidden": [6], "mlp_hidden": [8, 4]}
CONFIG = TrainConfig(batch_size=32, lr=0.01, max_epochs=3, patience=3, history_length=8)


@pytest.fixture(scope="module")
def data() -> dict:
    """Tiny features as tensors, WT labels fitted on train, validation set, model spec."""
    features = tiny_features()
    tensors = InteractionTensors.from_frames(features.model_inputs, features.feedback)
    train_rows = torch.nonzero(tensors.split == TRAIN).flatten()
    fitted = fit_labels("WT+EF", features.feedback.iloc[train_rows.numpy()])
    return {
        "tensors": tensors,
        "labels": torch.from_numpy(fitted(features.feedback)),
        "train_rows": train_rows,
        "valid": EvalSet.from_frames(features.eval_groups_valid, features.feedback),
        "spec": ModelSpec.from_feature_spec(features.feature_spec),
    }


def train(data: dict, seed: int, config: TrainConfig = CONFIG, heads: int = 1, **model):
    model_params = {**TINY_MODEL, **model}
    net = build_seeded_model("din", data["spec"], model_params, heads, seed)
    labels = data["labels"][:, :heads]
    result = train_model(
        net, data["tensors"], labels, data["train_rows"], data["valid"], config, seed=seed
    )
    return result


def timeless(history: list[dict]) -> list[dict]:
    """History without the wall-clock seconds."""
    return [{k: v for k, v in entry.items() if k not in ("seconds", "train_seconds")}
            for entry in history]


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.state_dict().items()}


# ---------------------------------------------------------------- config


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    assert TrainConfig.from_dict({"lr": 0.1, "k": 5, "eval_metric": "NEG@5"}).k == 5
    with pytest.raises(ValueError, match="unknown trainer parameter.*'epochs'"):
        TrainConfig.from_dict({"epochs": 3})
    with pytest.raises(ValueError, match="eval_metric"):
        TrainConfig(k=5)  # default metric NWTG@10 does not match k = 5
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="hinge")
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0)
    assert TrainConfig().resolve_history_length(50).history_length == 50
    assert TrainConfig(history_length=7).resolve_history_length(50).history_length == 7


def test_train_needs_resolved_history_and_matching_labels(data: dict) -> None:
    net = build_seeded_model("din", data["spec"], TINY_MODEL, 1, 0)
    args = (net, data["tensors"], data["labels"][:, :1], data["train_rows"], data["valid"])
    with pytest.raises(ValueError, match="history_length"):
        train_model(*args, TrainConfig(), seed=0)
    with pytest.raises(ValueError, match=r"labels must be \[N, H\]"):
        train_model(net, data["tensors"], data["labels"][:5], *args[3:], CONFIG, seed=0)


# ---------------------------------------------------------------- determinism


def test_same_seed_same_history_and_weights_different_seed_differs(data: dict) -> None:
    first, second, other = (train(data, seed) for seed in (3, 3, 4))
    assert timeless(first.history) == timeless(second.history)
    assert len(first.history) == CONFIG.max_epochs
    same, different = weights(first.model), weights(other.model)
    for name, value in weights(second.model).items():
        assert torch.equal(same[name], value), name
    assert first.best_epoch == second.best_epoch
    assert any(not torch.equal(same[n], different[n]) for n in same)
    assert timeless(first.history) != timeless(other.history)


def test_training_reduces_the_loss(data: dict) -> None:
    losses = [entry["train_loss"] for entry in train(data, 0).history]
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------- early stopping


def test_constant_metric_stops_after_patience_epochs(data: dict) -> None:
    """lr = 0 and ReLU (no running statistics): the metric never improves after epoch 1."""
    config = TrainConfig(batch_size=64, lr=1e-12, max_epochs=10, patience=2, history_length=8)
    result = train(data, 0, config, activation="relu")
    assert [entry["epoch"] for entry in result.history] == [1, 2, 3]
    assert result.best_epoch == 1


def test_best_state_is_restored(data: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted validation metrics 0.1, 0.5, 0.3, 0.2: best epoch 2, stop after epoch 4."""
    script = iter([0.1, 0.5, 0.3, 0.2, 0.9])
    seen: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []
    holder: dict[str, torch.nn.Module] = {}

    def scripted(scores: torch.Tensor, eval_set: EvalSet, k: int) -> dict[str, float]:
        seen.append((scores.clone(), weights(holder["model"])))
        return {"NWTG@10": next(script), "NEG@10": 0.0, "DS@10": 0.0}

    monkeypatch.setattr(trainer_module, "epoch_metrics", scripted)
    net = build_seeded_model("din", data["spec"], TINY_MODEL, 1, 0)
    holder["model"] = net
    config = TrainConfig(batch_size=32, lr=0.01, max_epochs=10, patience=2, history_length=8)
    result = train_model(
        net,
        data["tensors"],
        data["labels"][:, :1],
        data["train_rows"],
        data["valid"],
        config,
        seed=0,
    )
    assert [entry["epoch"] for entry in result.history] == [1, 2, 3, 4]
    assert (result.best_epoch, result.best_metric) == (2, 0.5)
    best_scores, best_state = seen[1]
    for name, value in net.state_dict().items():
        assert torch.equal(value, best_state[name]), name
    assert not torch.equal(seen[3][0], best_scores)  # the last epoch's model was different
    restored = score_groups(net, data["tensors"], data["valid"].groups, 8)
    assert torch.equal(restored, best_scores)
    assert result.best_scores is not None and torch.equal(result.best_scores, best_scores)
    assert not net.training


# ---------------------------------------------------------------- scoring


def test_score_groups_matches_per_item_scoring(data: dict) -> None:
    """Every real slot scored alone equals the batched score; padding slots are 0."""
    net = build_seeded_model("din", data["spec"], TINY_MODEL, 2, 5)
    net.train()
    groups = data["valid"].groups
    scores = score_groups(net, data["tensors"], groups, 8, batch_users=5, head_weights=[3, 1])
    assert net.training  # mode restored
    net.eval()
    real = torch.nonzero(groups.mask)
    with torch.no_grad():
        for g, m in real[:: max(1, len(real) // 25)].tolist():  # a spread of slots
            heads = net(make_batch(data["tensors"], groups.rows[g, m : m + 1], 8))[0]
            expected = 0.75 * heads[0] + 0.25 * heads[1]
            assert scores[g, m].item() == pytest.approx(expected.item(), abs=1e-6)
    assert torch.all(scores[~groups.mask] == 0)
    for batch_users in (1, 3, 1000):
        again = score_groups(
            net, data["tensors"], groups, 8, batch_users=batch_users, head_weights=[3, 1]
        )
        torch.testing.assert_close(again, scores, rtol=0, atol=1e-6)


def test_padding_rows_are_irrelevant(data: dict) -> None:
    """Garbage row indices in padded slots change nothing; extra padding width neither."""
    net = build_seeded_model("din", data["spec"], TINY_MODEL, 1, 1)
    groups = data["valid"].groups
    scores = score_groups(net, data["tensors"], groups, 8, batch_users=4)
    g = torch.Generator().manual_seed(0)
    garbage = torch.randint(0, len(data["tensors"]), groups.rows.shape, generator=g)
    wide = 3
    padded = EvalGroups(
        rows=torch.cat(
            [
                torch.where(groups.mask, groups.rows, garbage),
                torch.randint(0, 50, (len(groups.rows), wide), generator=g),
            ],
            dim=1,
        ),
        mask=torch.cat([groups.mask, torch.zeros(len(groups.mask), wide, dtype=torch.bool)], 1),
        user_idx=groups.user_idx,
        user_id=groups.user_id,
    )
    again = score_groups(net, data["tensors"], padded, 8, batch_users=4)
    torch.testing.assert_close(again[:, : scores.shape[1]], scores, rtol=0, atol=1e-6)
    assert torch.all(again[:, scores.shape[1] :] == 0)


def test_epoch_metrics_are_user_means(data: dict) -> None:
    """Scoring by the observed watch time itself gives NWTG@k = 1 for every user."""
    valid = data["valid"]
    metrics = epoch_metrics(valid.outcomes.watch_time, valid, 10)
    assert metrics["NWTG@10"] == pytest.approx(1.0)
    assert set(metrics) == {"NWTG@10", "NEG@10", "DS@10"}
    assert np.isfinite(list(metrics.values())).all()
