"""The comparison grid: one modular pipeline per data source, backbone and label method.

A cell ``<source>.<backbone>.<method>`` (``kuairand.din.wt_ef``) is the template of its kind
reused by namespace, as Kedro's starters reuse a modelling pipeline: rules ``fit_labels ->
train -> evaluate``; LabelCraft and its ablations ``train`` (meta-training) ``-> evaluate``;
the random floor ``train`` (its draw) ``-> evaluate``; LabelCraft's main cell also
``register_labeler`` (an MLflow model in the registry); a multi-objective variant ``train``
(on the raw signals, one head per task; also ``.task_predictions``) ``-> evaluate``; every
cell also writes its
reproducibility card (``write_run_card``). Cells read the features stage's datasets
of their source and write their own (``<namespace>.valid_scores``, ``.test_scores``,
``.history``, ``.weights``, ``.valid_report``, ``.test_report``, ``.run_card``; LabelCraft
``.labels`` and ``.labeler`` too); the reporting stage merges them. The cells come from the
parameters (`cells_from_parameters`): ``comparison`` (backbones, methods),
``labelcraft.ablations`` and ``multi_objective.variants``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, pipeline

from labelcraft.experiments import (
    LABELCRAFT,
    Cell,
    GridConfig,
    LabelCraftVariants,
    grid_cells,
)
from labelcraft.multiobjective.objective import MultiObjectiveConfig
from labelcraft.pipelines.comparison.nodes import (
    draw_random_scores,
    evaluate,
    fit_labels,
    meta_train,
    register_labeler,
    train_multi_objective,
    train_recommenders,
    write_run_card,
)
from labelcraft.pipelines.run_parameters import pipeline_parameters
from labelcraft.recommender import TrainConfig
from labelcraft.sources import SOURCES

STAGE = "comparison"
SOURCE_DATA = ("model_inputs", "feedback", "eval_groups_valid", "eval_groups_test",
               "feature_spec")
"""The features stage's datasets a cell reads (``<source>.<name>``)."""
EVAL_INPUTS = ["valid_scores", "test_scores", "eval_groups_valid", "eval_groups_test", "feedback",
               "params:trainer", "params:evaluation", "params:comparison"]
TRAIN_DATA = ["model_inputs", "feedback", "eval_groups_valid", "eval_groups_test",
              "feature_spec"]


def cells_from_parameters(parameters: Mapping[str, Any]) -> list[Cell]:
    """The grid's cells of ``parameters`` (``comparison``, ``trainer``, ``labelcraft``,
    ``multi_objective``)."""
    grid = GridConfig.from_dict(parameters.get("comparison"))
    trainer = TrainConfig.from_dict(parameters.get("trainer"))
    rows = LabelCraftVariants.from_params(parameters.get("labelcraft"), trainer).variants()
    variants = MultiObjectiveConfig.from_dict(parameters.get("multi_objective")).variants
    return grid_cells(grid, list(rows), [(v.backbone, v.name) for v in variants])


def _bound(func: Callable[..., Any], **bound: str) -> Callable[..., Any]:
    """``func`` with keyword arguments bound, keeping its name and docstring for Kedro-Viz."""
    return update_wrapper(partial(func, **bound), func)


def cell_template(cell: Cell, source: str, several_backbones: bool = False) -> Pipeline:
    """The nodes of one cell, with dataset names local to the cell (see module doc); its MLflow
    child runs are named with `Cell.report_name`."""
    names = {"method": cell.method}
    backbone = f"params:backbones.{cell.backbone}"
    evaluated = {"source": source, "backbone": cell.backbone,
                 "run_label": cell.report_name(several_backbones), **names}
    if cell.kind == "floor":
        return Pipeline([
            Node(draw_random_scores, ["eval_groups_valid", "eval_groups_test", "feedback",
                                      "params:comparison"],
                 ["valid_scores", "test_scores"], name="train"),
            Node(_bound(evaluate, **evaluated), EVAL_INPUTS, ["valid_report", "test_report"],
                 name="evaluate"),
            _run_card_node(cell, []),
        ])
    if cell.kind == "multi_objective":
        return Pipeline([
            Node(_bound(train_multi_objective, backbone=cell.backbone, **names),
                 [*TRAIN_DATA, backbone, "params:trainer", "params:comparison",
                  "params:multi_objective"],
                 ["valid_scores", "test_scores", "history", "weights", "task_predictions"],
                 name="train"),
            Node(_bound(evaluate, **evaluated),
                 [*EVAL_INPUTS, "history", "weights", "task_predictions"],
                 ["valid_report", "test_report"], name="evaluate"),
            _run_card_node(cell, ["history", "params:multi_objective"]),
        ])
    if cell.kind == "labelcraft":
        train = Node(
            _bound(meta_train, backbone=cell.backbone, **names),
            [*TRAIN_DATA, backbone, "params:trainer", "params:comparison",
             "params:labelcraft", "params:label_rules"],
            ["valid_scores", "test_scores", "history", "weights", "labels", "labeler"],
            name="train")
        nodes = [train]
        if cell.method == LABELCRAFT:
            nodes.append(Node(_bound(register_labeler, source=source, backbone=cell.backbone),
                              "labeler", None, name="register_labeler"))
    else:
        nodes = [
            Node(_bound(fit_labels, **names),
                 ["model_inputs", "feedback", "params:label_rules"], "labels", name="fit_labels"),
            Node(_bound(train_recommenders, backbone=cell.backbone, **names),
                 ["labels", *TRAIN_DATA, backbone, "params:trainer", "params:comparison"],
                 ["valid_scores", "test_scores", "history", "weights"], name="train"),
        ]
    nodes.append(Node(_bound(evaluate, **evaluated), [*EVAL_INPUTS, "history", "weights"],
                      ["valid_report", "test_report"], name="evaluate"))
    return Pipeline([*nodes, _run_card_node(cell, ["history"])])


def _run_card_node(cell: Cell, extra: list[str]) -> Node:
    """The cell's reproducibility card from its reports (and history)."""
    return Node(_bound(write_run_card, method=cell.method, backbone=cell.backbone),
                ["valid_report", "test_report", "feature_spec", f"params:backbones.{cell.backbone}",
                 "params:trainer", "params:label_rules", "params:labelcraft", *extra],
                "run_card", name="write_run_card")


def cell_pipeline(cell: Cell, source: str, several_backbones: bool = False) -> Pipeline:
    """One cell under its namespace ``<source>.<backbone>.<slug>``, reading the source's
    feature datasets; parameters are shared by every cell."""
    template = cell_template(cell, source, several_backbones)
    params = {name for name in template.inputs() if name.startswith("params:")}
    shared = {name: f"{source}.{name}" for name in SOURCE_DATA if name in template.inputs()}
    return pipeline(template, namespace=cell.namespace(source), inputs=shared,
                    parameters=params, tags=[STAGE, cell.kind])


def create_pipeline(**kwargs) -> Pipeline:
    """Every cell of every source (the cells of the run's parameters)."""
    cells = cells_from_parameters(pipeline_parameters())
    several = len({cell.backbone for cell in cells}) > 1
    return sum((cell_pipeline(cell, source, several) for source in SOURCES for cell in cells),
               Pipeline([]))
