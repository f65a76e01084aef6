"""LabelCraft rows of the comparison: config, ablations, experiment, labels, merged reports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from labelcraft.experiments import (
    ABLATIONS,
    LABELCRAFT,
    RANDOM,
    Cell,
    LabelCraftVariants,
    ablate,
    is_labelcraft,
    merge_reports,
    method_kind,
)
from labelcraft.features.split import TRAIN
from labelcraft.meta import Labeler
from labelcraft.meta.meta_training import META_CURVES
from labelcraft.recommender import TrainConfig
from tests.grid_runs import TINY_PARAMETERS, cell_outputs, run_grid
from tests.synthetic_features import tiny_features

TRAINER = TrainConfig.from_dict({"batch_size": 64, "max_epochs": 2, "patience": 2, "lr": 0.01})
TINY_LABELCRAFT = {
    "ablations": ["balancing", "EI"],
    "meta_every": 2,
    "label_optimizer": "adam",
    "meta": {"lr_label": 0.01},
    "labeler": {"hidden": [8]},
    "trainer": {"batch_size": 32},
}
PARAMETERS = {**TINY_PARAMETERS, "trainer": {"batch_size": 64, "max_epochs": 2, "patience": 2,
                                             "lr": 0.01},
              "labelcraft": TINY_LABELCRAFT}
ROWS = [LABELCRAFT, "LabelCraft w/o balancing", "LabelCraft w/o EI"]


def variants(params: dict) -> LabelCraftVariants:
    return LabelCraftVariants.from_params(params, TRAINER)


# ---------------------------------------------------------------- config


def test_config_shares_the_rule_trainer_with_overrides() -> None:
    config = variants(TINY_LABELCRAFT)
    trainer = config.labelcraft.trainer
    assert trainer.batch_size == 32  # overridden
    assert (trainer.max_epochs, trainer.lr, trainer.patience) == (2, 0.01, 2)  # shared
    assert config.labelcraft.meta.loss == trainer.loss and config.labelcraft.meta.k == trainer.k
    assert list(config.variants()) == [LABELCRAFT, "LabelCraft w/o balancing", "LabelCraft w/o EI"]
    assert all(is_labelcraft(name) for name in config.variants())
    assert not is_labelcraft("WT") and not is_labelcraft("LabelCrafty")
    assert method_kind("LabelCraft w/o EI") == "labelcraft"


def test_ablations_from_the_command_line() -> None:
    """A string of names separated by spaces, or "all" (commas split ``--params`` items)."""
    cut = variants({"ablations": " WI  DO "})
    assert cut.ablations == ("WI", "DO")
    assert variants({"ablations": "all"}).ablations \
        == ABLATIONS
    with pytest.raises(ValueError, match="unknown ablation 'WI,DO'"):
        variants({"ablations": "WI,DO"})


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"meta_evry": 2}, "unknown labelcraft parameter.*'meta_every'"),
        ({"trainer": {"batch": 8}}, "unknown trainer parameter"),
        ({"meta": {"loss": "bce"}}, "must agree"),
        ({"ablations": ["XI"]}, "unknown ablation 'XI'"),
        ({"ablations": ["WO", "WO"]}, "must not repeat"),
        ({"labeler": {"inputs": ["like"]}, "ablations": ["EI"]}, "inputs"),
        ({"labeler": {"inputs": ["duration_s"]}, "ablations": ["WI"]}, "hold none"),
        ({"meta": {"objectives": ["engagement"]}, "ablations": ["DO"]}, "not among"),
        ({"meta": {"objectives": ["engagement"]}, "ablations": ["EO"]}, "at least one"),
    ],
)
def test_config_rejections(params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        variants(params)


def test_each_ablation_removes_exactly_its_part() -> None:
    base = variants({}).labelcraft
    assert base.meta.tau == 0.5 and base.labeler.scaling == "piecewise"
    expected_inputs = {
        "WI": ("duration_s", "like", "follow", "comment"),
        "DI": ("play_time_s", "like", "follow", "comment"),
        "EI": ("play_time_s", "duration_s"),
    }
    expected_objectives = {
        "WO": ("engagement", "duration_spread"),
        "EO": ("usage_time", "duration_spread"),
        "DO": ("usage_time", "engagement"),
    }
    for part in ABLATIONS:
        cut = ablate(base, part)
        assert cut.meta.tau == (0.0 if part == "balancing" else 0.5), part
        assert cut.labeler.scaling == ("raw" if part == "scaling" else "piecewise"), part
        assert cut.labeler.inputs == expected_inputs.get(part, base.labeler.inputs), part
        assert cut.meta.objectives == expected_objectives.get(part, base.meta.objectives), part
        assert cut.label_optimizer == ("none" if part == "meta" else base.label_optimizer), part
        assert cut.trainer == base.trainer and cut.meta_every == base.meta_every


# ---------------------------------------------------------------- experiment


@pytest.fixture(scope="module")
def experiment():
    """LabelCraft + two ablations x 2 seeds, and the WT rule, on tiny features (the cells)."""
    features = tiny_features(seed=1)
    catalog = run_grid(features, [Cell("din", name) for name in ["WT", *ROWS, RANDOM]],
                       PARAMETERS)
    rules = cell_outputs(catalog, [Cell("din", name) for name in ["WT", *ROWS, RANDOM]])
    assert rules.test_metrics == catalog["tiny.test_metrics"].load()  # the merge node's
    return features, cell_outputs(catalog, [Cell("din", row) for row in ROWS]), rules


def test_reports_have_the_rule_layout(experiment) -> None:
    _, result, rules = experiment
    names = [LABELCRAFT, "LabelCraft w/o balancing", "LabelCraft w/o EI"]
    for report, rule_report in ((result.valid_metrics, rules.valid_metrics),
                                (result.test_metrics, rules.test_metrics)):
        json.dumps(report)
        assert list(report["methods"]) == names
        assert {k: v for k, v in report.items() if k != "methods"} == {
            k: v for k, v in rule_report.items() if k != "methods"}
        for entry in report["methods"].values():
            assert entry["kind"] == "labelcraft" and entry["heads"] == []
            assert [s["seed"] for s in entry["per_seed"]] == [0, 1]
            assert set(entry["metrics"]) == set(rule_report["methods"]["WT"]["metrics"])


def test_histories_scores_and_seed_runs(experiment) -> None:
    features, result, _ = experiment
    history = result.histories
    assert set(history["method"]) == {LABELCRAFT, "LabelCraft w/o balancing",
                                      "LabelCraft w/o EI"}
    assert set(META_CURVES) <= set(history.columns)
    assert history.groupby(["method", "seed"])["best"].sum().eq(1).all()
    # epoch 0 per run: the untrained model's validation entries only
    start = history[history["epoch"] == 0]
    assert len(start) == 6 and not start["best"].any()
    assert start["valid_objective"].notna().all() and start["train_loss"].isna().all()
    trained = history[history["epoch"] > 0]
    assert trained["train_loss"].notna().all()
    # equal weights without balancing, adaptive ones otherwise
    no_balance = trained[trained["method"] == "LabelCraft w/o balancing"]
    assert np.allclose(no_balance["weight_usage_time"], 1 / 3)
    full = trained[trained["method"] == LABELCRAFT]
    assert not np.allclose(full["weight_usage_time"], 1 / 3)
    scores = result.test_scores
    n_slots = int(features.eval_groups_test.shape[0])
    assert len(scores) == 3 * 2 * n_slots and set(scores["seed"]) == {0, 1}
    assert len(result.seed_runs) == 6
    for run in result.seed_runs:
        assert run.backbone == "din"
        assert set(run.state_dicts) == ({"model", "labeler"} if run.seed == 0 else set())
        index = [0, 1].index(run.seed)
        assert run.final["test"] == result.test_metrics["methods"][run.method]["per_seed"][
            index]["metrics"]


def test_labels_cover_every_train_row_and_match_the_labeler(experiment) -> None:
    features, result, _ = experiment
    train = features.model_inputs[features.model_inputs["split"] == TRAIN]
    labels = result.labels
    assert list(labels.columns) == ["row", "user_id", "video_id", "time_ms", "label"]
    assert len(labels) == len(train) and labels["row"].is_unique
    keys = features.model_inputs.iloc[labels["row"]][["user_id", "video_id", "time_ms"]]
    assert (keys.to_numpy() == labels[["user_id", "video_id", "time_ms"]].to_numpy()).all()
    assert labels["label"].between(0, 1).all() and labels["label"].std() > 0
    labeler = Labeler.from_artifact(result.labeler)
    columns = list(labeler.feedback_columns)
    feedback = torch.tensor(features.feedback.iloc[labels["row"]][columns].to_numpy(),
                            dtype=torch.float32)
    with torch.no_grad():
        again = labeler(feedback).numpy()
    np.testing.assert_allclose(again, labels["label"].to_numpy(), rtol=1e-6)


def test_labelcraft_rows_are_seeded(experiment) -> None:
    features, result, _ = experiment
    catalog = run_grid(features, [Cell("din", LABELCRAFT)],
                       {**PARAMETERS, "labelcraft": {**TINY_LABELCRAFT, "ablations": []}})
    again = cell_outputs(catalog, [Cell("din", LABELCRAFT)])
    first = result.test_scores[result.test_scores["method"] == LABELCRAFT]
    pd.testing.assert_frame_equal(again.test_scores, first.reset_index(drop=True))
    pd.testing.assert_frame_equal(again.labels, result.labels)


# ---------------------------------------------------------------- merged reports


def test_merge_reports_orders_methods_and_rejects_mismatches(experiment) -> None:
    _, result, rules = experiment
    wt_only = {**rules.test_metrics, "methods": {"WT": rules.test_metrics["methods"]["WT"]}}
    floor = {**rules.test_metrics, "methods": {RANDOM: rules.test_metrics["methods"][RANDOM]}}
    merged = merge_reports([floor, wt_only, result.test_metrics])
    assert list(merged["methods"]) == ["WT", *ROWS, RANDOM]
    assert list(rules.test_metrics["methods"]) == ["WT", *ROWS, RANDOM]  # the merge node's
    assert merged["methods"]["WT"] == rules.test_metrics["methods"]["WT"]
    renamed = merge_reports([wt_only, floor], names=["din/WT", "din/random"])
    assert list(renamed["methods"]) == ["din/WT", "din/random"]
    with pytest.raises(ValueError, match="different 'split'"):
        merge_reports([wt_only, result.valid_metrics])
    with pytest.raises(ValueError, match="more than one report"):
        merge_reports([wt_only, wt_only])
    other_seeds = {**result.test_metrics, "seeds": [5]}
    with pytest.raises(ValueError, match="different 'seeds'"):
        merge_reports([wt_only, other_seeds])
