"""Ingest benchmark: a 1M-row (~65 MB) CSV of worker/candidate rows into zstd Parquet.

    python bench/ingest.py [--rows 1000000] [--repeat 7]

Side by side on the same file, in one run:

* lakehouse: ``LakehouseClient.ingest(name, path, mode="replace")`` through Envoy's gRPC
  port with every read option on detect (format, compression, encoding, header, dialect):
  the client streams 1 MiB chunks; the server hashes, validates UTF-8, sniffs the
  dialect, spools, converts with DuckDB, writes Parquet with pyarrow, fsyncs and commits
  the version. Every run uses a fresh dataset name, so the idempotency cannot skip it;
* baseline: DuckDB in-process, ``COPY (SELECT * FROM read_csv(file)) TO out.parquet
  (FORMAT parquet, COMPRESSION zstd)``, fresh connection per run.

The same pair runs again on the gzipped file (DuckDB reads .csv.gz natively), to report
gzip ingest throughput. Target (issue): lakehouse time <= 2.0x DuckDB's on the plain CSV.
One extra, untimed run through ``IngestWithProgress`` splits the lakehouse time into
upload+spool, convert and commit. The CSV is generated deterministically under
bench/data/ (reused when present).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import MB, Table, count_label, fmt_num, interleaved, log, median, running_system

DEFAULT_ROWS = 1_000_000
DEFAULT_REPEAT = 7
SEED = 20240611
TARGET_RATIO = 2.0
GENERATOR_VERSION = 2

FIRST = (
    "James Maria Robert Linda Michael Patricia David Jennifer Jose Elizabeth Daniel Ana Luis Sarah "
    "Carlos Jessica Kevin Ashley Juan Emily Brian Carmen Anthony Nicole Marcus Tanya Andre Keisha"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Nguyen Kim"
).split()
STATES = "IL WI IN MI OH IA MN MO KY TX GA".split()
TITLES = (
    "Forklift Operator",
    "Picker",
    "Packer",
    "Machine Operator",
    "CNA",
    "Line Cook",
    "Welder",
    "Driver",
    "Assembler",
    "Janitor",
    "Clerk",
    "Electrician",
)
HEADER = "id,first_name,last_name,state,title,hourly_rate,years_exp,rating,available_from,active,forklift_cert"
EPOCH = dt.date(2023, 1, 1)


def generate_csv(path: Path, rows: int) -> None:
    """Deterministic worker rows: ints, floats, strings, dates, bools, a few empty (NULL) cells."""
    rng = random.Random(SEED)
    tmp = path.with_suffix(".partial")
    dates = [(EPOCH + dt.timedelta(days=d)).isoformat() for d in range(730)]
    with open(tmp, "w", newline="") as out:
        out.write(HEADER + "\n")
        lines = []
        for i in range(1, rows + 1):
            rating = f"{rng.randint(10, 50) / 10:.1f}" if rng.random() > 0.03 else ""
            lines.append(
                f"{i},{rng.choice(FIRST)},{rng.choice(LAST)},{rng.choice(STATES)},{rng.choice(TITLES)},"
                f"{rng.randint(1500, 4500) / 100:.2f},{rng.randint(0, 30)},{rating},"
                f"{rng.choice(dates)},{'true' if rng.random() < 0.8 else 'false'},"
                f"{'true' if rng.random() < 0.3 else 'false'}\n"
            )
            if len(lines) == 50_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    tmp.replace(path)


def ensure_csv(rows: int) -> Path:
    benchlib.DATA.mkdir(parents=True, exist_ok=True)
    path = benchlib.DATA / f"workers_{rows}.csv"
    meta = path.with_suffix(".json")
    want = {"rows": rows, "seed": SEED, "version": GENERATOR_VERSION}
    if path.exists() and meta.exists():
        try:
            if json.loads(meta.read_text()) == {**want, "bytes": path.stat().st_size}:
                return path
        except ValueError:
            pass
    started = time.perf_counter()
    generate_csv(path, rows)
    meta.write_text(json.dumps({**want, "bytes": path.stat().st_size}))
    log(f"generated {path} ({path.stat().st_size / MB:.1f} MB) in {time.perf_counter() - started:.1f}s")
    return path


def ensure_gzip(csv: Path) -> Path:
    path = csv.with_suffix(".csv.gz")
    if not path.exists() or path.stat().st_mtime < csv.stat().st_mtime:
        tmp = path.with_suffix(".partial")
        with open(csv, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        tmp.replace(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    import duckdb

    csv = ensure_csv(args.rows)
    packed = ensure_gzip(csv)
    size = csv.stat().st_size
    print(f"ingest: {csv.name}, {args.rows:,} rows, {size / MB:.1f} MB; {benchlib.environment()}", flush=True)

    out_dir = Path(tempfile.mkdtemp(prefix="lakehouse-bench-duckdb-"))
    try:
        with running_system() as system, system.client() as lh:
            counter = iter(range(1_000_000))
            results = []

            def lakehouse(source: Path = csv) -> None:
                result = lh.ingest(f"workers_{next(counter)}", source, mode="replace")
                assert result.rows == args.rows and not result.deduplicated, result
                assert result.header == "detected", result.reasoning
                results.append(result)

            def duck(source: Path = csv) -> None:
                target = out_dir / "out.parquet"
                with duckdb.connect() as con:
                    con.execute(
                        f"COPY (SELECT * FROM read_csv('{source}')) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
                    )

            def cleanup() -> None:
                for ds in lh.list_datasets():
                    lh.delete_dataset(ds.name)
                for p in out_dir.iterdir():
                    p.unlink()

            times = interleaved({"lakehouse": lakehouse, "duckdb": duck}, args.repeat, between=cleanup)
            gz_times = interleaved(
                {"lakehouse": lambda: lakehouse(packed), "duckdb": lambda: duck(packed)},
                max(3, args.repeat // 2),
                between=cleanup,
            )
            assert results[-1].read_options.compression == "gzip"
            duck()
            duck_bytes = (out_dir / "out.parquet").stat().st_size

            # Untimed diagnostic: where the lakehouse time goes, from the progress stream.
            first: dict[str, float] = {}
            last: dict[str, float] = {}
            started = time.perf_counter()

            def on_progress(p) -> None:
                now = time.perf_counter() - started
                first.setdefault(p.phase, now)
                last[p.phase] = now

            lh.ingest("workers_phases", csv, format="csv", mode="replace", on_progress=on_progress)
            phased_total = time.perf_counter() - started
            cleanup()

        lake, base = median(times["lakehouse"]), median(times["duckdb"])
        ratio = lake / base
        table = Table(
            f"ingest {args.rows:,}-row CSV ({size / MB:.1f} MB) -> zstd Parquet; "
            f"median of {args.repeat} interleaved runs after a warm-up"
        )
        table.add(
            f"ingest {count_label(args.rows)} rows CSV (s)",
            fmt_num(lake, "s"),
            fmt_num(base, "s"),
            f"{ratio:.2f}x",
            f"<= {TARGET_RATIO}x",
            ratio <= TARGET_RATIO,
        )
        table.add(
            "  best of runs (s)",
            fmt_num(min(times["lakehouse"]), "s"),
            fmt_num(min(times["duckdb"]), "s"),
            f"{min(times['lakehouse']) / min(times['duckdb']):.2f}x",
        )
        table.add("rows/s", fmt_num(args.rows / lake), fmt_num(args.rows / base), f"{base / lake:.2f}x")
        table.add("MB/s (CSV in)", f"{size / MB / lake:.1f}", f"{size / MB / base:.1f}", f"{base / lake:.2f}x")
        gz_lake, gz_base = median(gz_times["lakehouse"]), median(gz_times["duckdb"])
        gz_size = packed.stat().st_size
        table.add(
            f"ingest gzipped CSV ({gz_size / MB:.1f} MB) (s)",
            fmt_num(gz_lake, "s"),
            fmt_num(gz_base, "s"),
            f"{gz_lake / gz_base:.2f}x",
        )
        table.add("  gzip MB/s (CSV out of gzip)", f"{size / MB / gz_lake:.1f}", f"{size / MB / gz_base:.1f}", "")
        r = results[0]
        table.add(
            "Parquet out (MB)",
            f"{r.bytes_written / MB:.1f}",
            f"{duck_bytes / MB:.1f}",
            f"{r.bytes_written / duck_bytes:.2f}x",
        )
        table.notes.append(
            "runs (s): lakehouse "
            + ", ".join(f"{t:.2f}" for t in times["lakehouse"])
            + "; duckdb "
            + ", ".join(f"{t:.2f}" for t in times["duckdb"])
        )
        upload = last.get("upload", 0.0)
        commit = first.get("commit", phased_total)
        table.notes.append(
            f"lakehouse phases (one untimed IngestWithProgress run, {phased_total:.2f}s in all): "
            f"upload+spool+hash {upload:.2f}s, sniff+convert+write+fsync {commit - upload:.2f}s, "
            f"catalog commit+reply {phased_total - commit:.2f}s"
        )
        table.emit("ingest")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
