"""The data sources the pipelines are instantiated for, one Kedro namespace each.

A new source (WeChat Channels, KuaiRand-27K) is a name here, a one-line pipeline folder
``pipelines/<source>/`` and its raw-data entries in ``conf/base/catalog.yml``; if its files are
not in KuaiRand format, an adapter node too.
"""

SIMULATED = "simulated"
KUAIRAND = "kuairand"
SOURCES: tuple[str, ...] = (SIMULATED, KUAIRAND)

STAGES: tuple[str, ...] = (
    "simulation", "ingestion", "features", "comparison", "reporting"
)
"""Stage pipelines (folders under ``labelcraft/pipelines``), in data-flow order."""
