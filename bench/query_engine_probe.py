"""Probe: how should the query core read local Parquet? One command, side by side.

    python bench/query_engine_probe.py [--rows 10000000] [--scan-rows 1000000] [--repeat 5]

Writes a lake of Parquet files into a temp directory, registers them in a real
CatalogCore, and times on the same files:

* ``duckdb in-process``: a plain ``duckdb.connect()`` with ``read_parquet([...])``,
  no sandbox, no views — the baseline;
* ``core native``: QueryCore with DuckDB's ``read_parquet`` views (sandboxed);
* ``core arrow``: QueryCore with registered ``pyarrow.dataset`` sources (sandboxed),
  the path used for S3.

Workloads: an aggregate ``SELECT k, count(*), sum(v) FROM t GROUP BY k`` over
``--rows`` rows, a full-result Arrow stream of ``--scan-rows`` rows
(``to_arrow_reader``), and the latency of a trivial ``SELECT 1``. Prints the
median and best time of each and the ratio of medians to the baseline; runs are
interleaved round-robin so outside load affects every engine alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.api.catalog import DataFile, NewVersion, WriteMode
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.query.core import QueryCore
from lakehouse.servers.settings import IngestSettings, QuerySettings
from lakehouse.servers.storage.local import LocalObjectStore

DEFAULT_ROWS = 10_000_000
DEFAULT_SCAN_ROWS = 1_000_000
DEFAULT_REPEAT = 5
GROUPS = 1_000
SEED = 42
AGGREGATE_SQL = "SELECT k, count(*), sum(v) FROM {t} GROUP BY k"
SCAN_SQL = "SELECT * FROM {t}"
TINY_SQL = "SELECT 1"
BASELINE = "duckdb in-process"
_INGEST = IngestSettings()


def write_dataset(store: LocalObjectStore, name: str, table: pa.Table, rows_per_file: int) -> list[DataFile]:
    """Write ``table`` as part files the way ingest lays them out; return their manifest entries."""
    root = store.root
    files = []
    for n, offset in enumerate(range(0, table.num_rows, rows_per_file)):
        key = f"datasets/{name}/v1/part-{n}.parquet"
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        part = table.slice(offset, rows_per_file)
        pq.write_table(part, path, row_group_size=_INGEST.row_group_rows, compression=_INGEST.compression)
        files.append(DataFile(key, part.num_rows, path.stat().st_size, "sha256:" + "0" * 64))
    return files


def make_lake(root: Path, rows: int, scan_rows: int) -> tuple[CatalogCore, LocalObjectStore, dict[str, list[str]]]:
    store = LocalObjectStore("lake", root / "lake")
    catalog = CatalogCore(root / "catalog.sqlite")
    keys = pc.floor(pc.multiply(pc.random(rows, initializer=SEED), GROUPS)).cast(pa.int64())
    agg = pa.table({"k": keys, "v": pc.random(rows, initializer=SEED + 1)})
    scan = pa.table(
        {
            "id": pa.array(range(scan_rows), pa.int64()),
            "name": pa.array([f"worker-{i}" for i in range(scan_rows)]),
            "rate": pc.multiply(pc.random(scan_rows, initializer=SEED + 2), 50),
            "state": pa.array(["IL", "WI", "IN", "MI"] * (scan_rows // 4) + ["IL"] * (scan_rows % 4)),
        }
    )
    paths: dict[str, list[str]] = {}
    # Several files per dataset, so parallel scans across files matter.
    for name, table, per_file in (("agg", agg, max(1, rows // 8)), ("scan", scan, max(1, scan_rows // 4))):
        files = write_dataset(store, name, table, per_file)
        catalog.commit_version(NewVersion(name, 0, tuple(files), (), table.schema, WriteMode.CREATE))
        paths[name] = [str(store.root / f.path) for f in files]
    return catalog, store, paths


def timed(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, tuple[list[float], int]]:
    """Times of each run, interleaved round-robin so load from elsewhere hits all alike."""
    for run in runs.values():
        run()  # warm-up: file cache, metadata cache, view build
    results: dict[str, tuple[list[float], int]] = {name: ([], 0) for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            rows = run()
            results[name][0].append(time.perf_counter() - started)
            results[name] = (results[name][0], rows)
    return results


def baseline_runner(paths: dict[str, list[str]]) -> Callable[[str, str], int]:
    con = duckdb.connect()

    def run(sql: str, dataset: str) -> int:
        files = ", ".join(f"'{p}'" for p in paths[dataset])
        reader = con.sql(sql.format(t=f"read_parquet([{files}])")).to_arrow_reader(QuerySettings().batch_rows)
        return sum(batch.num_rows for batch in reader)

    return run


def core_runner(core: QueryCore) -> Callable[[str, str], int]:
    def run(sql: str, dataset: str) -> int:
        with core.execute(sql.format(t=dataset)) as stream:
            return sum(batch.num_rows for batch in stream)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--scan-rows", type=int, default=DEFAULT_SCAN_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-") as tmp:
        started = time.perf_counter()
        catalog, store, paths = make_lake(Path(tmp), args.rows, args.scan_rows)
        print(
            f"lake: {args.rows:,} aggregate rows, {args.scan_rows:,} scan rows, "
            f"written in {time.perf_counter() - started:.1f}s; duckdb {duckdb.__version__}, pyarrow {pa.__version__}"
        )
        settings = QuerySettings()
        cores = {mode: QueryCore(catalog, store, settings, scan=mode) for mode in ("native", "arrow")}
        runners = {
            BASELINE: baseline_runner(paths),
            "core native": core_runner(cores["native"]),
            "core arrow": core_runner(cores["arrow"]),
        }
        workloads = [
            (f"aggregate {args.rows:,} rows", AGGREGATE_SQL, "agg"),
            (f"stream {args.scan_rows:,} rows", SCAN_SQL, "scan"),
            ("SELECT 1 latency", TINY_SQL, "scan"),
        ]
        for title, sql, dataset in workloads:
            print(f"\n{title}")
            print(f"  {'engine':<20} {'median':>10} {'best':>10} {'rows':>12} {'vs baseline':>12}")
            runs = {
                name: (lambda run=run, sql=sql, dataset=dataset: run(sql, dataset)) for name, run in runners.items()
            }
            results = timed(runs, args.repeat)
            base_median = statistics.median(results[BASELINE][0])
            for name, (times, rows) in results.items():
                median = statistics.median(times)
                print(
                    f"  {name:<20} {median * 1000:>8.1f}ms {min(times) * 1000:>8.1f}ms {rows:>12,} "
                    f"{median / base_median:>11.2f}x"
                )
        for core in cores.values():
            core.close()
        catalog.close()


if __name__ == "__main__":
    main()
