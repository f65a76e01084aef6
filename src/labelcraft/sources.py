"""The data sources the pipelines are instantiated for, one Kedro namespace each.

A new source (WeChat Channels, KuaiRand-27K) is a name here, its raw-data entries in
``conf/base/catalog.yml`` and, if its files are not in KuaiRand format, an adapter node.
"""

SIMULATED = "simulated"
KUAIRAND = "kuairand"
SOURCES: tuple[str, ...] = (SIMULATED, KUAIRAND)
