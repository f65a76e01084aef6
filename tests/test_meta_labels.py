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
    ExperimentConfig,
    LabelCraftExperimentConfig,
    SeedRun,
    is_labelcraft,
    merge_reports,
    method_kind,
    run_labelcraft_experiment,
    run_rule_experiment,
)
from labelcraft.experiments.meta_labels import ablate
from labelcraft.features.split import TRAIN
from labelcraft.meta import Labeler
from labelcraft.meta.meta_training import META_CURVES
from tests.synthetic_features import tiny_features

TINY = {
    "methods": ["WT"],
    "seeds": [0, 1],
    "model_params": {"embedding_dim": 4, "attention_hidden": [6], "mlp_hidden": [8]},
    "n_boot": 50,
    "trainer": {"batch_size": 64, "max_epochs": 2, "patience": 2, "lr": 0.01},
}
TINY_LABELCRAFT = {
    "ablations": ["balancing", "EI"],
    "meta_every": 2,
    "label_optimizer": "adam",
    "meta": {"lr_label": 0.01},
    "labeler": {"hidden": [8]},
    "trainer": {"batch_size": 32},
}


def comparison() -> ExperimentConfig:
    return ExperimentConfig.from_dict(TINY)


# ---------------------------------------------------------------- config


def test_config_shares_the_rule_trainer_with_overrides() -> None:
    config = LabelCraftExperimentConfig.from_params(TINY_LABELCRAFT, comparison())
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
    cut = LabelCraftExperimentConfig.from_params({"ablations": " WI  DO "}, comparison())
    assert cut.ablations == ("WI", "DO")
    assert LabelCraftExperimentConfig.from_params({"ablations": "all"}, comparison()).ablations \
        == ABLATIONS
    with pytest.raises(ValueError, match="unknown ablation 'WI,DO'"):
        LabelCraftExperimentConfig.from_params({"ablations": "WI,DO"}, comparison())


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
        LabelCraftExperimentConfig.from_params(params, comparison())


def test_each_ablation_removes_exactly_its_part() -> None:
    base = LabelCraftExperimentConfig.from_params({}, comparison()).labelcraft
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


SEED_RUNS: list[SeedRun] = []


@pytest.fixture(scope="module")
def experiment():
    """LabelCraft + two ablations x 2 seeds, and the WT rule, on tiny features."""
    features = tiny_features(seed=1)
    SEED_RUNS.clear()
    config = LabelCraftExperimentConfig.from_params(TINY_LABELCRAFT, comparison())
    frames = (features.model_inputs, features.feedback, features.eval_groups_valid,
              features.eval_groups_test, features.feature_spec)
    result = run_labelcraft_experiment(*frames, comparison(), config,
                                       on_seed_run=SEED_RUNS.append)
    rules = run_rule_experiment(*frames, comparison())
    return features, result, rules


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
    assert len(SEED_RUNS) == 6
    for run in SEED_RUNS:
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
    config = LabelCraftExperimentConfig.from_params(
        {**TINY_LABELCRAFT, "ablations": []}, comparison())
    again = run_labelcraft_experiment(
        features.model_inputs, features.feedback, features.eval_groups_valid,
        features.eval_groups_test, features.feature_spec, comparison(), config)
    first = result.test_scores[result.test_scores["method"] == LABELCRAFT]
    pd.testing.assert_frame_equal(again.test_scores, first.reset_index(drop=True))
    pd.testing.assert_frame_equal(again.labels, result.labels)


# ---------------------------------------------------------------- merged reports


def test_merge_reports_orders_methods_and_rejects_mismatches(experiment) -> None:
    _, result, rules = experiment
    merged = merge_reports(rules.test_metrics, result.test_metrics)
    assert list(merged["methods"]) == ["WT", LABELCRAFT, "LabelCraft w/o balancing",
                                       "LabelCraft w/o EI", RANDOM]
    assert merged["methods"]["WT"] == rules.test_metrics["methods"]["WT"]
    with pytest.raises(ValueError, match="different 'split'"):
        merge_reports(rules.test_metrics, result.valid_metrics)
    with pytest.raises(ValueError, match="more than one report"):
        merge_reports(rules.test_metrics, rules.test_metrics)
    other_seeds = {**result.test_metrics, "seeds": [5]}
    with pytest.raises(ValueError, match="different 'seeds'"):
        merge_reports(rules.test_metrics, other_seeds)
