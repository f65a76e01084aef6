"""Kedro project settings.

`oc.env` is enabled in every config file (Kedro allows it only in credentials by default) so
that the catalog can read the real-data directory from ``KUAIRAND_DIR`` and kedro-mlflow can read
``MLFLOW_TRACKING_URI``; both have defaults, so a fresh clone resolves without either variable.
"""

from omegaconf.resolvers import oc

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env},
}
