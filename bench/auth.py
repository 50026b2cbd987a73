"""What the auth interceptor adds to a call: auth on vs off, side by side in one run.

    python bench/auth.py [--calls 1000] [--items 2000] [--dim 64] [--micro 20000]

a. in-process, no network: one unary call (a small ``Sql`` request, a vector ``Search``
   request) through the server's interceptor chain with auth on (a valid key, resolved
   once and then cached, as every call after a key's first is) and off: the per-call cost
   of the check itself, in µs. Target: <= 0.1 ms (issue 14).
b. two embedded systems (server process + Envoy each), identical but for
   ``auth.enabled``; calls alternate between them one by one: ``Sql`` ``SELECT 1`` over
   gRPC and a vector ``Search`` (k=10 of ``--items`` random vectors) over gRPC, with the
   admin key on the auth side. p50 difference, target <= 0.1 ms.

Reports, never asserts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import benchlib
import numpy as np
from benchlib import ServicerContext, Table, interleave_queries, log, percentile, running_system

TARGET_MS = 0.1
CORPUS = "auth_bench"
SEED = 14
WARMUP = 100
MICRO_BLOCKS = 10


def bench_micro(calls: int) -> Table:
    import grpc

    from lakehouse.servers.app import server_interceptors
    from lakehouse.servers.auth.core import AuthCore
    from lakehouse.servers.auth.interceptor import Authenticator
    from lakehouse.servers.settings import Settings
    from lakehouse.v1 import query_pb2, vector_pb2

    home = Path(tempfile.mkdtemp(prefix="lakehouse-bench-auth-"))
    try:
        core = AuthCore(home / "catalog.sqlite")
        core.bootstrap(home / "admin.key", home / "internal.key")
        key = (home / "admin.key").read_text().strip()
        shapes = {
            "Sql": (
                "/lakehouse.v1.QueryService/Sql",
                query_pb2.SqlRequest.FromString,
                query_pb2.SqlRequest(sql="SELECT 1").SerializeToString(),
            ),
            "Search": (
                "/lakehouse.v1.VectorService/Search",
                vector_pb2.SearchRequest.FromString,
                vector_pb2.SearchRequest(corpus="c", text="forklift", k=10).SerializeToString(),
            ),
        }
        table = Table(f"in-process: one unary call through the server's interceptors ({calls} calls)")
        for label, (method, deserialize, raw) in shapes.items():
            handler = grpc.unary_unary_rpc_method_handler(
                lambda request, context: b"", request_deserializer=deserialize
            )
            details = type("Details", (grpc.HandlerCallDetails,), {"method": method, "invocation_metadata": ()})()
            context = ServicerContext()
            context.invocation_metadata = lambda: (("authorization", f"Bearer {key}"),)  # type: ignore[method-assign]

            def chain(enabled: bool, handler=handler, details=details, context=context, raw=raw):
                settings = Settings(home=home, auth={"enabled": enabled})
                authenticator = Authenticator(core.authenticate, settings.auth.cache_ttl_s)
                interceptors = server_interceptors(settings, traced=False, authenticator=authenticator)

                def continuation_at(index: int):
                    def continuation(call_details):
                        if index == len(interceptors):
                            return handler
                        return interceptors[index].intercept_service(continuation_at(index + 1), call_details)

                    return continuation

                first = continuation_at(0)

                def call(i: int) -> None:
                    h = first(details)
                    h.unary_unary(h.request_deserializer(raw), context)

                return call

            variants = {"on": chain(True), "off": chain(False)}
            interleave_queries(variants, WARMUP)
            per_call = {name: float("inf") for name in variants}
            block = max(calls // MICRO_BLOCKS, 1)
            for _ in range(MICRO_BLOCKS):
                for name, fn in variants.items():
                    started = time.perf_counter()
                    for i in range(block):
                        fn(i)
                    per_call[name] = min(per_call[name], (time.perf_counter() - started) / block * 1e6)
            added_ms = (per_call["on"] - per_call["off"]) / 1000
            table.add(
                f"{label} per call (µs)",
                f"{per_call['on']:.2f}",
                f"{per_call['off']:.2f}",
                f"+{per_call['on'] - per_call['off']:.2f} µs",
                f"<= {TARGET_MS} ms added",
                added_ms <= TARGET_MS,
            )
        table.notes.append(
            f"the handler does nothing: the difference is the auth check (best of {MICRO_BLOCKS} blocks)"
        )
        core.close()
        return table
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_systems(args: argparse.Namespace) -> Table:
    rng = np.random.default_rng(SEED)
    vectors = rng.standard_normal((args.items, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.calls + WARMUP, args.dim)).astype(np.float32).tolist()
    with (
        running_system({"LAKEHOUSE_AUTH__ENABLED": "true"}) as on_sys,
        running_system({"LAKEHOUSE_AUTH__ENABLED": "false"}) as off_sys,
    ):
        key = on_sys.settings.auth_bootstrap_key_file.read_text().strip()
        # Both send the key (the auth-off server ignores it): the difference is the server's check,
        # not the client's metadata.
        clients = {"on": on_sys.client(api_key=key), "off": off_sys.client(api_key=key)}
        for lh in clients.values():
            lh.create_corpus(CORPUS, dimension=args.dim, metric="cosine")
            items = [{"id": f"i{j}", "vector": v.tolist()} for j, v in enumerate(vectors)]
            for start in range(0, len(items), 1000):
                lh.add_items(CORPUS, items[start : start + 1000])
        log("measuring")
        sql, _ = interleave_queries({n: (lambda i, lh=lh: lh.sql("SELECT 1")) for n, lh in clients.items()}, args.calls)
        search, _ = interleave_queries(
            {n: (lambda i, lh=lh: lh.search(CORPUS, vector=queries[i], k=10)) for n, lh in clients.items()}, args.calls
        )
        for lh in clients.values():
            lh.close()
    table = Table(f"end to end over gRPC through Envoy ({args.calls} calls each, interleaved)")
    for label, lat in (("Sql SELECT 1", sql), ("vector Search k=10", search)):
        on, off = percentile(lat["on"], 50), percentile(lat["off"], 50)
        table.add(
            f"{label} p50 (ms)",
            f"{on:.3f}",
            f"{off:.3f}",
            f"{on / off:.3f}x (+{on - off:.3f} ms)",
            f"<= +{TARGET_MS} ms",
            on - off <= TARGET_MS,
        )
    table.notes.append("lakehouse = auth on (admin key, cached after its first check); baseline = auth off")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--micro", type=int, default=20000)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    tables = [bench_micro(args.micro), bench_systems(args)]
    text = benchlib.environment() + "\n\n" + "\n\n".join(t.render() for t in tables)
    print(text, flush=True)
    (benchlib.DATA / "auth.table.txt").parent.mkdir(parents=True, exist_ok=True)
    (benchlib.DATA / "auth.table.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
