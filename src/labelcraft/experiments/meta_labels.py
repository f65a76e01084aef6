"""The LabelCraft rows of the comparison: meta-learned labels on the rules' recommender.

LabelCraft (``labelcraft.meta.training.train_labelcraft``) is trained for every seed of the
rule comparison's `ExperimentConfig` (same backbone and model parameters, same split, same
validation and test users, same bootstrap), with the rule trainer's settings unless the
``labelcraft.trainer`` parameters override some of them. Ablations are extra rows
"LabelCraft w/o <part>", each the main configuration with one part removed (`ABLATIONS`).
Its reports have the layout of `split_report`, so they merge with the rules' reports
(`merge_reports`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from labelcraft.experiments.config import LABELCRAFT, ExperimentConfig
from labelcraft.experiments.data import ComparisonData
from labelcraft.experiments.rules import (
    SeedRunCallback,
    history_table_rows,
    long_scores,
    seed_runs,
    split_report,
    warn_if_collapsed,
)
from labelcraft.meta.training import LabelCraftConfig, train_labelcraft
from labelcraft.training import score_groups, state_copy, torch_threads

logger = logging.getLogger(__name__)

INPUT_ABLATIONS: dict[str, tuple[str, ...]] = {
    "WI": ("play_time_s",),
    "DI": ("duration_s",),
    "EI": ("like", "follow", "comment"),
}
"""The paper's input ablations: the labeler inputs each one removes."""
OBJECTIVE_ABLATIONS: dict[str, str] = {
    "WO": "usage_time",
    "EO": "engagement",
    "DO": "duration_spread",
}
"""The paper's objective ablations: the upper objective each one disables."""
ABLATIONS: tuple[str, ...] = (
    "meta", "balancing", "scaling", *INPUT_ABLATIONS, *OBJECTIVE_ABLATIONS)
"""meta: no meta-learning (the labeler keeps its initial weights: the warm start's, or its seeded
random ones without one; the control);
balancing: equal objective weights (tau = 0); scaling: raw labeler inputs; the others above."""
LABEL_COLUMNS = ("user_id", "video_id", "time_ms")  # keys of a train interaction


def ablate(config: LabelCraftConfig, part: str) -> LabelCraftConfig:
    """``config`` without ``part`` (one of `ABLATIONS`).

    A ValueError when the part is unknown or already absent (an input not among the labeler's
    inputs, an objective not enabled), so an ablation row never silently equals the full run.
    """
    meta, labeler = config.meta, config.labeler
    if part == "meta":
        return dataclasses.replace(config, label_optimizer="none")
    if part == "balancing":
        return dataclasses.replace(config, meta=dataclasses.replace(meta, tau=0.0))
    if part == "scaling":
        return dataclasses.replace(config, labeler=dataclasses.replace(labeler, scaling="raw"))
    if part in INPUT_ABLATIONS:
        kept = tuple(name for name in labeler.inputs if name not in INPUT_ABLATIONS[part])
        if len(kept) == len(labeler.inputs):
            raise ValueError(f"ablation {part!r} removes {list(INPUT_ABLATIONS[part])}, but the "
                             f"labeler inputs {list(labeler.inputs)} hold none of them")
        return dataclasses.replace(config, labeler=dataclasses.replace(labeler, inputs=kept))
    if part in OBJECTIVE_ABLATIONS:
        removed = OBJECTIVE_ABLATIONS[part]
        if removed not in meta.objectives:
            raise ValueError(f"ablation {part!r} disables {removed!r}, which is not among the "
                             f"enabled objectives {list(meta.objectives)}")
        kept = tuple(name for name in meta.objectives if name != removed)
        return dataclasses.replace(config, meta=dataclasses.replace(meta, objectives=kept))
    raise ValueError(f"unknown ablation {part!r}; known: {', '.join(ABLATIONS)}")


@dataclass(frozen=True)
class LabelCraftExperimentConfig:
    """The main LabelCraft configuration and the ablation rows to train beside it."""

    labelcraft: LabelCraftConfig
    ablations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the ablations (known, distinct, applicable) by building every variant."""
        object.__setattr__(self, "ablations", tuple(self.ablations))
        if len(set(self.ablations)) != len(self.ablations):
            raise ValueError(f"ablations must not repeat: {list(self.ablations)}")
        self.variants()

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any] | None, comparison: ExperimentConfig
    ) -> LabelCraftExperimentConfig:
        """From the ``labelcraft`` parameters and the rule comparison they share settings with.

        ``trainer`` holds overrides of ``comparison.trainer``; ``meta.loss`` and ``meta.k``
        default to the trainer's loss and k; ``ablations`` lists parts of `ABLATIONS` (a list,
        a string of names separated by spaces, or "all"); the other keys are `LabelCraftConfig`
        fields. Unknown keys raise a ValueError.
        """
        params = dict(params or {})
        ablations = params.pop("ablations", None) or ()
        if isinstance(ablations, str):  # from the command line, where commas split --params
            ablations = ABLATIONS if ablations.strip() == "all" else ablations.split()
        trainer = {**dataclasses.asdict(comparison.trainer), **(params.pop("trainer", None) or {})}
        meta = {"loss": trainer["loss"], "k": trainer["k"], **(params.pop("meta", None) or {})}
        config = LabelCraftConfig.from_dict({**params, "meta": meta, "trainer": trainer})
        return cls(labelcraft=config, ablations=tuple(ablations))

    def variants(self) -> dict[str, LabelCraftConfig]:
        """Row name -> configuration: "LabelCraft" first, then "LabelCraft w/o <part>"."""
        return {
            LABELCRAFT: self.labelcraft,
            **{
                f"{LABELCRAFT} w/o {part}": ablate(self.labelcraft, part)
                for part in self.ablations
            },
        }


@dataclass
class LabelCraftExperiment:
    """Outputs of `run_labelcraft_experiment`.

    valid_metrics / test_metrics / histories / test_scores: as `RuleExperiment`'s, for the
    LabelCraft rows; histories add the meta-step columns (`LabelCraftResult.history`) and an
    epoch-0 row per seed with the untrained model's validation metrics and soft objectives, so
    the rise of the validation objective shows from its start.
    labels: one row per train interaction (``row`` of model_inputs, user_id, video_id, time_ms,
    ``label``) from the main row's first-seed labeler; labeler: that labeler's artifact
    (`Labeler.to_artifact`).
    """

    valid_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    histories: pd.DataFrame
    test_scores: pd.DataFrame
    labels: pd.DataFrame
    labeler: dict[str, Any]


def run_labelcraft_experiment(
    model_inputs: pd.DataFrame,
    feedback: pd.DataFrame,
    eval_groups_valid: pd.DataFrame,
    eval_groups_test: pd.DataFrame,
    feature_spec: Mapping[str, Any],
    comparison: ExperimentConfig,
    config: LabelCraftExperimentConfig,
    on_seed_run: SeedRunCallback | None = None,
) -> LabelCraftExperiment:
    """Meta-train every LabelCraft row for every seed of ``comparison``; evaluate valid and test.

    Runs with the main row's ``trainer.num_threads`` torch threads. ``on_seed_run`` receives one
    `SeedRun` per row and seed (first seed: recommender and labeler weights).
    """
    data = ComparisonData.from_frames(
        model_inputs, feedback, eval_groups_valid, eval_groups_test, feature_spec
    )
    variants = {
        name: dataclasses.replace(
            variant, trainer=variant.trainer.resolve_history_length(data.history_length)
        )
        for name, variant in config.variants().items()
    }
    main = variants[LABELCRAFT]
    scores: dict[str, dict[str, list[torch.Tensor]]] = {"valid": {}, "test": {}}
    best_epochs: dict[str, list[int]] = {}
    histories: dict[tuple[str, int], list[dict[str, float | int]]] = {}
    states: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
    history_rows: list[dict[str, Any]] = []
    labels, artifact = pd.DataFrame(), {}
    logger.info("LabelCraft: %d row(s) x %d seeds, %d train rows, meta step every %d batch(es), "
                "upper gradient every %d meta step(s)", len(variants), len(comparison.seeds),
                len(data.train_rows), main.meta_every, main.upper_every)
    progress = tqdm(total=len(variants) * len(comparison.seeds), desc="LabelCraft rows x seeds")
    with torch_threads(main.trainer.num_threads):
        for name, variant in variants.items():
            for split in scores.values():
                split[name] = []
            best_epochs[name] = []
            for seed in comparison.seeds:
                result = train_labelcraft(
                    data.tensors, data.train_rows, data.valid, model_name=comparison.model,
                    model_params=comparison.model_params, spec=data.spec, config=variant,
                    seed=seed, description=f"{name} seed {seed}",
                    rule_params=comparison.rule_params,
                )
                test_scores = score_groups(
                    result.model, data.tensors, data.test.groups, variant.trainer.history_length,
                    batch_users=variant.trainer.eval_batch_users,
                )
                warn_if_collapsed(name, seed, test_scores, data.test.groups.mask)
                scores["valid"][name].append(result.best_scores)
                scores["test"][name].append(test_scores)
                best_epochs[name].append(result.best_epoch)
                history = [{"epoch": 0, **result.start}, *result.history]
                histories[name, seed] = history
                history_rows += history_table_rows(name, seed, history, result.best_epoch)
                if seed == comparison.seeds[0]:
                    states[name] = {"model": state_copy(result.model),
                                    "labeler": state_copy(result.labeler)}
                    if name == LABELCRAFT:
                        labels = _label_frame(model_inputs, result.train_rows, result.labels)
                        artifact = result.labeler.to_artifact()
                progress.update()
    progress.close()
    used = dataclasses.replace(comparison, trainer=main.trainer)
    valid_metrics = split_report("valid", data.valid, scores["valid"], best_epochs, used)
    test_metrics = split_report("test", data.test, scores["test"], best_epochs, used)
    if on_seed_run is not None:
        for run in seed_runs(valid_metrics, test_metrics, histories, states, used):
            on_seed_run(run)
    return LabelCraftExperiment(
        valid_metrics=valid_metrics,
        test_metrics=test_metrics,
        histories=pd.DataFrame(history_rows),
        test_scores=long_scores(data.test, scores["test"], comparison.seeds),
        labels=labels,
        labeler=artifact,
    )


def _label_frame(model_inputs: pd.DataFrame, rows: torch.Tensor,
                 labels: torch.Tensor) -> pd.DataFrame:
    """``row``, the interaction keys and ``label`` of train ``rows [T]`` with ``labels [T]``."""
    index = rows.numpy()
    keys = model_inputs.iloc[index][list(LABEL_COLUMNS)].reset_index(drop=True)
    return pd.DataFrame({"row": index, **{c: keys[c] for c in LABEL_COLUMNS},
                         "label": labels.numpy()})


def merge_reports(*reports: Mapping[str, Any]) -> dict[str, Any]:
    """One `split_report` with the methods of all ``reports``, the random floor last.

    The reports must come from the same split, users, k, seeds and bootstrap settings, else a
    ValueError names the first field that differs; a method in two reports is an error too.
    """
    first = reports[0]
    for report in reports[1:]:
        for key in ("split", "k", "level", "n_boot", "seeds", "n_users", "n_interactions"):
            if report[key] != first[key]:
                raise ValueError(f"cannot merge reports with different {key!r}: "
                                 f"{first[key]!r} vs {report[key]!r}")
    methods: dict[str, Any] = {}
    for report in reports:
        repeated = sorted(set(methods) & set(report["methods"]))
        if repeated:
            raise ValueError(f"method(s) {repeated} appear in more than one report")
        methods |= report["methods"]
    floor = {name: entry for name, entry in methods.items() if entry["kind"] == "floor"}
    ordered = {name: entry for name, entry in methods.items() if name not in floor} | floor
    return {**first, "methods": ordered}
