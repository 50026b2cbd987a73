"""Where the time of a streamed result and of a small SQL call goes, without the network.

    python bench/profile_query.py [--scan-rows 1000000] [--repeat 9] [--calls 300] [--cprofile]

Diagnostic companion of ``query.py`` (reports, never asserts). Runs a gRPC server
in this process on a temp ``LAKEHOUSE_HOME`` only to ingest the data (same 1M-row
Parquet file as ``query.py``), then calls the cores and servicers directly, so every
step is timed on one side of the wire:

server side, 1M-row ``SELECT * FROM scan``
  * DuckDB in-process ``read_parquet`` + ``to_arrow_reader`` (the baseline);
  * ``QueryCore.execute`` consumed (sandbox check, views, DuckDB);
  * ``QueryServicer.ExecuteQuery`` consumed and every response serialized
    (adds Arrow IPC framing and the protobuf message, i.e. what gRPC sends);
client side, on the responses recorded from the servicer (no network)
  * ``LakehouseClient.query_reader`` decoding them (a stub replays the messages);
  * a zero-copy alternative: one ``pa.ipc.MessageReader`` per message buffer;
small SQL (``SELECT count(*) FROM tiny``, ``SELECT 1``)
  * ``QueryServicer.Sql`` p50 in-process: the floor under both REST and gRPC latency.

``--cprofile`` adds the top functions of the servicer stream and of the Sql call.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import benchlib
import query as qbench
from benchlib import RecordedCall, ServicerContext, Table, count_label, fmt_num, interleaved, log, median, percentile

SCAN_SQL = "SELECT * FROM scan"


def _top(profile: cProfile.Profile, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    text = out.getvalue().replace(str(benchlib.REPO) + "/", "")
    return "\n".join(line for line in text.splitlines() if line.strip() and "Ordered by" not in line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan-rows", type=int, default=qbench.DEFAULT_SCAN_ROWS)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true", help="print cProfile top functions too")
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    import duckdb
    import pyarrow as pa

    scan = qbench.ensure_scan(args.scan_rows)
    print(f"profile: {scan.name}; {benchlib.environment()}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="lakehouse-bench-profile-"))
    saved = os.environ.get("LAKEHOUSE_HOME")
    os.environ["LAKEHOUSE_HOME"] = str(home)
    server = None
    try:
        from lakehouse.client import LakehouseClient
        from lakehouse.servers.app import build_server
        from lakehouse.servers.query.servicer import QueryServicer
        from lakehouse.servers.settings import QuerySettings, Settings
        from lakehouse.v1 import query_pb2

        settings = Settings()
        server = build_server(settings)
        with LakehouseClient(server.address) as lh:
            lh.ingest("scan", scan, format="parquet", mode="replace")
            lh.ingest("tiny", qbench.TINY_CSV, format="csv", mode="replace")
            files = [str(settings.lake_root / f.path) for f in lh.get_dataset("scan").current.files]
        runtime = server.runtime
        servicer = QueryServicer(runtime.query, runtime.settings.server.max_message_bytes)
        ctx = ServicerContext()
        batch_rows = QuerySettings().batch_rows
        con = duckdb.connect()
        local_sql = "SELECT * FROM " + qbench.read_parquet_sql(files)
        recorded: list = []

        def local() -> None:
            assert sum(b.num_rows for b in con.sql(local_sql).to_arrow_reader(batch_rows)) == args.scan_rows

        def core() -> None:
            with runtime.query.execute(SCAN_SQL) as stream:
                assert sum(b.num_rows for b in stream) == args.scan_rows

        def servicer_stream() -> None:
            recorded.clear()
            for response in servicer.ExecuteQuery(query_pb2.ExecuteQueryRequest(sql=SCAN_SQL), ctx):
                # The servicer yields responses already in wire format (servers/query/arrow_wire.py).
                recorded.append(query_pb2.ExecuteQueryResponse.FromString(response))

        log(f"server side: {args.repeat} interleaved rounds")
        server_times = interleaved({"in-process": local, "core": core, "servicer": servicer_stream}, args.repeat)

        wire = [query_pb2.ExecuteQueryResponse.FromString(r.SerializeToString()) for r in recorded]
        wire_bytes = sum(len(r.arrow_ipc) for r in wire)
        replay = LakehouseClient("127.0.0.1:1")  # never connects: the recorded bytes replace the RPC
        raw = [r.SerializeToString() for r in wire]
        replay.queries._execute_raw = lambda request, timeout=None: RecordedCall(raw)

        def client_reader() -> None:
            assert sum(b.num_rows for b in replay.query_reader(SCAN_SQL)) == args.scan_rows

        def client_zero_copy() -> None:
            schema, rows = None, 0
            for response in wire:
                if not response.arrow_ipc:
                    continue
                for message in pa.ipc.MessageReader.open_stream(pa.py_buffer(response.arrow_ipc)):
                    if message.type == "schema":
                        schema = pa.ipc.read_schema(message)
                    else:
                        rows += pa.ipc.read_record_batch(message, schema).num_rows
            assert rows == args.scan_rows

        log(f"client side: {args.repeat} interleaved rounds over {len(wire)} recorded messages")
        client_times = interleaved({"reader": client_reader, "zero-copy": client_zero_copy}, args.repeat)
        replay.close()

        small: dict[str, list[float]] = {}
        for sql in (qbench.TINY_SQL, "SELECT 1"):
            request = query_pb2.SqlRequest(sql=sql)
            for _ in range(30):
                servicer.Sql(request, ctx)
            lat = []
            for _ in range(args.calls):
                started = time.perf_counter()
                servicer.Sql(request, ctx)
                lat.append((time.perf_counter() - started) * 1000)
            small[sql] = lat

        base = median(server_times["in-process"])
        n = count_label(args.scan_rows)
        table = Table(f"where a {n}-row SELECT * goes, in-process, no network (median of {args.repeat})")
        table.add(f"DuckDB read_parquet -> Arrow reader, {n} rows (s)", fmt_num(base, "s"), fmt_num(base, "s"), "1.00x")
        for key, label in (
            ("core", "QueryCore.execute consumed"),
            ("servicer", "QueryServicer.ExecuteQuery + serialize"),
        ):
            t = median(server_times[key])
            table.add(f"{label} (s)", fmt_num(t, "s"), fmt_num(base, "s"), f"{t / base:.2f}x")
        for key, label in (
            ("reader", "client query_reader decode of the replies"),
            ("zero-copy", "  alt: per-message zero-copy decode"),
        ):
            t = median(client_times[key])
            table.add(f"{label} (s)", fmt_num(t, "s"), fmt_num(base, "s"), f"{t / base:.2f}x")
        table.notes.append(f"{len(wire)} gRPC messages, {wire_bytes / benchlib.MB:.1f} MB of Arrow IPC")
        for sql, lat in small.items():
            table.add(
                f"QueryServicer.Sql {sql!r} p50 / p90 (ms)", f"{percentile(lat, 50):.3f} / {percentile(lat, 90):.3f}"
            )
        text = table.render()
        if args.cprofile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(5):
                servicer_stream()
            profile.disable()
            text += "\n\n-- cProfile: 5 x QueryServicer.ExecuteQuery (SELECT * FROM scan), by own time --\n"
            text += _top(profile, 12)
            profile = cProfile.Profile()
            request = query_pb2.SqlRequest(sql=qbench.TINY_SQL)
            profile.enable()
            for _ in range(args.calls):
                servicer.Sql(request, ctx)
            profile.disable()
            text += f"\n\n-- cProfile: {args.calls} x QueryServicer.Sql ({qbench.TINY_SQL}), by own time --\n"
            text += _top(profile, 15)
        print(text, flush=True)
        (benchlib.DATA / "profile_query.table.txt").write_text(text + "\n")
        con.close()
    finally:
        if server is not None:
            server.stop(0)
        if saved is None:
            os.environ.pop("LAKEHOUSE_HOME", None)
        else:
            os.environ["LAKEHOUSE_HOME"] = saved
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
