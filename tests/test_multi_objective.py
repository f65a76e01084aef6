"""Multi-objective prediction: targets, loss, ESMM chain, fusion, per-task metrics, its cells."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from labelcraft.evaluation import auc, group_auc
from labelcraft.experiments import Cell, ComparisonData, grid_cells
from labelcraft.experiments.config import GridConfig
from labelcraft.multiobjective.metrics import per_user_xauc, task_metrics
from labelcraft.multiobjective.objective import (
    EntireSpaceChain,
    MultiObjectiveConfig,
    Variant,
    fuse_heads,
    task_loss,
)
from labelcraft.multiobjective.tasks import WatchTimeScale, task_targets
from tests.grid_runs import TINY_PARAMETERS, run_grid
from tests.synthetic_features import feedback_rows, tiny_features


def test_targets_by_hand() -> None:
    table = feedback_rows(play_time_s=[0.0, 9.0, 99.0, 500.0], skip=[1, 0, 0, 0],
                     long_view=[0, 1, 1, 0], comment=[0, 0, 1, 0], hate=[0, 0, 0, 1],
                     click=[0, 1, 1, 1])
    scale = WatchTimeScale(cap_s=99.0)
    targets = task_targets(table, ("skip", "long_view", "watch_time", "EF", "hate", "click"),
                           scale)
    assert targets[:, 0].tolist() == [1, 0, 0, 0]
    assert targets[:, 1].tolist() == [0, 1, 1, 0]
    # log1p(s) / log1p(99) = log(1 + s) / log(100): 0, log 10 / log 100 = 0.5, 1, clipped 1
    torch.testing.assert_close(targets[:, 2], torch.tensor([0.0, 0.5, 1.0, 1.0]))
    assert targets[:, 3].tolist() == [0, 0, 1, 0] and targets[:, 4].tolist() == [0, 0, 0, 1]
    assert targets[:, 5].tolist() == [0, 1, 1, 1]
    torch.testing.assert_close(scale.seconds(torch.tensor([0.5, 1.0])), torch.tensor([9.0, 99.0]))


def test_scale_fits_the_train_quantile_and_rejects_nothing_to_fit() -> None:
    assert WatchTimeScale.fit(np.arange(101.0), 0.5).cap_s == 50.0
    assert WatchTimeScale.fit(np.zeros(3), 0.9).cap_s == 1.0  # floored at 1 s
    with pytest.raises(ValueError, match="train play times"):
        WatchTimeScale.fit(np.zeros(0), 0.9)


def test_bad_feedback_is_named() -> None:
    table = feedback_rows(play_time_s=[1.0, -2.0])
    with pytest.raises(ValueError, match="play_time_s"):
        task_targets(table, ("watch_time",), WatchTimeScale(10.0))


def test_task_loss_by_hand() -> None:
    pred = torch.tensor([[0.8, 0.5], [0.4, 0.25]])
    target = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    bce = -(math.log(0.8) + math.log(0.6)) / 2
    mse = (0.25 + 0.0625) / 2
    value = task_loss(pred, target, ("skip", "watch_time"), {"skip": 3.0})
    assert float(value) == pytest.approx((3 * bce + mse) / 4)
    with pytest.raises(ValueError, match="must be"):
        task_loss(pred, target, ("skip",), {})


def test_esmm_chains_long_view_on_click() -> None:
    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.heads = torch.nn.Parameter(torch.tensor([[0.5, 0.2, 0.6], [0.9, 0.1, 0.3]]))

        def forward(self, batch: object) -> torch.Tensor:
            return self.heads

    model = EntireSpaceChain(Fixed(), ("click", "skip", "long_view"))
    out = model(None)
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.2, 0.3], [0.9, 0.1, 0.27]]))
    out[:, 2].sum().backward()  # d(p_c * p_lv|c) reaches both heads
    torch.testing.assert_close(model.backbone.heads.grad,
                               torch.tensor([[0.6, 0.0, 0.5], [0.3, 0.0, 0.9]]))


def test_fusion_by_hand() -> None:
    scale = WatchTimeScale(cap_s=99.0)
    heads = torch.tensor([[0.2, 0.5, 0.5, 0.1]])  # skip, long_view, watch_time (9 s), hate
    tasks = ("skip", "long_view", "watch_time", "hate")
    fused = fuse_heads(heads, tasks, {"skip": 1.0, "long_view": 2.0, "watch_time": 1.0,
                                      "hate": 0.5}, scale)
    expected = 0.8 * 0.5**2 * (9.0 / 99.0) * 0.9**0.5
    assert float(fused) == pytest.approx(expected, rel=1e-5)
    # one task: ranks by its own factor, whatever the weights
    assert float(fuse_heads(heads[:, :1], ("skip",), {}, scale)) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="weight 0"):
        fuse_heads(heads, tasks, {}, scale)


def test_xauc_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 4, (5, 7), generator=g).float()  # ties on purpose
    truth = torch.randint(0, 5, (5, 7), generator=g).float()
    mask = torch.rand(5, 7, generator=g) < 0.8
    mask[4] = False
    mask[4, 0] = True  # one item: no pair
    values, pairs = per_user_xauc(pred, truth, mask)
    for user in range(5):
        items = mask[user].nonzero().flatten().tolist()
        good = total = 0.0
        for i in items:
            for j in items:
                if truth[user, i] > truth[user, j]:
                    total += 1
                    good += float(pred[user, i] > pred[user, j]) + 0.5 * float(
                        pred[user, i] == pred[user, j])
        assert pairs[user] == total
        if total:
            assert values[user] == pytest.approx(good / total)
        else:
            assert math.isnan(values[user])


def test_task_metrics_pool_users_and_summarise_seeds() -> None:
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(30, 9, generator=g) < 0.8
    skip = (torch.rand(30, 9, generator=g) < 0.4).float() * mask
    seconds = torch.rand(30, 9, generator=g) * 60 * mask
    seeds = [{"skip": torch.rand(30, 9, generator=g) * mask,
              "watch_time": torch.rand(30, 9, generator=g) * 60 * mask} for _ in range(2)]
    per_seed, summary = task_metrics(seeds, {"skip": skip, "watch_time": seconds}, mask,
                                     n_boot=200)
    for index, predictions in enumerate(seeds):
        assert per_seed[index]["AUC_skip"]["value"] == pytest.approx(
            auc(predictions["skip"], skip, mask))
        assert per_seed[index]["gAUC_skip"]["value"] == pytest.approx(
            group_auc(predictions["skip"], skip, mask)["value"])
        error = (predictions["watch_time"] - seconds).abs()[mask]
        assert per_seed[index]["MAE_watch_time"]["value"] == pytest.approx(float(error.mean()),
                                                                         rel=1e-5)
    values = [per_seed[i]["gAUC_skip"]["value"] for i in range(2)]
    assert summary["gAUC_skip"]["value"] == pytest.approx(np.mean(values))
    assert summary["gAUC_skip"]["value_std"] == pytest.approx(np.std(values, ddof=1))
    assert summary["gAUC_skip"]["ci_low"] < summary["gAUC_skip"]["ci_high"]
    assert "ci_low" not in summary["AUC_skip"]  # a global AUC has no per-user interval


def test_config_rejects_mistakes() -> None:
    with pytest.raises(ValueError, match="tasks must be distinct names"):
        MultiObjectiveConfig.from_dict({"tasks": ["skip", "dwell"]})
    with pytest.raises(ValueError, match="unknown backbone"):
        MultiObjectiveConfig.from_dict({"variants": [{"name": "a", "backbone": "nope"}]})
    with pytest.raises(ValueError, match="esmm needs the task long_view"):
        Variant("a", "din", tasks=("skip",), esmm=True)
    with pytest.raises(ValueError, match="twice"):
        MultiObjectiveConfig.from_dict({"variants": [{"name": "a", "backbone": "din"}] * 2})
    with pytest.raises(ValueError, match="unknown multi_objective variant parameter"):
        MultiObjectiveConfig.from_dict({"variants": [{"name": "a", "backbone": "din",
                                                      "task": ["skip"]}]})
    config = MultiObjectiveConfig.from_dict({"variants": [{"name": "a", "backbone": "din",
                                                           "esmm": True}]})
    assert config.tasks_of(config.variants[0])[0] == "click"


def test_a_variant_may_not_take_a_rule_cell_namespace() -> None:
    with pytest.raises(ValueError, match="share a namespace"):
        grid_cells(GridConfig(methods=("WT",)), ["LabelCraft"], [("din", "WT")])


MO_PARAMETERS = copy.deepcopy(TINY_PARAMETERS) | {"multi_objective": {"variants": [
    {"name": "multi-objective", "backbone": "feedback_aware",
     "backbone_params": {"towers": "mmoe", "num_experts": 2}},
    {"name": "multi-objective (ESMM)", "backbone": "feedback_aware", "esmm": True},
    {"name": "single-task skip", "backbone": "din", "tasks": ["skip"]},
]}}
MO_PARAMETERS["backbones"]["feedback_aware"] = {"embedding_dim": 4, "attention_hidden": [6],
                                                "mlp_hidden": [8]}


@pytest.fixture(scope="module")
def mo_grid():
    cells = [Cell("feedback_aware", "multi-objective", multi_objective=True),
             Cell("feedback_aware", "multi-objective (ESMM)", multi_objective=True),
             Cell("din", "single-task skip", multi_objective=True), Cell("din", "random")]
    return run_grid(tiny_features(), cells, MO_PARAMETERS)


def test_cells_report_every_task(mo_grid) -> None:
    report = mo_grid.load("tiny.test_metrics")
    entry = report["methods"]["feedback_aware/multi-objective"]
    assert entry["kind"] == "multi_objective"
    assert entry["heads"] == ["skip", "long_view", "watch_time", "EF", "hate"]
    for name in ("AUC_skip", "gAUC_skip", "AUC_long_view", "gAUC_long_view", "AUC_EF", "gAUC_EF",
                 "AUC_hate", "gAUC_hate", "MAE_watch_time", "XAUC_watch_time", "NWTG@10"):
        assert name in entry["metrics"], name
        assert name in entry["per_seed"][1]["metrics"], name
    assert report["methods"]["feedback_aware/multi-objective (ESMM)"]["heads"][0] == "click"
    assert report["methods"]["din/single-task skip"]["heads"] == ["skip"]


def test_predictions_are_the_eval_slots_and_give_the_reported_scores(mo_grid) -> None:
    predictions = mo_grid.load("tiny.feedback_aware.multi_objective.task_predictions")
    scores = mo_grid.load("tiny.feedback_aware.multi_objective.test_scores")
    test = predictions[predictions["split"] == "test"].reset_index(drop=True)
    assert test[["seed", "row"]].to_numpy().tolist() == scores[["seed", "row"]].to_numpy(
        ).tolist()
    assert (predictions["watch_time"] >= 0).all()
    assert predictions[["skip", "long_view", "EF", "hate"]].stack().between(0, 1).all()
    report = mo_grid.load("tiny.test_metrics")["methods"]["feedback_aware/multi-objective"]
    first = test[test["seed"] == 0]
    outcome = mo_grid.load("tiny.feedback")["skip"].to_numpy()[first["row"].to_numpy()]
    assert report["per_seed"][0]["metrics"]["AUC_skip"]["value"] == pytest.approx(
        auc(first["skip"].to_numpy(), outcome))


def test_history_has_per_task_curves(mo_grid) -> None:
    history = mo_grid.load("tiny.feedback_aware.multi_objective.history")
    for name in ("valid_AUC_skip", "valid_AUC_long_view", "valid_AUC_EF", "valid_AUC_hate"):
        assert history[name].between(0, 1).all(), name
    assert set(history["seed"]) == {0, 1}


def test_task_loss_gradient_is_finite_on_saturated_scores() -> None:
    pred = torch.tensor([[0.0, 1.0], [1.0, 0.5]], requires_grad=True)
    value = task_loss(pred, torch.tensor([[1.0, 0.0], [1.0, 0.5]]), ("EF", "hate"), {})
    (grad,) = torch.autograd.grad(value, pred)
    assert bool(torch.isfinite(grad).all())
    # EF: log terms clamped at -100 -> (100 + 0) / 2; hate: (100 + ln 2) / 2
    assert float(value.detach()) == pytest.approx((50.0 + (100.0 + math.log(2.0)) / 2) / 2)


def test_only_a_model_that_reads_history_feedback_gets_it() -> None:
    features = tiny_features()
    data = ComparisonData.from_frames(features.model_inputs, features.feedback,
                                      features.eval_groups_valid, features.eval_groups_test,
                                      features.feature_spec)
    assert set(data.tensors.history_feedback) == {
        "feedback_class", "action_bits", "play_ratio_bucket", "tab_idx", "hour_idx"}
    assert data.for_backbone("feedback_aware") is data
    assert data.for_backbone("din").tensors.history_feedback == {}
    assert data.for_backbone("din").tensors.ids is data.tensors.ids  # no copy of the ids
