"""Strict reading and validation of KuaiRand raw CSV files (no Kedro imports)."""
