"""Configuration environments are deltas over conf/base (soft merge of parameters)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kedro.config import OmegaConfigLoader

from labelcraft import settings
from labelcraft.experiments import GridConfig, LabelCraftVariants
from labelcraft.models import MODEL_REGISTRY
from labelcraft.recommender import TrainConfig

CONF = Path(__file__).resolve().parents[1] / "conf"


def parameters(env: str) -> dict:
    args = {key: value for key, value in settings.CONFIG_LOADER_ARGS.items()
            if key not in ("base_env", "default_run_env")}
    return OmegaConfigLoader(str(CONF), base_env="base", default_run_env=env, **args)["parameters"]


def test_benchmark_environment_changes_only_the_budget() -> None:
    base, benchmark = parameters("local"), parameters("benchmark")
    assert (benchmark["trainer"]["max_epochs"], benchmark["trainer"]["patience"]) == (20, 3)
    assert benchmark["trainer"] == {**base["trainer"], "max_epochs": 20, "patience": 3}
    for key in ("comparison", "backbones", "label_rules", "evaluation", "runtime"):
        assert benchmark[key] == base[key], key
    assert benchmark["labelcraft"] == {**base["labelcraft"], "upper_every": 32}
    assert base["labelcraft"]["upper_every"] == 64  # the quick demo refreshes half as often
    trainer = TrainConfig.from_dict(benchmark["trainer"])
    main = LabelCraftVariants.from_params(benchmark["labelcraft"], trainer).labelcraft
    # LabelCraft inherits the rules' budget and runs the paper's schedule
    assert (main.trainer.max_epochs, main.trainer.patience) == (20, 3)
    assert (main.meta_every, main.upper_every, main.warm_start) == (1, 32, "WT")


def test_test_environment_is_a_delta_too() -> None:
    base, test = parameters("local"), parameters("test")
    assert GridConfig.from_dict(test["comparison"]).seeds == (0,)
    # keys the test environment does not set come from conf/base
    assert test["labelcraft"]["meta"]["objective_set"] == "metrics"
    assert test["label_rules"] == base["label_rules"]
    assert test["trainer"]["eval_metric"] == base["trainer"]["eval_metric"]


def test_zoo_environment_lists_every_backbone_with_valid_parameters() -> None:
    """conf/zoo: at least five backbones, each registered, its parameters and its search
    space made of the config's own fields; conf/base keeps DIN alone (the quick demo)."""
    base, zoo = parameters("local"), parameters("zoo")
    assert GridConfig.from_dict(base["comparison"]).backbones == ("din",)
    backbones = GridConfig.from_dict(zoo["comparison"]).backbones
    assert len(backbones) >= 5 and set(backbones) <= set(MODEL_REGISTRY)
    for name in backbones:
        fields = {field.name for field in dataclasses.fields(MODEL_REGISTRY[name].config_class)}
        assert set(zoo["backbones"][name]) <= fields, name
        assert set(zoo["tuning"][name]) <= fields, name
    assert zoo["trainer"] == base["trainer"]  # the default budget
    assert "author" in zoo["features"]["fields"] and "author" not in base["features"]["fields"]
