"""Query benchmark: gRPC Arrow and REST JSON against DuckDB in-process, on the same lake files.

    python bench/query.py [--agg-rows 10000000] [--scan-rows 1000000] [--repeat 9] [--stream-repeat 15]
                          [--calls 500]

Generates (deterministically, under bench/data/, reused when present) a 10M-row
Parquet file (``k`` with ~1000 groups, ``v`` int64, ``x`` float64) and a 1M-row one
(``id``, ``name``, ``state``, ``rate``, ``available``), ingests both once through gRPC
(Parquet upload, mode replace) plus a 3-row CSV, then measures in one run:

a. aggregate ``SELECT k, count(*), sum(v), avg(x) FROM agg GROUP BY k`` — gRPC Arrow
   (``client.query``) through Envoy and direct to the server vs DuckDB in-process
   ``read_parquet([the dataset's lake files])`` (``.to_arrow_table()``).
   Target: gRPC <= 1.3x in-process time.
b. streaming a 1M-row result ``SELECT * FROM scan`` — ``client.query_reader`` consumed
   batch by batch, through Envoy and direct, vs in-process ``con.sql(q).to_arrow_reader(
   batch_rows)`` consumed fully. Target: gRPC throughput >= 50% of in-process.
c. small-query latency ``SELECT count(*) FROM tiny`` — REST through Envoy (keep-alive
   ``httpx.Client``, ``POST /v1/sql``) vs gRPC ``client.sql`` direct to the server (and
   through Envoy), calls interleaved one by one. Target: REST p50 - gRPC p50 <= 1 ms.

Every comparison runs a warm-up first, then interleaves the variants round-robin.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import benchlib
from benchlib import (
    MB,
    Table,
    count_label,
    fmt_num,
    interleaved,
    log,
    median,
    percentile,
    running_system,
)

DEFAULT_AGG_ROWS = 10_000_000
DEFAULT_SCAN_ROWS = 1_000_000
DEFAULT_REPEAT = 9
DEFAULT_STREAM_REPEAT = 15
DEFAULT_CALLS = 500
WARMUP_CALLS = 50
GROUPS = 1_000
SEED = 7
GENERATOR_VERSION = 1
AGG_TARGET = 1.3
STREAM_TARGET = 0.5
LATENCY_TARGET_MS = 1.0

AGG_SQL = "SELECT k, count(*) AS n, sum(v) AS sum_v, avg(x) AS avg_x FROM {t} GROUP BY k"
SCAN_SQL = "SELECT * FROM {t}"
TINY_SQL = "SELECT count(*) AS n FROM tiny"
TINY_CSV = b"id,name,state\n1,Ana,IL\n2,Luis,WI\n3,Kim,IN\n"


# Data ------------------------------------------------------------------------


def _cached(path: Path, want: dict, build) -> Path:
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        try:
            if json.loads(meta.read_text()) == {**want, "bytes": path.stat().st_size}:
                return path
        except ValueError:
            pass
    started = time.perf_counter()
    tmp = path.with_suffix(".partial")
    build(tmp)
    tmp.replace(path)
    meta.write_text(json.dumps({**want, "bytes": path.stat().st_size}))
    log(f"generated {path.name} ({path.stat().st_size / MB:.1f} MB) in {time.perf_counter() - started:.1f}s")
    return path


def ensure_agg(rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    def build(path: Path) -> None:
        rng = np.random.default_rng(SEED)
        with pq.ParquetWriter(
            path, pa.schema([("k", pa.int64()), ("v", pa.int64()), ("x", pa.float64())]), compression="zstd"
        ) as writer:
            for offset in range(0, rows, 1_000_000):
                n = min(1_000_000, rows - offset)
                writer.write_table(
                    pa.table(
                        {
                            "k": rng.integers(0, GROUPS, n),
                            "v": rng.integers(0, 1_000_000, n),
                            "x": rng.random(n) * 100,
                        }
                    )
                )

    benchlib.DATA.mkdir(parents=True, exist_ok=True)
    return _cached(
        benchlib.DATA / f"agg_{rows}.parquet", {"rows": rows, "seed": SEED, "version": GENERATOR_VERSION}, build
    )


def ensure_scan(rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def build(path: Path) -> None:
        rng = np.random.default_rng(SEED + 1)
        ids = pa.array(np.arange(rows, dtype=np.int64))
        states = pa.array(np.array(["IL", "WI", "IN", "MI", "OH", "IA", "MN", "TX"])[rng.integers(0, 8, rows)])
        table = pa.table(
            {
                "id": ids,
                "name": pc.binary_join_element_wise("worker-", pc.cast(ids, pa.string()), ""),
                "state": states,
                "rate": pa.array(np.round(rng.random(rows) * 30 + 15, 2)),
                "available": pa.array(rng.integers(19_000, 20_000, rows).astype("datetime64[D]")),
            }
        )
        pq.write_table(table, path, compression="zstd")

    benchlib.DATA.mkdir(parents=True, exist_ok=True)
    return _cached(
        benchlib.DATA / f"scan_{rows}.parquet", {"rows": rows, "seed": SEED, "version": GENERATOR_VERSION}, build
    )


def lake_files(system, client, dataset: str) -> list[str]:
    current = client.get_dataset(dataset).current
    assert not current.deltas, "a replace ingest has no deltas"
    return [str(system.settings.lake_root / f.path) for f in current.files]


def read_parquet_sql(paths: list[str]) -> str:
    return "read_parquet([" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "])"


# Benchmarks ------------------------------------------------------------------


def bench_aggregate(system, clients, rows: int, repeat: int) -> Table:
    import duckdb

    files = lake_files(system, clients["envoy"], "agg")
    con = duckdb.connect()
    local_sql = AGG_SQL.format(t=read_parquet_sql(files))
    grpc_sql = AGG_SQL.format(t="agg")
    counts: dict[str, int] = {}

    def via(name: str):
        def run() -> None:
            counts[name] = clients[name].query(grpc_sql).num_rows

        return run

    def local() -> None:
        counts["in-process"] = con.sql(local_sql).to_arrow_table().num_rows

    log(f"a. aggregate over {rows:,} rows ({len(files)} lake files)")
    times = interleaved({"grpc envoy": via("envoy"), "grpc direct": via("direct"), "in-process": local}, repeat)
    con.close()
    assert len(set(counts.values())) == 1, counts
    base = median(times["in-process"])
    table = Table(
        f"a. aggregate over {count_label(rows)} rows, {counts['in-process']} groups (median of {repeat}, warm)"
    )
    for name, label in (("grpc envoy", "gRPC via Envoy"), ("grpc direct", "gRPC direct")):
        t = median(times[name])
        table.add(
            f"agg {count_label(rows)} rows, {label} (s)",
            fmt_num(t, "s"),
            fmt_num(base, "s"),
            f"{t / base:.2f}x",
            f"<= {AGG_TARGET}x",
            t / base <= AGG_TARGET,
        )
    table.add(
        "  best of runs, gRPC via Envoy / direct (s)",
        f"{fmt_num(min(times['grpc envoy']), 's')} / {fmt_num(min(times['grpc direct']), 's')}",
        fmt_num(min(times["in-process"]), "s"),
        f"{min(times['grpc envoy']) / min(times['in-process']):.2f}x / "
        f"{min(times['grpc direct']) / min(times['in-process']):.2f}x",
    )
    table.add(
        f"  rows scanned/s ({'gRPC via Envoy'})",
        fmt_num(rows / median(times["grpc envoy"])),
        fmt_num(rows / base),
        f"{base / median(times['grpc envoy']):.2f}x",
    )
    table.notes.append(
        "runs (ms): " + "; ".join(f"{n} " + ", ".join(f"{t * 1000:.0f}" for t in ts) for n, ts in times.items())
    )
    return table


def bench_stream(system, clients, rows: int, repeat: int) -> Table:
    import duckdb

    from lakehouse.servers.settings import QuerySettings
    from lakehouse.v1 import query_pb2

    batch_rows = QuerySettings().batch_rows
    files = lake_files(system, clients["envoy"], "scan")
    con = duckdb.connect()
    local_sql = SCAN_SQL.format(t=read_parquet_sql(files))
    grpc_sql = SCAN_SQL.format(t="scan")
    seen: dict[str, tuple[int, int, int]] = {}

    def consume(name: str, reader) -> None:
        n = nbytes = batches = 0
        for batch in reader:
            n += batch.num_rows
            nbytes += batch.nbytes
            batches += 1
        seen[name] = (n, nbytes, batches)

    def via(name: str):
        return lambda: consume(name, clients[name].query_reader(grpc_sql))

    def raw_direct() -> None:
        # Diagnostic: the same RPC with the Arrow decoding left out (messages only).
        request = query_pb2.ExecuteQueryRequest(sql=grpc_sql)
        received = sum(len(m.arrow_ipc) for m in clients["direct"].query_stub.ExecuteQuery(request))
        assert received > 0

    def local() -> None:
        consume("in-process", con.sql(local_sql).to_arrow_reader(batch_rows))

    log(f"b. streaming {rows:,} rows")
    times = interleaved(
        {"grpc envoy": via("envoy"), "grpc direct": via("direct"), "grpc direct raw": raw_direct, "in-process": local},
        repeat,
    )
    con.close()
    assert len({v[0] for v in seen.values()}) == 1 and seen["in-process"][0] == rows, seen
    base = median(times["in-process"])
    arrow_mb = seen["in-process"][1] / MB
    table = Table(
        f"b. stream a {count_label(rows)}-row result ({arrow_mb:.0f} MB as Arrow), SELECT * (median of {repeat}, warm)"
    )
    for name, label in (("grpc envoy", "gRPC via Envoy"), ("grpc direct", "gRPC direct")):
        t = median(times[name])
        share = base / t  # throughput ratio: gRPC rows/s over in-process rows/s
        table.add(
            f"stream {count_label(rows)} rows, {label} (rows/s)",
            fmt_num(rows / t),
            fmt_num(rows / base),
            f"{share:.0%}",
            f">= {STREAM_TARGET:.0%}",
            share >= STREAM_TARGET,
        )
        table.add(
            f"  time (s) / Arrow MB/s, {label}",
            f"{fmt_num(t, 's')} / {arrow_mb / t:.0f}",
            f"{fmt_num(base, 's')} / {arrow_mb / base:.0f}",
            f"{t / base:.2f}x",
        )
    best = min(times["in-process"])
    table.add(
        "  best of runs, gRPC via Envoy / direct (rows/s)",
        f"{fmt_num(rows / min(times['grpc envoy']))} / {fmt_num(rows / min(times['grpc direct']))}",
        fmt_num(rows / best),
        f"{best / min(times['grpc envoy']):.0%} / {best / min(times['grpc direct']):.0%}",
    )
    raw = median(times["grpc direct raw"])
    table.add(
        "  gRPC direct, messages only, no Arrow decode (s)", fmt_num(raw, "s"), fmt_num(base, "s"), f"{raw / base:.2f}x"
    )
    table.notes.append("batches received: " + ", ".join(f"{n} {v[2]}" for n, v in seen.items()))
    table.notes.append(
        "runs (ms): " + "; ".join(f"{n} " + ", ".join(f"{t * 1000:.0f}" for t in ts) for n, ts in times.items())
    )
    return table


def bench_latency(system, clients, calls: int) -> Table:
    import http.client

    import httpx

    web = httpx.Client(base_url=system.rest, timeout=30.0)
    host, port = system.rest.removeprefix("http://").rsplit(":", 1)
    plain = http.client.HTTPConnection(host, int(port), timeout=30.0)
    body = json.dumps({"sql": TINY_SQL}).encode()
    expected = [[3]]

    def rest() -> None:
        resp = web.post("/v1/sql", json={"sql": TINY_SQL})
        resp.raise_for_status()
        assert resp.json()["rows"] == expected

    def rest_plain() -> None:
        # Diagnostic: the same REST call with the stdlib client (far less per-request Python work).
        plain.request("POST", "/v1/sql", body, {"content-type": "application/json"})
        resp = plain.getresponse()
        data = resp.read()
        assert resp.status == 200 and json.loads(data)["rows"] == expected

    def via(name: str):
        def run() -> None:
            assert clients[name].sql(TINY_SQL).rows == expected

        return run

    runs = {"rest envoy": rest, "grpc direct": via("direct"), "grpc envoy": via("envoy"), "rest plain": rest_plain}
    log(f"c. latency of {TINY_SQL!r}: {WARMUP_CALLS} warm-up + {calls} interleaved calls per variant")
    for _ in range(WARMUP_CALLS):
        for run in runs.values():
            run()
    lat: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for i in range(calls):
        for name in names if i % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            runs[name]()
            lat[name].append((time.perf_counter() - started) * 1000)
    web.close()
    plain.close()

    p = {name: (percentile(v, 50), percentile(v, 90)) for name, v in lat.items()}
    base50, base90 = p["grpc direct"]
    table = Table(
        f"c. small query latency, {TINY_SQL!r}, {calls} sequential calls each, interleaved "
        f"(baseline: gRPC direct to the server)"
    )
    rest50, rest90 = p["rest envoy"]
    table.add(
        "REST via Envoy p50 (ms)",
        fmt_num(rest50, "ms"),
        fmt_num(base50, "ms"),
        f"+{rest50 - base50:.3f}ms" if rest50 >= base50 else f"{rest50 - base50:.3f}ms",
        f"<= +{LATENCY_TARGET_MS:g}ms",
        rest50 - base50 <= LATENCY_TARGET_MS,
    )
    table.add("REST via Envoy p90 (ms)", fmt_num(rest90, "ms"), fmt_num(base90, "ms"), f"{rest90 - base90:+.3f}ms")
    plain50, plain90 = p["rest plain"]
    table.add(
        "  REST via Envoy, stdlib http.client p50 (ms)",
        fmt_num(plain50, "ms"),
        fmt_num(base50, "ms"),
        f"{plain50 - base50:+.3f}ms",
    )
    table.add(
        "  REST via Envoy, stdlib http.client p90 (ms)",
        fmt_num(plain90, "ms"),
        fmt_num(base90, "ms"),
        f"{plain90 - base90:+.3f}ms",
    )
    env50, env90 = p["grpc envoy"]
    table.add("gRPC via Envoy p50 (ms)", fmt_num(env50, "ms"), fmt_num(base50, "ms"), f"{env50 - base50:+.3f}ms")
    table.add("gRPC via Envoy p90 (ms)", fmt_num(env90, "ms"), fmt_num(base90, "ms"), f"{env90 - base90:+.3f}ms")
    table.notes.append("min/max (ms): " + "; ".join(f"{n} {min(v):.2f}/{max(v):.2f}" for n, v in lat.items()))
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agg-rows", type=int, default=DEFAULT_AGG_ROWS)
    parser.add_argument("--scan-rows", type=int, default=DEFAULT_SCAN_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--stream-repeat", type=int, default=DEFAULT_STREAM_REPEAT)
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    agg = ensure_agg(args.agg_rows)
    scan = ensure_scan(args.scan_rows)
    print(
        f"query: {agg.name} ({agg.stat().st_size / MB:.0f} MB), {scan.name} ({scan.stat().st_size / MB:.0f} MB); "
        f"{benchlib.environment()}",
        flush=True,
    )

    from lakehouse.client import LakehouseClient

    with running_system() as system:
        clients = {"envoy": system.client(), "direct": LakehouseClient(system.state.grpc_upstream)}
        try:
            setup = Table("setup: one-time gRPC ingests (informational)")
            for name, path, fmt, rows in (
                ("agg", agg, "parquet", args.agg_rows),
                ("scan", scan, "parquet", args.scan_rows),
                ("tiny", TINY_CSV, "csv", 3),
            ):
                started = time.perf_counter()
                result = clients["envoy"].ingest(name, path, format=fmt, mode="replace")
                took = time.perf_counter() - started
                assert result.rows == rows, result
                setup.add(f"ingest {name} ({count_label(rows)} rows, {fmt}) (s)", fmt_num(took, "s"))
                log(f"ingested {name}: {rows:,} rows, {result.files} files, {took:.2f}s")
            tables = [
                setup,
                bench_aggregate(system, clients, args.agg_rows, args.repeat),
                bench_stream(system, clients, args.scan_rows, args.stream_repeat),
                bench_latency(system, clients, args.calls),
            ]
        finally:
            for c in clients.values():
                c.close()
    text = "\n\n".join(t.render() for t in tables)
    print(text, flush=True)
    (benchlib.DATA / "query.table.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
