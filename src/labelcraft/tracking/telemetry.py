"""Nothing leaves the machine: the project opts out of MLflow's anonymous usage data.

MLflow (3.2 and later) sends usage events unless ``MLFLOW_DISABLE_TELEMETRY`` (or
``DO_NOT_TRACK``) is true, and decides when ``mlflow`` is imported, which the Kedro CLI does
(kedro-mlflow) before the project's settings are read. `opt_out_of_mlflow_telemetry`, called
first thing in ``settings.py`` (so by ``kedro run``, ``kedro mlflow ui``, ``kedro viz`` and
the notebook's ``bootstrap_project``), sets the variable, for this process and the processes
it starts (``mlflow ui``), and drops a client MLflow already created. A user who sets
``MLFLOW_DISABLE_TELEMETRY=false`` keeps that choice.
"""

from __future__ import annotations

import os

from mlflow.telemetry import set_telemetry_client

OPT_OUT = "MLFLOW_DISABLE_TELEMETRY"


def opt_out_of_mlflow_telemetry() -> None:
    """Set ``MLFLOW_DISABLE_TELEMETRY=true`` unless already set, then re-initialise MLflow's
    telemetry client (None once disabled)."""
    os.environ.setdefault(OPT_OUT, "true")
    set_telemetry_client()
