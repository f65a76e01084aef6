"""Throughput and peak memory of ingestion + features (the path `kedro run` takes).

Cases, each in a fresh child process so its peak RSS is its own:
- ``real``: the KuaiRand slice in ``$KUAIRAND_DIR`` (default: the shared slice);
- ``sim10x``: a simulated log about 10x the slice (``--sim-users`` users, 14 days), written to a
  temporary folder in KuaiRand format first (the simulation is timed apart).

Stages timed: read (strict CSV reader behind the catalog's KuaiRandCSVDataset), ingest
(typing, validation, join), features (split, vocabularies, timelines, feedback, eval groups).

    python benchmarks/bench_ingest_features.py [--cases real sim10x] [--sim-users 30000]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from labelcraft.datasets import KuaiRandCSVDataset
from labelcraft.datasets.strict_json import strict_json
from labelcraft.features.build import FeatureParams, build_features
from labelcraft.kuairand.schema import LOG_PATTERN, USER_PATTERN, VIDEO_PATTERN
from labelcraft.kuairand.validation import ingest
from labelcraft.simulator import SimulationConfig, simulate

logger = logging.getLogger("bench_ingest_features")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KUAIRAND_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "kuairand-pure-slice"


def _datasets(directory: Path) -> dict[str, KuaiRandCSVDataset]:
    return {
        "log": KuaiRandCSVDataset(str(directory), LOG_PATTERN, "log", "log_standard_bench.csv"),
        "video": KuaiRandCSVDataset(
            str(directory), VIDEO_PATTERN, "video", "video_features_basic_bench.csv"
        ),
        "user": KuaiRandCSVDataset(str(directory), USER_PATTERN, "user", "user_features_bench.csv"),
    }


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ingest_and_build(directory: Path) -> dict[str, Any]:
    """Read, ingest and build features from ``directory``; seconds per stage and row counts."""
    datasets = _datasets(directory)
    start = time.perf_counter()
    raw_logs = datasets["log"].load()
    raw_videos = datasets["video"].load()
    datasets["user"].load()
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    interactions, rejected, _ = ingest(raw_logs, raw_videos)
    ingest_s = time.perf_counter() - start
    del raw_logs
    start = time.perf_counter()
    build_features(interactions, FeatureParams())
    features_s = time.perf_counter() - start
    rows = len(interactions) + len(rejected)
    total_s = read_s + ingest_s + features_s
    return {
        "input_rows": rows,
        "read_s": round(read_s, 2),
        "ingest_s": round(ingest_s, 2),
        "features_s": round(features_s, 2),
        "total_s": round(total_s, 2),
        "rows_per_s": round(rows / total_s),
    }


def _case(name: str, sim_users: int, queue: mp.Queue) -> None:
    baseline = _peak_rss_mib()
    result: dict[str, Any] = {"case": name}
    if name == "real":
        result.update(_ingest_and_build(Path(os.environ.get("KUAIRAND_DIR", DEFAULT_KUAIRAND_DIR))))
    else:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            data = simulate(SimulationConfig.from_dict({"n_users": sim_users, "n_days": 14}))
            datasets = _datasets(Path(folder))
            datasets["log"].save(data.logs)
            datasets["video"].save(data.videos)
            datasets["user"].save(data.users)
            result["simulate_and_write_s"] = round(time.perf_counter() - start, 2)
            del data
            result.update(_ingest_and_build(Path(folder)))
    result["peak_rss_mib"] = round(_peak_rss_mib())
    result["rss_after_imports_mib"] = round(baseline)
    queue.put(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["real", "sim10x"])
    parser.add_argument("--sim-users", type=int, default=30_000)
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    context = mp.get_context("spawn")
    results = []
    for name in args.cases:
        queue: mp.Queue = context.Queue()
        child = context.Process(target=_case, args=(name, args.sim_users, queue))
        child.start()
        results.append(queue.get())
        child.join()
        logger.info(strict_json(results[-1]))
    header = "| case | input rows | read s | ingest s | features s | rows/s | peak RSS MiB |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [
        f"| {r['case']} | {r['input_rows']:,} | {r['read_s']} | {r['ingest_s']} | "
        f"{r['features_s']} | {r['rows_per_s']:,} | {r['peak_rss_mib']:,} |"
        for r in results
    ]
    logger.info("\n".join(lines))
    if args.output:
        args.output.write_text(strict_json(results, indent=2))


if __name__ == "__main__":
    main()
