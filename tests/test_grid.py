"""The comparison grid: cells from the parameters, the cell templates and their datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, DatasetError
from kedro.runner import SequentialRunner

from labelcraft import settings
from labelcraft.datasets import TorchStatesDataset
from labelcraft.experiments import (
    ALL_METHODS,
    LABELCRAFT,
    RANDOM,
    RESULT_COLUMNS,
    Cell,
    GridConfig,
    floor_scores,
    grid_cells,
    long_scores,
    matrix_markdown,
    method_slug,
    scores_from_table,
    tidy_results,
)
from labelcraft.pipelines import run_parameters
from labelcraft.pipelines.comparison.pipeline import cell_pipeline, cells_from_parameters
from labelcraft.recommender import EvalSet
from tests.grid_runs import SOURCE, TINY_PARAMETERS, grid_catalog, grid_slice, run_grid
from tests.synthetic_features import tiny_features

CONF = Path(__file__).resolve().parents[1] / "conf"


# ---------------------------------------------------------------- cells


def test_slugs_and_the_order_of_cells() -> None:
    assert [method_slug(m) for m in ("WT", "WT+EF", "LabelCraft", "LabelCraft w/o meta",
                                     RANDOM)] == ["wt", "wt_ef", "labelcraft",
                                                  "labelcraft_wo_meta", "random"]
    cells = grid_cells(GridConfig(methods=("WT", "D2Q+EF")), [LABELCRAFT, "LabelCraft w/o DI"])
    assert [cell.namespace("kuairand") for cell in cells] == [
        "kuairand.din.wt", "kuairand.din.d2q_ef", "kuairand.din.labelcraft",
        "kuairand.din.labelcraft_wo_di", "kuairand.din.random"]
    assert [cell.kind for cell in cells] == ["rule", "multi_task", "labelcraft", "labelcraft",
                                             "floor"]
    assert cells[0].report_name(several_backbones=False) == "WT"
    assert cells[0].report_name(several_backbones=True) == "din/WT"
    with pytest.raises(ValueError, match="must include 'LabelCraft'"):
        grid_cells(GridConfig(), ["LabelCraft w/o meta"])


def test_cells_come_from_the_parameters() -> None:
    """conf/base: 9 rules, LabelCraft, its control and the floor; an ablation adds a cell."""
    base = cells_from_parameters(run_parameters._conf_parameters(str(CONF), None))
    assert [cell.method for cell in base] == [*ALL_METHODS, LABELCRAFT, "LabelCraft w/o meta",
                                              RANDOM]
    more = cells_from_parameters({**TINY_PARAMETERS, "comparison": {"methods": ["EF"]},
                                  "labelcraft": {"ablations": ["meta", "DI"]}})
    assert [cell.slug for cell in more] == ["ef", "labelcraft", "labelcraft_wo_meta",
                                            "labelcraft_wo_di", "random"]


def test_the_test_environment_builds_its_own_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a session the pipelines read conf/ in KEDRO_ENV; a run's parameters win, and
    handing other parameters rebuilds the cached pipelines."""
    monkeypatch.setattr(run_parameters, "_RUN", {})
    monkeypatch.chdir(CONF.parent)
    monkeypatch.setenv("KEDRO_ENV", "test")
    test = cells_from_parameters(run_parameters.pipeline_parameters())
    assert LABELCRAFT in [cell.method for cell in test]
    assert "LabelCraft w/o meta" not in [cell.method for cell in test]  # conf/test: no ablations
    run_parameters.use_run_parameters({**TINY_PARAMETERS, "comparison": {"methods": ["WT"]}})
    assert [cell.slug for cell in cells_from_parameters(run_parameters.pipeline_parameters())] \
        == ["wt", "labelcraft", "random"]


# ---------------------------------------------------------------- templates


def test_a_cell_reads_its_source_and_writes_its_namespace() -> None:
    for cell in (Cell("din", "WT+EF"), Cell("din", LABELCRAFT), Cell("din", RANDOM)):
        pipe = cell_pipeline(cell, "kuairand")
        namespace = cell.namespace("kuairand")
        assert {node.namespace for node in pipe.nodes} == {namespace}
        assert all(name.startswith(f"{namespace}.") for name in pipe.all_outputs())
        data = {name for name in pipe.inputs() if not name.startswith("params:")}
        assert data <= {f"kuairand.{name}" for name in
                        ("model_inputs", "feedback", "eval_groups_valid", "eval_groups_test",
                         "feature_spec")}
    rule = {node.name.rsplit(".", 1)[1] for node in cell_pipeline(Cell("din", "WT"), "s").nodes}
    assert rule == {"fit_labels", "train", "evaluate", "write_run_card"}


def test_cells_are_independent_and_seeded() -> None:
    """A cell run alone gives the same scores as inside the grid."""
    features = tiny_features(seed=2)
    cells = [Cell("din", "WT"), Cell("din", "EF"), Cell("din", RANDOM)]
    together = run_grid(features, cells)
    alone = run_grid(features, [Cell("din", "EF")])
    name = f"{SOURCE}.din.ef.test_scores"
    pd.testing.assert_frame_equal(together[name].load(), alone[name].load())
    floor = together[f"{SOURCE}.din.random.test_scores"].load()
    assert set(floor["method"]) == {RANDOM}
    merged = together[f"{SOURCE}.test_metrics"].load()
    assert list(merged["methods"]) == ["WT", "EF", RANDOM]
    assert merged["methods"]["EF"] == together[f"{SOURCE}.din.ef.test_report"].load()[
        "methods"]["EF"]


def test_missing_backbone_parameters_are_named() -> None:
    features = tiny_features(seed=2)
    catalog = grid_catalog(features, {**TINY_PARAMETERS, "backbones": {}})
    with pytest.raises(ValueError, match=r"params:backbones\.din"):
        SequentialRunner().run(grid_slice([Cell("din", "WT")], merge=False), catalog)


# ---------------------------------------------------------------- score tables


def test_score_tables_round_trip_and_reject_other_groups() -> None:
    features = tiny_features(seed=3)
    valid = EvalSet.from_frames(features.eval_groups_valid, features.feedback)
    test = EvalSet.from_frames(features.eval_groups_test, features.feedback)
    valid_table, _ = floor_scores(valid, test, [4, 5])
    again = scores_from_table(valid_table, valid, [4, 5])
    table = long_scores(valid, RANDOM, again, [4, 5])
    pd.testing.assert_frame_equal(table, valid_table)
    assert all(float(scores[~valid.groups.mask].abs().sum()) == 0 for scores in again)
    with pytest.raises(ValueError, match="seed 6"):
        scores_from_table(valid_table, valid, [6])
    with pytest.raises(ValueError, match="real slots"):
        scores_from_table(valid_table, test, [4])


# ---------------------------------------------------------------- datasets


def test_weights_dataset_round_trip_and_refuses_code(tmp_path: Path) -> None:
    dataset = TorchStatesDataset(str(tmp_path / "cell" / "weights.pt"))
    assert not dataset.exists()
    states = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "labeler": {"b": torch.ones(1)}}
    dataset.save(states)
    loaded = dataset.load()
    assert set(loaded) == {"model", "labeler"}
    assert torch.equal(loaded["model"]["w"], states["model"]["w"])
    torch.save({"model": {"w": np.dtype}}, tmp_path / "code.pt")  # a pickled class
    with pytest.raises(DatasetError, match="code.pt"):
        TorchStatesDataset(str(tmp_path / "code.pt")).load()
    with pytest.raises(DatasetError, match="no weights saved yet"):
        TorchStatesDataset(str(tmp_path / "none.pt")).load()
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(DatasetError, match=r"expected \{name: state_dict\}"):
        TorchStatesDataset(str(tmp_path / "list.pt")).load()


def _catalog() -> DataCatalog:
    args = {key: value for key, value in settings.CONFIG_LOADER_ARGS.items()
            if key not in ("base_env", "default_run_env")}
    loader = OmegaConfigLoader(str(CONF), base_env="base", default_run_env="local", **args)
    return DataCatalog.from_config(loader["catalog"])


@pytest.mark.parametrize(("name", "path"), [
    ("kuairand.din.wt.test_scores", "data/07_model_output/kuairand/din/wt/test_scores.parquet"),
    ("kuairand.din.wt.valid_report", "data/07_model_output/kuairand/din/wt/valid_report.json"),
    ("kuairand.din.wt_ef.history", "data/07_model_output/kuairand/din/wt_ef/history.parquet"),
    ("kuairand.din.labelcraft.weights", "data/06_models/kuairand/din/labelcraft/weights.pt"),
    ("simulated.din.labelcraft.labels",
     "data/07_model_output/simulated/din/labelcraft/labels.parquet"),
    ("kuairand.test_scores", "data/07_model_output/kuairand/test_scores.parquet"),
    ("kuairand.test_metrics", "data/08_reporting/kuairand/test_metrics.json"),
])
def test_cell_datasets_resolve_to_their_folders(name: str, path: str) -> None:
    """The cell factories win over the source-level ones (``{source}.test_scores`` would
    otherwise claim ``kuairand.din.wt.test_scores``)."""
    described = str(_catalog().get(name)._describe())
    assert path in described, described


def test_benchmark_tables_by_hand() -> None:
    """Two backbones, two rules and the floor: the tidy rows, the matrix and the rank lines."""
    def entry(backbone: str, method: str, kind: str, mean: float) -> dict:
        seed = {"seed": 0, "metrics": {"NWTG@10": {"mean": mean}, "AUC_EF": {"value": 0.6}}}
        return {"backbone": backbone, "method": method, "kind": kind, "per_seed": [seed],
                "metrics": {"NWTG@10": {"mean": mean, "mean_std": 0.01}}}

    report = {"split": "test", "seeds": [0], "n_users": 5, "methods": {
        "din/WT": entry("din", "WT", "rule", 0.5), "din/EF": entry("din", "EF", "rule", 0.4),
        "din/random": entry("din", RANDOM, "floor", 0.45),
        "dnn/WT": entry("dnn", "WT", "rule", 0.3), "dnn/EF": entry("dnn", "EF", "rule", 0.6),
        "dnn/random": entry("dnn", RANDOM, "floor", 0.45)}}
    tidy = tidy_results([report])
    assert list(tidy.columns) == list(RESULT_COLUMNS) and len(tidy) == 12
    assert tidy.query("backbone == 'dnn' and method == 'EF' and metric == 'NWTG@10'")[
        "value"].item() == 0.6
    text = matrix_markdown(report, "NWTG@10")
    assert "| din | **0.5000 ± 0.0100** | 0.4000 ± 0.0100 | 0.4500 ± 0.0100 |" in text
    assert "| dnn | 0.3000 ± 0.0100 | **0.6000 ± 0.0100** |" in text
    assert "| din | 1 | 2 |" in text and "| dnn | 2 | 1 |" in text
    assert "(1 pairs): mean -1.00" in text


def test_child_runs_name_the_backbone_when_the_grid_has_several() -> None:
    def label(several: bool) -> str:
        pipe = cell_pipeline(Cell("dnn", "WT+EF"), "kuairand", several)
        (node,) = [n for n in pipe.nodes if n.name.endswith(".evaluate")]
        return node.func.keywords["run_label"]

    assert (label(False), label(True)) == ("WT+EF", "dnn/WT+EF")
