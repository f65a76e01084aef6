"""Ingestion and features on pandas and on Spark: rows/s and peak memory per stage.

For each size (``sim1x`` = 3,000 simulated users over 14 days, about the real slice's 185,061
rows; ``sim10x``; ``sim30x``) the simulator writes KuaiRand-format logs once; then each engine
runs in a fresh child process, in a throw-away copy of the project's configuration with
``KUAIRAND_DIR`` pointing at those logs: the catalog of ``conf/base`` (pandas) or ``conf/spark``
(Spark, the session of ``conf/spark/spark.yml``) loads the raw files, the pipeline's node
functions run, and the catalog saves every output table, as ``kedro run --pipelines kuairand
--tags ingestion,features`` does (without the runner). ``real`` runs the slice in
``$KUAIRAND_DIR``.

Stages: ``ingestion`` (read + validate + join + write interactions and rejected rows; Spark reads
lazily, so reading is part of it) and ``features`` (load interactions + build + write the nine
tables). Memory: the peak resident set of the Python process ("driver") and, apart, of its
child processes (Spark's JVM, which in local mode is driver and executors in one, and its
Python workers), sampled every 0.1 s from /proc (``getrusage`` does not see the JVM); the
children's figure sums their resident sets, so pages the forked Python workers share count more
than once (an upper bound). ``merge_s``: the part of a Spark stage spent on the driver merging
part files into the single table file (`spark.parquet.merge_parts`), a serial step that more
executors do not shorten.

    python benchmarks/bench_engines.py [--cases sim1x sim10x sim30x] [--engines pandas spark]
        [--output results.json]
    python benchmarks/bench_engines.py --from-json first.json rerun.json   # tables only

Then a PROJECTION (`projection`) of the Spark time per stage for KuaiRand-27K's 322,278,385
rows on a cluster of N executors, from a line fitted through the measured sizes.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from labelcraft.datasets import KuaiRandCSVDataset
from labelcraft.datasets.strict_json import strict_json
from labelcraft.kuairand.schema import LOG_PATTERN, USER_PATTERN, VIDEO_PATTERN
from labelcraft.simulator import SimulationConfig, simulate

logger = logging.getLogger("bench_engines")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KUAIRAND_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "kuairand-pure-slice"
SIM_USERS = {"sim1x": 3_000, "sim10x": 30_000, "sim30x": 90_000}
KUAIRAND_27K_ROWS = 322_278_385
"""Interactions of KuaiRand-27K (its paper), the default size of the projection."""
ENVS = {"pandas": None, "spark": "spark"}  # None: conf/base (+ the empty conf/local)
FEATURE_OUTPUTS = ("model_inputs", "feedback", "vocab_users", "vocab_videos", "vocab_tags",
                   "vocab_authors", "duration_buckets", "eval_groups_valid", "eval_groups_test",
                   "feature_spec")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    """Resident bytes of process `pid` (0 once it has gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def _descendants(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return children + [d for child in children for d in _descendants(child)]


class PeakMemory:
    """Samples the RSS of this process and, apart, of its descendants every `interval` s."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.driver, self.children = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.wait(self.interval):
            self.driver = max(self.driver, _rss(pid))
            self.children = max(self.children, sum(_rss(c) for c in _descendants(pid)))

    @contextmanager
    def sampling(self) -> Iterator[PeakMemory]:
        """Peaks over the block (reset at its start)."""
        self.driver = self.children = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _write_logs(folder: Path, users: int) -> dict[str, Any]:
    start = time.perf_counter()
    data = simulate(SimulationConfig.from_dict({"n_users": users, "n_days": 14}))
    for pattern, columns, frame in ((LOG_PATTERN, "log", data.logs),
                                    (VIDEO_PATTERN, "video", data.videos),
                                    (USER_PATTERN, "user", data.users)):
        name = pattern.replace("*", "_bench")
        KuaiRandCSVDataset(str(folder), pattern, columns, name).save(frame)
    return {"users": users, "simulate_and_write_s": round(time.perf_counter() - start, 1)}


def _project_copy(target: Path) -> Path:
    for name in ("conf", "pyproject.toml", ".telemetry"):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("local"))
        else:
            shutil.copy(source, target / name)
    (target / "conf" / "local").mkdir()
    (target / "src").mkdir()
    return target


class MergeSeconds(logging.Handler):
    """Sums the ``merge_s`` of `spark.parquet`'s log records: the driver's part of a write."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.total = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self.total += getattr(record, "merge_s", 0.0)


def _stage(memory: PeakMemory, merges: MergeSeconds, run: Any) -> tuple[Any, dict[str, float]]:
    merges.total = 0.0
    with memory.sampling():
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
    return result, {"s": round(seconds, 2), "merge_s": round(merges.total, 2),
                    "driver_mib": round(memory.driver / 2**20),
                    "children_mib": round(memory.children / 2**20)}


def _engine_case(engine: str, logs: Path, queue: mp.Queue) -> None:
    """One engine on the logs in `logs`, in a temporary project copy (child process)."""
    from kedro.framework.session import KedroSession  # noqa: PLC0415 (after chdir)
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    from labelcraft.pipelines.features.nodes import build_model_inputs  # noqa: PLC0415
    from labelcraft.pipelines.ingestion.nodes import ingest_logs  # noqa: PLC0415

    memory, merges = PeakMemory(), MergeSeconds()
    with tempfile.TemporaryDirectory() as folder:
        project = _project_copy(Path(folder))
        os.chdir(project)
        os.environ["KUAIRAND_DIR"] = str(logs)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
        bootstrap_project(project)
        with memory.sampling():
            start = time.perf_counter()
            session = KedroSession.create(project_path=project, env=ENVS[engine])
            context = session.load_context()  # the Spark env's hook starts the session here
            startup = {"s": round(time.perf_counter() - start, 2)}
        catalog, params = context.catalog, context.params["features"]
        merge_logger = logging.getLogger("labelcraft.spark.parquet")  # after Kedro's logging
        merge_logger.setLevel(logging.INFO)
        merge_logger.addHandler(merges)

        def ingestion() -> int:
            raw = [catalog.load(f"kuairand.raw_{name}") for name in ("logs", "videos", "users")]
            interactions, rejected, report = ingest_logs(*raw)
            catalog.save("kuairand.interactions", interactions)
            catalog.save("kuairand.rejected_rows", rejected)
            return report["input_rows"]

        def features() -> None:
            outputs = build_model_inputs(catalog.load("kuairand.interactions"), params)
            for name, table in zip(FEATURE_OUTPUTS[:-1], outputs[:-1], strict=True):
                catalog.save(f"kuairand.{name}", table)

        rows, ingest_stage = _stage(memory, merges, ingestion)
        _, feature_stage = _stage(memory, merges, features)
        session.close()
    result = {"engine": engine, "input_rows": rows, "startup": startup,
              "ingestion": ingest_stage, "features": feature_stage}
    for stage in ("ingestion", "features"):
        result[stage]["rows_per_s"] = round(rows / result[stage]["s"])
    queue.put(result)


def _run_engine(engine: str, logs: Path) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue: mp.Queue = context.Queue()
    child = context.Process(target=_engine_case, args=(engine, logs, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def _merge_cell(result: dict[str, Any]) -> str:
    if result["engine"] == "pandas":
        return "-"
    if "merge_s" not in result["ingestion"]:
        return "not measured"
    return f"{result['ingestion']['merge_s']} + {result['features']['merge_s']}"


def _table(results: list[dict[str, Any]]) -> str:
    lines = ["| case | engine | input rows | start s | ingestion s (rows/s) | features s (rows/s) "
             "| of which driver merge s | peak driver MiB | peak JVM + workers MiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        peak_driver = max(r["ingestion"]["driver_mib"], r["features"]["driver_mib"])
        peak_children = max(r["ingestion"]["children_mib"], r["features"]["children_mib"])
        lines.append(
            f"| {r['case']} | {r['engine']} | {r['input_rows']:,} | {r['startup']['s']} | "
            f"{r['ingestion']['s']} ({r['ingestion']['rows_per_s']:,}) | "
            f"{r['features']['s']} ({r['features']['rows_per_s']:,}) | "
            f"{_merge_cell(r)} | {peak_driver:,} | "
            f"{peak_children:,} |")
    return "\n".join(lines)


def _local_cores() -> int:
    """The cores of ``spark.master: local[n]`` in conf/spark/spark.yml (the measured setup)."""
    master = yaml.safe_load((PROJECT_ROOT / "conf" / "spark" / "spark.yml").read_text())[
        "spark.master"]
    found = re.fullmatch(r"local\[(\d+)\]", master)
    if found is None:
        raise ValueError(f"conf/spark/spark.yml: spark.master {master!r} is not local[n]")
    return int(found.group(1))


def projection(results: list[dict[str, Any]], rows: int, executors: list[int],
               executor_cores: int) -> str:
    """PROJECTION, not a measurement: Spark seconds per stage for `rows` input rows on
    `executors` x `executor_cores` cores, from the Spark results measured here.

    Per stage, a least-squares line t = a + b * n over the measured sizes n; of b, the part
    m (seconds per row of the driver's merge, from the runs that measured it) stays serial and
    the rest is spread over the cores: t(rows, C) = a + (b - m) * rows * c_local / C + m * rows,
    c_local the cores of the measured ``local[n]``. It assumes the measured work per row and
    core, and ignores network shuffles and a cluster's faster or slower cores.
    """
    spark = [r for r in results if r["engine"] == "spark"]
    sizes = np.array([r["input_rows"] for r in spark], dtype=float)
    if np.unique(sizes).size < 2:
        return "(a projection needs Spark results at two sizes or more)"
    local = _local_cores()
    lines = [f"PROJECTION for {rows:,} input rows (fit over {len(spark)} Spark runs of "
             f"{int(sizes.min()):,}-{int(sizes.max()):,} rows on local[{local}]), not a "
             "measurement:",
             "| stage | a (s) | b (us/row) | driver merge m (us/row) | "
             + " | ".join(f"{n} x {executor_cores} cores" for n in executors) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(executors)]
    for stage in ("ingestion", "features"):
        slope, intercept = np.polyfit(sizes, [r[stage]["s"] for r in spark], 1)
        measured = [r for r in spark if "merge_s" in r[stage]]
        merge = (sum(r[stage]["merge_s"] for r in measured)
                 / sum(r["input_rows"] for r in measured)) if measured else 0.0
        times = [intercept + (slope - merge) * rows * local / (n * executor_cores)
                 + merge * rows for n in executors]
        lines.append(f"| {stage} | {intercept:.1f} | {slope * 1e6:.1f} | "
                     f"{merge * 1e6:.2f}{'' if measured else ' (not measured)'} | "
                     + " | ".join(f"{t / 60:.1f} min" for t in times) + " |")
    return "\n".join(lines)


def _load(files: list[Path]) -> list[dict[str, Any]]:
    """Results of earlier runs; a later file's (case, engine) replaces an earlier one's."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for file in files:
        for result in json.loads(file.read_text()):
            merged[(result["case"], result["engine"])] = result
    order = {case: i for i, case in enumerate([*SIM_USERS, "real"])}
    return sorted(merged.values(), key=lambda r: (order[r["case"]], r["engine"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(SIM_USERS))
    parser.add_argument("--engines", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    parser.add_argument("--from-json", nargs="+", type=Path, default=[],
                        help="tabulate and project earlier --output files instead of running")
    parser.add_argument("--project-rows", type=int, default=KUAIRAND_27K_ROWS)
    parser.add_argument("--executors", nargs="+", type=int, default=[4, 16, 64])
    parser.add_argument("--executor-cores", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = _load(args.from_json)
    for case in [] if args.from_json else args.cases:
        with tempfile.TemporaryDirectory() as folder:
            logs, extra = Path(folder), {}
            if case == "real":
                logs = Path(os.environ.get("KUAIRAND_DIR", DEFAULT_KUAIRAND_DIR))
            else:
                extra = _write_logs(logs, SIM_USERS[case])
            for engine in args.engines:
                results.append({"case": case, **extra, **_run_engine(engine, logs)})
                logger.info(strict_json(results[-1]))
    logger.info("\n%s\n\n%s", _table(results),
                projection(results, args.project_rows, args.executors, args.executor_cores))
    if args.output:
        args.output.write_text(strict_json(results, indent=2))


if __name__ == "__main__":
    main()
