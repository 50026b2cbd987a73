"""Recording overhead: the same calls with the observer recording every RPC and without,
side by side in one run.

    python bench/observer.py [--calls 2000] [--items 5000] [--dim 64] [--k 10] [--micro 20000]

Two embedded systems (server process + Envoy each) on one machine, identical but for
``observer.enabled``; calls alternate between them one by one (the order reversed every
other call), so background noise hits both alike. Measured:

a. ``POST /v1/sql`` ``SELECT 1`` through Envoy (REST, keep-alive), and ``Sql`` over gRPC;
b. vector search (k nearest of ``--items`` random ``--dim``-d vectors, cosine) through
   Envoy: ``POST /v1/corpora/{c}:search`` and ``Search`` over gRPC.
   Target for both: p50 with recording <= 1.05x p50 without (issue 12).
c. in-process, no network: one ``ListDatasets`` call resolved through the server's
   interceptors as gRPC does it (handler lookup, behavior, response serializer), with and
   without the recording interceptor: the per-call cost of recording itself, in µs.

The recording system also flushes its journal (every ``observer.flush_interval_s``) while
it is measured. Reports, never asserts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import benchlib
import httpx
import numpy as np
from benchlib import ServicerContext, Table, interleave_queries, log, percentile, running_system

TARGET = 1.05
CORPUS = "observer_bench"
SEED = 12
ADD_BATCH = 1000
WARMUP = 200
MICRO_BLOCKS = 10


def fill_corpus(lh, vectors: np.ndarray) -> None:
    lh.create_corpus(CORPUS, dimension=vectors.shape[1], metric="cosine")
    for start in range(0, len(vectors), ADD_BATCH):
        part = vectors[start : start + ADD_BATCH]
        items = [
            {"id": f"i{start + j}", "vector": v.tolist(), "metadata": {"n": start + j}} for j, v in enumerate(part)
        ]
        lh.add_items(CORPUS, items)


def ratio_row(table: Table, label: str, on: list[float], off: list[float]) -> None:
    p50_on, p50_off = percentile(on, 50), percentile(off, 50)
    table.add(
        f"{label} p50 (ms)",
        f"{p50_on:.3f}",
        f"{p50_off:.3f}",
        f"{p50_on / p50_off:.3f}x",
        f"<= {TARGET}x",
        p50_on / p50_off <= TARGET,
    )
    table.add(
        "  p95 (ms)",
        f"{percentile(on, 95):.3f}",
        f"{percentile(off, 95):.3f}",
        f"{percentile(on, 95) / percentile(off, 95):.3f}x",
    )


def bench_systems(args: argparse.Namespace) -> Table:
    rng = np.random.default_rng(SEED)
    vectors = rng.standard_normal((args.items, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.calls + WARMUP, args.dim)).astype(np.float32).tolist()
    with (
        running_system({"LAKEHOUSE_OBSERVER__ENABLED": "true"}) as on_sys,
        running_system({"LAKEHOUSE_OBSERVER__ENABLED": "false"}) as off_sys,
    ):
        systems = {"on": on_sys, "off": off_sys}
        clients = {name: s.client() for name, s in systems.items()}
        rest = {name: httpx.Client(base_url=s.rest, timeout=30) for name, s in systems.items()}
        try:
            for name, lh in clients.items():
                fill_corpus(lh, vectors)
                log(f"{name}: corpus of {args.items} x {args.dim} ready")

            def sql_rest(name: str):
                def run(i: int) -> None:
                    reply = rest[name].post("/v1/sql", json={"sql": "SELECT 1"})
                    assert reply.status_code == 200, reply.text

                return run

            def sql_grpc(name: str):
                return lambda i: clients[name].sql("SELECT 1")

            def search_rest(name: str):
                def run(i: int) -> None:
                    body = {"vector": queries[i], "k": args.k}
                    reply = rest[name].post(f"/v1/corpora/{CORPUS}:search", json=body)
                    assert reply.status_code == 200, reply.text

                return run

            def search_grpc(name: str):
                return lambda i: clients[name].search(CORPUS, vector=queries[i], k=args.k)

            table = Table(
                f"recording on vs off: {args.calls} calls each, interleaved"
                f" (corpus {args.items} x {args.dim}, k={args.k})"
            )
            for label, make in (
                ("sql SELECT 1, REST", sql_rest),
                ("sql SELECT 1, gRPC", sql_grpc),
                ("vector search, REST", search_rest),
                ("vector search, gRPC", search_grpc),
            ):
                variants = {name: make(name) for name in systems}
                interleave_queries(variants, WARMUP)
                lat, _ = interleave_queries(variants, args.calls)
                ratio_row(table, label, lat["on"], lat["off"])
                log(f"{label}: p50 on {percentile(lat['on'], 50):.3f} ms, off {percentile(lat['off'], 50):.3f} ms")
            stats = clients["on"].observer_stats(3600)
            table.notes.append(
                f"the recording system recorded {stats.recorded} ops, journaled {stats.journaled}, "
                f"journal failures {stats.journal_failures}, dropped {stats.dropped}"
            )
            table.notes.append("'lakehouse' = recording on, 'baseline' = recording off (observer.enabled=false)")
            return table
        finally:
            for c in rest.values():
                c.close()
            for c in clients.values():
                c.close()


def bench_micro(calls: int) -> Table:
    """The per-call cost of the interceptor chain, in process."""
    import time

    import grpc

    from lakehouse.servers.app import server_interceptors
    from lakehouse.servers.observer.recorder import RingRecorder
    from lakehouse.servers.settings import Settings
    from lakehouse.servers.storage.core import StorageCore
    from lakehouse.v1 import catalog_pb2

    home = Path(tempfile.mkdtemp(prefix="lakehouse-bench-observer-"))
    try:
        settings = Settings(home=home)
        storage = StorageCore(settings)
        recorder = RingRecorder(storage.lake(), storage.journal, settings.observer)
        reply = catalog_pb2.ListDatasetsResponse(
            datasets=[catalog_pb2.Dataset(name=f"d{i}") for i in range(3)], next_page_token=""
        )
        handlers = grpc.method_handlers_generic_handler(
            "lakehouse.v1.CatalogService",
            {
                "ListDatasets": grpc.unary_unary_rpc_method_handler(
                    lambda request, context: reply,
                    request_deserializer=catalog_pb2.ListDatasetsRequest.FromString,
                    response_serializer=catalog_pb2.ListDatasetsResponse.SerializeToString,
                )
            },
        )
        raw = catalog_pb2.ListDatasetsRequest(page_size=10).SerializeToString()
        details = type(
            "Details", (grpc.HandlerCallDetails,), {"method": "/lakehouse.v1.CatalogService/ListDatasets",
                                                     "invocation_metadata": ()}
        )()  # fmt: skip
        context = ServicerContext()
        context.code = lambda: None  # type: ignore[attr-defined]
        context.trailing_metadata = lambda: ()  # type: ignore[attr-defined]

        def chain(with_recorder: bool):
            interceptors = server_interceptors(settings, traced=False, recorder=recorder if with_recorder else None)

            def continuation_at(index: int):
                def continuation(call_details):
                    if index == len(interceptors):
                        return handlers.service(call_details)
                    return interceptors[index].intercept_service(continuation_at(index + 1), call_details)

                return continuation

            first = continuation_at(0)

            def call(i: int) -> None:
                handler = first(details)
                request = handler.request_deserializer(raw)
                handler.response_serializer(handler.unary_unary(request, context))

            return call

        variants = {"on": chain(True), "off": chain(False)}
        interleave_queries(variants, WARMUP)
        # Blocks of calls, alternating; the best block of each (the least disturbed).
        per_call: dict[str, float] = {name: float("inf") for name in variants}
        block = max(calls // MICRO_BLOCKS, 1)
        for _ in range(MICRO_BLOCKS):
            for name, fn in variants.items():
                started = time.perf_counter()
                for i in range(block):
                    fn(i)
                per_call[name] = min(per_call[name], (time.perf_counter() - started) / block * 1e6)
        recorder.close()
        table = Table(f"in-process: one unary call through the server's interceptors ({calls} calls)")
        table.add(
            "per call (µs)",
            f"{per_call['on']:.2f}",
            f"{per_call['off']:.2f}",
            f"+{per_call['on'] - per_call['off']:.2f} µs",
        )
        table.notes.append(
            "the handler itself does nothing: the difference is what recording costs a call (best of"
            f" {MICRO_BLOCKS} blocks)"
        )
        return table
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--micro", type=int, default=20000)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    tables = [bench_micro(args.micro), bench_systems(args)]
    text = benchlib.environment() + "\n\n" + "\n\n".join(t.render() for t in tables)
    print(text, flush=True)
    (benchlib.DATA / "observer.table.txt").parent.mkdir(parents=True, exist_ok=True)
    (benchlib.DATA / "observer.table.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
