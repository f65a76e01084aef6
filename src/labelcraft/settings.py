"""Kedro project settings.

`oc.env` is enabled in every config file (Kedro allows it only in credentials by default) so
that the catalog can read the real-data directory from ``KUAIRAND_DIR`` and kedro-mlflow can read
``MLFLOW_TRACKING_URI``; both have defaults, so a fresh clone resolves without either variable.

kedro-mlflow registers its own hook (one MLflow run per ``kedro run``); ``RunTagsHook`` adds the
data-source and git tags to that run. ``RunParametersHook`` builds the pipelines (the grid's
cells) from the run's parameters and sets the torch threads once. ``ProvenanceHook`` records
what every saved dataset was built from and stops a node whose inputs disagree;
``SparkSessionHook`` starts the Spark session of ``--env spark``. MLflow's
anonymous usage data is switched off for every command (`labelcraft.tracking.telemetry`), like
Kedro's by ``.telemetry``.
"""

from labelcraft.tracking.telemetry import opt_out_of_mlflow_telemetry

opt_out_of_mlflow_telemetry()  # before anything else of the project imports mlflow

from omegaconf.resolvers import oc  # noqa: E402

from labelcraft.hooks import RunParametersHook, RunTagsHook, SparkSessionHook  # noqa: E402
from labelcraft.provenance_hook import ProvenanceHook  # noqa: E402

HOOKS = (RunParametersHook(), SparkSessionHook(), RunTagsHook(), ProvenanceHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env},
    # an environment's parameter files are deep deltas over conf/base (conf/benchmark only
    # changes the budget), not replacements of whole top-level keys
    "merge_strategy": {"parameters": "soft"},
    # conf/spark/spark.yml: the Spark session of `--env spark` (labelcraft.hooks.SparkSessionHook)
    "config_patterns": {"spark": ["spark*", "spark*/**"]},
}
