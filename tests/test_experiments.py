"""Label-rule experiment end to end on tiny features, truth agreement, summaries, leaderboard."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from labelcraft.experiments import (
    ALL_METHODS,
    RANDOM,
    Cell,
    GridConfig,
    ReportConfig,
    leaderboard_markdown,
    satisfaction_gains,
    summarise_seeds,
    truth_agreement,
    undominated,
)
from labelcraft.experiments import cells as cells_module
from labelcraft.features.tensors import EvalGroups
from labelcraft.labels import fit_labels
from tests.grid_runs import cell_outputs, run_grid
from tests.synthetic_features import tiny_features

SUMMARY_FIELDS = {
    "mean",
    "mean_std",
    "weighted_mean",
    "weighted_mean_std",
    "ci_low",
    "ci_high",
    "weighted_ci_low",
    "weighted_ci_high",
    "n_users",
    "n_seeds",
}


# ---------------------------------------------------------------- config


def test_config_defaults_and_rejections() -> None:
    config = GridConfig.from_dict({"methods": None})
    assert config.methods == ALL_METHODS
    assert ALL_METHODS == ("WT", "EF", "PC", "PCR", "D2Q", "DVR", "WT+EF", "D2Q+EF", "DVR+EF")
    assert config.seeds == (0, 1, 2) and config.backbones == ("din",)
    with pytest.raises(ValueError, match="unknown comparison parameter.*'seed'"):
        GridConfig.from_dict({"seed": 1})
    with pytest.raises(ValueError, match="unknown evaluation parameter"):
        ReportConfig.from_dict({"boot": 1})
    with pytest.raises(ValueError, match="n_boot"):
        ReportConfig(n_boot=0)
    with pytest.raises(KeyError, match="unknown label method 'XYZ'"):
        GridConfig(methods=("WT", "XYZ"))
    with pytest.raises(ValueError, match="floor"):
        GridConfig(methods=("WT", RANDOM))
    with pytest.raises(ValueError, match="labelcraft"):
        GridConfig(methods=("WT", "LabelCraft"))
    with pytest.raises(ValueError, match="unknown backbone"):
        GridConfig(backbones=("dcn",))
    with pytest.raises(ValueError, match="without repeats"):
        GridConfig(backbones=("din", "din"))
    with pytest.raises(ValueError, match="head_weights"):
        GridConfig(head_weights=(1.0, 2.0, 3.0))
    assert GridConfig(head_weights=[1, 3]).weights_for("WT+EF") == (1.0, 3.0)
    assert GridConfig(head_weights=[1, 3]).weights_for("WT") is None


# ---------------------------------------------------------------- the rule cells end to end


@pytest.fixture(scope="module")
def experiment():
    """Every rule and the floor x 2 seeds on tiny features (the Kedro cells and merge nodes);
    records the train feedback each fit saw."""
    features = tiny_features(seed=1)
    fitted_on: list[int] = []

    def spy(method, train_feedback, rule_params=None):
        fitted_on.append(len(train_feedback))
        return fit_labels(method, train_feedback, rule_params)

    cells = [Cell("din", method) for method in (*ALL_METHODS, RANDOM)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cells_module, "fit_labels", spy)
        catalog = run_grid(features, cells)
    result = cell_outputs(catalog, cells)
    merged = {name: catalog[f"tiny.{name}"].load() for name in ("valid_metrics", "test_metrics")}
    assert merged == {"valid_metrics": result.valid_metrics, "test_metrics": result.test_metrics}
    return features, result, fitted_on


def test_every_method_is_reported_with_the_schema(experiment) -> None:
    features, result, _ = experiment
    expected = [*ALL_METHODS, RANDOM]
    for split, raw in (("valid", result.valid_metrics), ("test", result.test_metrics)):
        report = json.loads(json.dumps(raw))  # JSON-able
        assert report["split"] == split
        assert list(report["methods"]) == expected
        assert report["seeds"] == [0, 1] and report["k"] == 10
        groups = getattr(features, f"eval_groups_{split}")
        assert report["n_users"] == groups["group"].nunique()
        assert report["n_interactions"] == len(groups)
        for method, entry in report["methods"].items():
            metrics = entry["metrics"]
            ranking = {f"{kind}_{target}" for kind in ("AUC", "gAUC")
                       for target in ("EF", "long_view", "click")}
            assert set(metrics) == {"NWTG@10", "NEG@10", "DS@10", *ranking}
            for name in ("NWTG@10", "NEG@10", "DS@10"):
                assert set(metrics[name]) == SUMMARY_FIELDS, (method, name)
                assert metrics[name]["ci_low"] <= metrics[name]["mean"] <= metrics[name]["ci_high"]
                assert metrics[name]["n_users"] == report["n_users"]
            assert set(metrics["AUC_EF"]) == {
                "value", "value_std", "n_seeds", "n_interactions", "n_positive"
            }  # fmt: skip
            assert set(metrics["gAUC_click"]) == {"value", "value_std", "n_seeds", "n_users",
                                                  "n_skipped"}
            assert [s["seed"] for s in entry["per_seed"]] == [0, 1]
            assert all(s["score_std"] >= 0 for s in entry["per_seed"])
            assert 0.0 <= metrics["NWTG@10"]["mean"] <= 1.0
        assert report["methods"]["WT+EF"]["heads"] == ["WT", "EF"]
        assert report["methods"]["WT+EF"]["kind"] == "multi_task"
        assert report["methods"]["WT"]["kind"] == "rule"
        assert report["methods"][RANDOM]["kind"] == "floor"


def test_seed_summary_is_consistent_with_per_seed_reports(experiment) -> None:
    _, result, _ = experiment
    entry = result.test_metrics["methods"]["D2Q"]
    per_seed = [s["metrics"]["NWTG@10"]["mean"] for s in entry["per_seed"]]
    assert entry["metrics"]["NWTG@10"]["mean"] == pytest.approx(np.mean(per_seed))
    assert entry["metrics"]["NWTG@10"]["mean_std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert all(1 <= s["best_epoch"] <= 2 for s in entry["per_seed"])


def test_labels_are_fitted_on_train_rows_only(experiment) -> None:
    features, _, fitted_on = experiment
    n_train = int((features.model_inputs["split"] == 0).sum())
    assert fitted_on == [n_train] * len(ALL_METHODS)


def test_histories_and_test_scores(experiment) -> None:
    features, result, _ = experiment
    history = result.histories
    assert set(history["method"]) == set(ALL_METHODS)
    assert {"epoch", "train_loss", "valid_NWTG@10", "valid_NEG@10", "valid_DS@10", "best"} <= set(
        history.columns
    )
    assert (history.groupby(["method", "seed"])["best"].sum() == 1).all()
    scores = result.test_scores
    n_slots = len(features.eval_groups_test)
    assert len(scores) == (len(ALL_METHODS) + 1) * 2 * n_slots
    one = scores[(scores["method"] == "WT") & (scores["seed"] == 1)]
    np.testing.assert_array_equal(one["row"], features.eval_groups_test["row"])
    np.testing.assert_array_equal(one["group"], features.eval_groups_test["group"])


def test_truth_agreement_on_the_experiment(experiment) -> None:
    """A truth equal to the observed watch time: the WT scores agree better than random."""
    features, result, _ = experiment
    truth = features.model_inputs[["user_id", "video_id", "time_ms"]].assign(
        satisfaction=features.feedback["play_time_s"].to_numpy()
    )
    report = truth_agreement(
        result.test_scores, features.eval_groups_test, features.model_inputs, truth, n_boot=20
    )
    assert list(report["methods"]) == [*ALL_METHODS, RANDOM]
    entry = report["methods"]["WT"]["metrics"]["SAT_NDCG@10"]
    assert set(entry) == SUMMARY_FIELDS
    assert report["repeated_truth_keys"] == 0
    json.dumps(report)


# ---------------------------------------------------------------- truth agreement by hand


def hand_case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two users: user 7 rows 0-2 (satisfaction 1, 3, 2), user 9 rows 3-4 (both 0.5)."""
    model_inputs = pd.DataFrame(
        {
            "user_id": [7, 7, 7, 9, 9],
            "video_id": [1, 2, 3, 1, 1],
            "time_ms": [10, 20, 30, 40, 40],  # rows 3 and 4 repeat a key
        }
    )
    truth = pd.DataFrame(
        {
            "user_id": [9, 7, 7, 7, 9, 5],
            "video_id": [1, 1, 2, 3, 1, 4],
            "time_ms": [40, 10, 20, 30, 40, 0],
            "satisfaction": [0.0, 1.0, 3.0, 2.0, 1.0, 9.0],  # key (9, 1, 40) twice: mean 0.5
        }
    )
    groups = pd.DataFrame(
        {
            "group": [0, 0, 0, 1, 1],
            "user_idx": [1, 1, 1, 2, 2],
            "user_id": [7, 7, 7, 9, 9],
            "row": [0, 1, 2, 3, 4],
        }
    )
    return model_inputs, truth, groups


def test_satisfaction_gains_by_hand() -> None:
    model_inputs, truth, groups = hand_case()
    gains, repeated = satisfaction_gains(EvalGroups.from_frame(groups), model_inputs, truth)
    assert repeated == 1
    expected = [[0.0, 2.0, 1.0], [0.0, 0.0, 0.0]]  # shifted by the user's minimum
    assert gains.tolist() == expected


def test_truth_agreement_by_hand() -> None:
    """User 7 ranked rows 0, 2, 1 (gains 0, 1, 2): NDCG = (1/log2 3 + 2/2) / (2 + 1/log2 3).

    User 9 has equal satisfaction everywhere (ideal DCG 0): NDCG 1. Mean over users; weights
    3 and 2 for the weighted mean.
    """
    model_inputs, truth, groups = hand_case()
    scores = pd.DataFrame(
        {
            "method": "M",
            "seed": [0] * 5,
            "group": groups["group"],
            "row": groups["row"],
            "score": [0.9, 0.1, 0.5, 0.3, 0.2],
        }
    )
    report = truth_agreement(scores, groups, model_inputs, truth, k=10, n_boot=10)
    user7 = (1 / math.log2(3) + 1.0) / (2.0 + 1 / math.log2(3))  # 0.61987
    entry = report["methods"]["M"]["metrics"]["SAT_NDCG@10"]
    assert entry["mean"] == pytest.approx((user7 + 1.0) / 2)
    assert entry["weighted_mean"] == pytest.approx((3 * user7 + 2 * 1.0) / 5)
    assert math.isnan(entry["mean_std"]) and entry["n_seeds"] == 1
    assert report["n_users"] == 2 and report["repeated_truth_keys"] == 1
    top1 = truth_agreement(scores, groups, model_inputs, truth, k=1, n_boot=10)
    assert top1["methods"]["M"]["metrics"]["SAT_NDCG@1"]["mean"] == pytest.approx(0.5)


def test_truth_agreement_errors() -> None:
    model_inputs, truth, groups = hand_case()
    scores = pd.DataFrame(
        {"method": "M", "seed": 0, "group": groups["group"], "row": groups["row"], "score": 0.5}
    )
    with pytest.raises(ValueError, match=r"no truth_interactions row.*\[1\]"):
        truth_agreement(scores, groups, model_inputs, truth[truth["video_id"] != 2])
    with pytest.raises(KeyError, match="satisfaction"):
        truth_agreement(scores, groups, model_inputs, truth.drop(columns="satisfaction"))
    with pytest.raises(ValueError, match="do not follow the eval groups"):
        truth_agreement(scores.iloc[::-1], groups, model_inputs, truth)


# ---------------------------------------------------------------- summaries and leaderboard


def test_summarise_seeds_by_hand() -> None:
    """Two seeds, two users: per-seed means 0.5 and 0.7; the interval is over user means."""
    per_user = np.array([[0.2, 0.8], [0.6, 0.8]])  # [S, G]
    reports = [
        {"M": {"mean": 0.5, "weighted_mean": 0.5, "n_users": 2}},
        {"M": {"mean": 0.7, "weighted_mean": 0.7, "n_users": 2}},
    ]
    summary = summarise_seeds(
        reports, {"M": per_user}, np.array([1.0, 1.0]), n_boot=200, level=0.95, bootstrap_seed=0
    )["M"]
    assert summary["mean"] == pytest.approx(0.6)
    assert summary["mean_std"] == pytest.approx(math.sqrt(0.02))  # std of (0.5, 0.7), ddof 1
    # seed-averaged users: 0.4 and 0.8; bootstrap means lie in [0.4, 0.8]
    assert 0.4 <= summary["ci_low"] <= 0.6 <= summary["ci_high"] <= 0.8
    assert summary["n_users"] == 2 and summary["n_seeds"] == 2
    with pytest.raises(ValueError, match="2 seeds"):
        summarise_seeds(reports, {"M": per_user[:1]}, np.ones(2), n_boot=5, level=0.9,
                        bootstrap_seed=0)  # fmt: skip


def summary(mean: float, std: float, low: float, high: float) -> dict[str, float]:
    return {"mean": mean, "mean_std": std, "ci_low": low, "ci_high": high}


def auc(value: float, std: float) -> dict[str, float]:
    return {"value": value, "value_std": std}


def test_leaderboard_markdown() -> None:
    report = {
        "split": "test",
        "k": 10,
        "level": 0.95,
        "seeds": [0, 1],
        "n_users": 1234,
        "n_interactions": 56789,
        "methods": {
            "WT": {
                "kind": "rule",
                "metrics": {
                    "NWTG@10": summary(0.51234, 0.00123, 0.5, 0.52),
                    "DS@10": summary(100.456, 2.5, 95.0, 105.0),
                    "NEG@10": summary(0.7, 0.01, 0.69, 0.71),
                    "AUC_EF": auc(0.6, 0.01),
                    "AUC_long_view": auc(0.55, math.nan),
                },
            },
            "EF": {
                "kind": "rule",
                "metrics": {
                    "NWTG@10": summary(0.4, 0.02, 0.39, 0.41),
                    "DS@10": summary(110.0, 1.0, 100.0, 120.0),
                    "NEG@10": summary(0.75, 0.01, 0.74, 0.76),
                    "AUC_EF": auc(0.7, 0.02),
                    "AUC_long_view": auc(0.5, 0.0),
                },
            },
            "random": {
                "kind": "floor",
                "metrics": {
                    "NWTG@10": summary(0.9, 0.0, 0.8, 1.0),  # never bolded
                    "DS@10": summary(90.0, 1.0, 80.0, 100.0),
                    "NEG@10": summary(0.6, 0.01, 0.59, 0.61),
                    "AUC_EF": auc(0.5, 0.01),
                    "AUC_long_view": auc(0.5, 0.01),
                },
            },
        },
    }
    text = leaderboard_markdown(report, title="Board")
    lines = text.splitlines()
    assert lines[0] == "# Board: test split"
    assert "2 seed(s) (0, 1); 1,234 users, 56,789 interactions" in lines[2]
    assert lines[4] == "| Method | NWTG@10 | DS@10 | NEG@10 | AUC EF | AUC long view |"
    assert lines[5] == "|---|---|---|---|---|---|"
    assert lines[6] == (
        "| WT | **0.5123 ± 0.0012 [0.5000, 0.5200]** | 100.46 ± 2.50 [95.00, 105.00] | "
        "0.7000 ± 0.0100 [0.6900, 0.7100] | 0.600 ± 0.010 | 0.550 |"
    )
    assert lines[7].startswith("| EF | 0.4000 ± 0.0200 [0.3900, 0.4100] | **110.00 ± 1.00")
    assert "**0.7500 ± 0.0100 [0.7400, 0.7600]**" in lines[7]
    assert lines[8].startswith("| random | 0.9000 ± 0.0000 [0.8000, 1.0000] |")
    assert "**" not in lines[8]
    assert lines[-1] == (
        "Not beaten on NWTG@10, DS@10 and NEG@10 at once by another trained method (means): "
        "WT, EF."
    )
    truth = {
        "metric": "SAT_NDCG@10",
        "gain": "latent satisfaction",
        "methods": {
            "WT": {"metrics": {"SAT_NDCG@10": summary(0.8, 0.01, 0.79, 0.81)}},
            "EF": {"metrics": {"SAT_NDCG@10": summary(0.7, 0.01, 0.69, 0.71)}},
            "random": {"metrics": {"SAT_NDCG@10": summary(0.6, 0.01, 0.59, 0.61)}},
        },
    }
    with_truth = leaderboard_markdown(report, truth).splitlines()
    assert with_truth[4].endswith("| AUC long view | SAT NDCG@10 |")
    assert with_truth[6].endswith("| **0.8000 ± 0.0100 [0.7900, 0.8100]** |")
    assert with_truth[-1] == "SAT_NDCG@10: latent satisfaction."


def test_undominated_by_hand() -> None:
    """C is beaten by A on all three; B ties A on DS (not strictly beaten); the floor is ignored."""

    def method(kind: str, nwtg: float, ds: float, neg: float) -> dict:
        return {"kind": kind, "metrics": {
            "NWTG@10": {"mean": nwtg}, "DS@10": {"mean": ds}, "NEG@10": {"mean": neg}}}

    report = {"k": 10, "methods": {
        "A": method("rule", 0.5, 100.0, 0.7),
        "B": method("labelcraft", 0.4, 100.0, 0.6),
        "C": method("rule", 0.45, 90.0, 0.65),
        "random": method("floor", 0.9, 200.0, 0.9),
    }}
    assert undominated(report) == ["A", "B"]


def test_seed_runs_match_the_reports_and_histories(experiment) -> None:
    """One run per method x seed: history, final metrics, seed-0 weights; the floor too."""
    _, result, _ = experiment
    assert [(run.method, run.seed) for run in result.seed_runs] == [
        (method, seed) for method in (*ALL_METHODS, RANDOM) for seed in (0, 1)
    ]
    for run in result.seed_runs:
        index = run.seed  # seeds (0, 1)
        for split, report in (("valid", result.valid_metrics), ("test", result.test_metrics)):
            assert run.final[split] == report["methods"][run.method]["per_seed"][index]["metrics"]
        if run.method == RANDOM:
            assert (run.backbone, run.history, run.state_dicts, run.best_epoch) == (
                RANDOM, [], {}, 0)
            continue
        rows = result.histories[
            (result.histories["method"] == run.method) & (result.histories["seed"] == run.seed)
        ]
        assert [entry["epoch"] for entry in run.history] == rows["epoch"].tolist()
        assert run.best_epoch == int(rows.loc[rows["best"], "epoch"].iloc[0])
        assert run.backbone == "din"
        assert set(run.state_dicts) == ({"model"} if run.seed == 0 else set())
    weights = result.seed_runs[0].state_dicts["model"]
    assert weights and all(value.requires_grad is False for value in weights.values())
