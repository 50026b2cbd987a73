"""Channel-factory overhead: the same small calls over a raw grpc channel and over
channels built by ``lakehouse.api.channel.open_channel``, side by side in one run.

    python bench/channel.py [--calls 2000]

Variants, each calling the server process directly (no Envoy) and through Envoy:
* raw: ``grpc.insecure_channel`` with only the message limits (what the client used before);
* factory: ``open_channel`` defaults (keepalive, retry service config, trace propagation);
* factory-no-trace: the factory with ``tracing=False``.

Calls: ``CatalogService.ListDatasets`` (tiny unary) and ``QueryService.Sql('SELECT 1')``.
Target (issue): the factory adds no measurable latency (ratio to raw ~1.00x).
"""

from __future__ import annotations

import argparse
import time

import benchlib
import grpc
from benchlib import Table, log, percentile, running_system

DEFAULT_CALLS = 2000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    from lakehouse.api.channel import open_channel
    from lakehouse.api.config import ChannelSettings
    from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc, query_pb2, query_pb2_grpc

    print(f"channel: {args.calls} calls per variant and method; {benchlib.environment()}", flush=True)
    with running_system() as system:
        table = Table(f"p50 / p99 per call (ms), {args.calls} interleaved calls each")
        for where, address in (("direct", system.state.grpc_upstream), ("envoy", system.grpc_address)):
            limits = ChannelSettings().max_message_bytes
            raw = grpc.insecure_channel(
                address,
                options=[("grpc.max_receive_message_length", limits), ("grpc.max_send_message_length", limits)],
            )
            factory = open_channel(address)
            plain = open_channel(address, ChannelSettings(tracing=False))
            channels = {"raw": raw, "factory": factory.grpc, "factory-no-trace": plain.grpc}
            calls = {
                "ListDatasets": lambda ch: catalog_pb2_grpc.CatalogServiceStub(ch).ListDatasets(
                    catalog_pb2.ListDatasetsRequest(), timeout=30
                ),
                "Sql SELECT 1": lambda ch: query_pb2_grpc.QueryServiceStub(ch).Sql(
                    query_pb2.SqlRequest(sql="SELECT 1"), timeout=30
                ),
            }
            for method, fn in calls.items():
                times: dict[str, list[float]] = {name: [] for name in channels}
                for ch in channels.values():
                    for _ in range(50):
                        fn(ch)  # warm-up: connect, caches
                for i in range(args.calls):
                    order = list(channels.items()) if i % 2 == 0 else list(reversed(channels.items()))
                    for name, ch in order:
                        started = time.perf_counter()
                        fn(ch)
                        times[name].append((time.perf_counter() - started) * 1000)
                base = percentile(times["raw"], 50)
                for name, samples in times.items():
                    p50, p99 = percentile(samples, 50), percentile(samples, 99)
                    label = f"{where} {method}: {name}"
                    table.add(label, f"{p50:.3f} / {p99:.3f}", f"{base:.3f}", f"{p50 / base:.2f}x")
                log(f"{where} {method} done")
            raw.close()
            factory.close()
            plain.close()
        table.emit("channel")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
