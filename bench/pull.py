"""Postgres pull benchmark: a 1M-row table from a real PostgreSQL 15 into zstd Parquet.

    python bench/pull.py [--rows 1000000] [--repeat 5]

Side by side on the same table, in one run:

* lakehouse: ``LakehouseClient.pull(name, source, table="workers", mode="replace")``
  through Envoy's gRPC port: the server connects (read-only repeatable-read transaction),
  describes the table, streams it as one binary COPY through ADBC, maps the types
  (numeric(8,2) to decimal128), writes Parquet with pyarrow, fsyncs and commits the
  version. Every run uses a fresh dataset name;
* baseline: ADBC in-process: ``dbapi.connect`` + ``cursor.execute("SELECT * FROM
  workers")`` + ``fetch_record_batch()`` written batch by batch with
  ``pyarrow.parquet.ParquetWriter`` (zstd, the same row group size), as the driver gives
  the columns (numeric stays the driver's text).

The table (id, name, state, rate numeric(8,2), score float8, hired date, updated_at
timestamptz, active bool) is generated with ``INSERT ... SELECT generate_series``.
Target (issue 11): lakehouse time <= 1.5x the baseline's.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import benchlib
from benchlib import MB, Table, count_label, fmt_num, interleaved, log, median, running_system

DEFAULT_ROWS = 1_000_000
DEFAULT_REPEAT = 5
TARGET_RATIO = 1.5
SOURCE = "bench_pg"
TABLE = "workers"


def create_table(pg, rows: int) -> None:
    pg.sql(
        f"""CREATE TABLE {TABLE} (
  id bigint PRIMARY KEY, name text NOT NULL, state text, rate numeric(8,2), score float8,
  hired date, updated_at timestamptz, active bool);
INSERT INTO {TABLE}
  SELECT i, 'worker ' || i, (ARRAY['IL','WI','IN','MI','OH','TX'])[1 + i % 6], (i % 5000) / 100.0 + 15,
         (i % 997) / 9.97, date '2015-01-01' + (i % 3650), timestamptz '2024-01-01' + i * interval '1 second',
         i % 3 <> 0
  FROM generate_series(1, {rows}) i;
ANALYZE {TABLE}"""
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    import pyarrow.parquet as pq
    from adbc_driver_postgresql import dbapi

    from lakehouse.servers.settings import Settings
    from tests.support.postgres import Postgres, available

    if not available():
        log("PostgreSQL 15 binaries not found: run scripts/setup-dev")
        return 1
    ingest = Settings().ingest
    out_dir = Path(tempfile.mkdtemp(prefix="lakehouse-bench-pull-"))
    pg = Postgres().start()
    try:
        log(f"postgres on {pg.host}:{pg.port}; generating {args.rows:,} rows")
        create_table(pg, args.rows)
        size = pg.sql(f"SELECT pg_table_size('{TABLE}')")[0][0]
        print(f"pull: {TABLE}, {args.rows:,} rows, {size / MB:.1f} MB on disk; {benchlib.environment()}", flush=True)
        with running_system() as system, system.client() as lh:
            lh.create_source(
                SOURCE, host=pg.host, port=pg.port, database=pg.database, user=pg.user, password=pg.password
            )
            counter = iter(range(1_000_000))
            results = []

            def lakehouse() -> None:
                result = lh.pull(f"pulled_{next(counter)}", SOURCE, table=TABLE, mode="replace")
                assert result.rows == args.rows, result
                results.append(result)

            def adbc() -> None:
                target = out_dir / "out.parquet"
                with dbapi.connect(pg.uri(), autocommit=True) as conn, conn.cursor() as cur:
                    cur.execute(f"SELECT * FROM {TABLE}")
                    reader = cur.fetch_record_batch()
                    rows = 0
                    with pq.ParquetWriter(target, reader.schema, compression=ingest.compression) as writer:
                        for batch in reader:
                            writer.write_batch(batch, row_group_size=ingest.row_group_rows)
                            rows += batch.num_rows
                assert rows == args.rows

            def cleanup() -> None:
                for ds in lh.list_datasets():
                    lh.delete_dataset(ds.name)
                for p in out_dir.iterdir():
                    p.unlink()

            times = interleaved({"lakehouse": lakehouse, "adbc": adbc}, args.repeat, between=cleanup)
            adbc()
            adbc_bytes = (out_dir / "out.parquet").stat().st_size
            cleanup()

        lake, base = median(times["lakehouse"]), median(times["adbc"])
        ratio = lake / base
        table = Table(
            f"pull {args.rows:,}-row Postgres table -> zstd Parquet; median of {args.repeat} interleaved runs"
            " after a warm-up"
        )
        table.add(
            f"pull {count_label(args.rows)} rows (s)",
            fmt_num(lake, "s"),
            fmt_num(base, "s"),
            f"{ratio:.2f}x",
            f"<= {TARGET_RATIO}x",
            ratio <= TARGET_RATIO,
        )
        table.add(
            "  best of runs (s)",
            fmt_num(min(times["lakehouse"]), "s"),
            fmt_num(min(times["adbc"]), "s"),
            f"{min(times['lakehouse']) / min(times['adbc']):.2f}x",
        )
        table.add("rows/s", fmt_num(args.rows / lake), fmt_num(args.rows / base), f"{base / lake:.2f}x")
        r = results[0]
        table.add(
            "Arrow MB/s read from Postgres", f"{r.bytes_read / MB / lake:.1f}", f"{r.bytes_read / MB / base:.1f}", ""
        )
        table.add(
            "Parquet out (MB)",
            f"{r.bytes_written / MB:.1f}",
            f"{adbc_bytes / MB:.1f}",
            f"{r.bytes_written / adbc_bytes:.2f}x",
        )
        table.notes.append(
            "runs (s): lakehouse "
            + ", ".join(f"{t:.2f}" for t in times["lakehouse"])
            + "; adbc "
            + ", ".join(f"{t:.2f}" for t in times["adbc"])
        )
        table.notes.append(
            f"the lakehouse's own elapsed (server side, from the result): "
            f"{median([x.elapsed.ToTimedelta().total_seconds() for x in results]):.2f}s median"
        )
        table.emit("pull")
    finally:
        pg.stop()
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
