"""Where one vector search call spends its time: every layer from raw FAISS to a full
Lakehouse server, measured side by side in one run (calls interleaved one by one).

    python bench/profile_search.py [--n 20000] [--dim 384] [--queries 2000] [--ef 32] [--cprofile]

Layers (each includes the ones above it):

1. ``faiss``: ``IndexHNSWFlat.search`` on the same vectors (M, efConstruction of the corpus).
2. ``core``: ``VectorCore.search`` (validation, the corpus read lock, id/metadata lookup).
3. ``servicer``: ``VectorServicer.Search`` on a parsed request, reply serialized (no network).
4. ``interceptors``: the same through the server's interceptors, in-process (a recorded
   ``HandlerCallDetails``; the handler they return is called directly).
5. ``grpc bare``: a ``grpc.server`` with no interceptors hosting the servicer, called over
   loopback with a raw channel.
6. ``grpc server``: ``build_server`` (every interceptor the product runs), raw channel.
7. ``grpc factory``: the same server through ``lakehouse.api.channel.open_channel``
   (deadline, retry policy, client tracing interceptor, error mapping).

No network beyond loopback, no Envoy (``bench/vector.py`` measures those). Reports, never
asserts. ``--cprofile`` adds the top functions of the in-process interceptor layer.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import tempfile
from concurrent import futures
from pathlib import Path

import faiss
import grpc
import numpy as np
from benchlib import ServicerContext, Table, interleave_queries, log, percentile

from lakehouse.api.channel import open_channel
from lakehouse.api.vector import Item
from lakehouse.servers.app import build_server, server_interceptors
from lakehouse.servers.settings import ServerSettings, Settings, VectorSettings
from lakehouse.servers.vector.servicer import VectorServicer
from lakehouse.v1 import vector_pb2, vector_pb2_grpc

CORPUS = "probe"
K = 10
SEED = 11
ADD_BATCH = 1000
WARMUP = 100
SEARCH_METHOD = "/lakehouse.v1.VectorService/Search"


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--ef", type=int, default=32)
    ap.add_argument("--cprofile", action="store_true")
    args = ap.parse_args()

    rng = np.random.default_rng(SEED)
    vectors = unit(rng.standard_normal((args.n, args.dim)))
    queries = unit(rng.standard_normal((args.queries, args.dim)))
    home = Path(tempfile.mkdtemp(prefix="lh-profile-search-"))
    lh = None
    try:
        settings = Settings(home=home, server=ServerSettings(grpc_port=0), vector=VectorSettings())
        lh = build_server(settings, "storage,catalog,vector")
        core = lh.runtime.vector
        core.create_corpus(CORPUS, dimension=args.dim, metric="cosine")
        log(f"adding {args.n} x {args.dim}")
        for start in range(0, args.n, ADD_BATCH):
            rows = vectors[start : start + ADD_BATCH]
            core.add(CORPUS, [Item(str(start + i), vector=v, metadata={"n": start + i}) for i, v in enumerate(rows)])
        info = core.get_corpus(CORPUS)

        raw = faiss.IndexHNSWFlat(args.dim, info.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        raw.hnsw.efConstruction = info.ef_construction
        raw.add(vectors)
        raw.hnsw.efSearch = args.ef
        faiss.omp_set_num_threads(1)

        servicer = VectorServicer(core)
        context = ServicerContext()
        requests = [vector_pb2.SearchRequest(corpus=CORPUS, vector=q.tolist(), k=K, ef_search=args.ef) for q in queries]
        wire = [r.SerializeToString() for r in requests]

        def in_process_servicer(i: int) -> None:
            request = vector_pb2.SearchRequest.FromString(wire[i])
            servicer.Search(request, context).SerializeToString()

        resolve = _intercepted(servicer, settings)

        def through_interceptors(i: int) -> None:
            handler = resolve()
            request = handler.request_deserializer(wire[i])
            handler.response_serializer(handler.unary_unary(request, context))

        bare = grpc.server(futures.ThreadPoolExecutor(max_workers=settings.server.max_workers))
        vector_pb2_grpc.add_VectorServiceServicer_to_server(servicer, bare)
        bare_port = bare.add_insecure_port("127.0.0.1:0")
        bare.start()
        bare_channel = grpc.insecure_channel(f"127.0.0.1:{bare_port}")
        bare_stub = vector_pb2_grpc.VectorServiceStub(bare_channel)
        raw_channel = grpc.insecure_channel(lh.address)
        raw_stub = vector_pb2_grpc.VectorServiceStub(raw_channel)
        factory = open_channel(lh.address, settings.channel)
        factory_stub = vector_pb2_grpc.VectorServiceStub(factory.grpc)
        no_retry = open_channel(lh.address, settings.channel.model_copy(update={"retry_max_attempts": 1}))
        no_retry_stub = vector_pb2_grpc.VectorServiceStub(no_retry.grpc)

        layers = {
            "faiss": lambda i: raw.search(queries[i : i + 1], K),
            "core": lambda i: core.search(CORPUS, vector=queries[i], k=K, ef_search=args.ef),
            "servicer": in_process_servicer,
            "interceptors": through_interceptors,
            "grpc bare": lambda i: bare_stub.Search(requests[i]),
            "grpc server": lambda i: raw_stub.Search(requests[i]),
            "grpc factory": lambda i: factory.call(factory_stub.Search, requests[i]),
            "(no retries)": lambda i: no_retry.call(no_retry_stub.Search, requests[i]),
        }
        interleave_queries(layers, min(WARMUP, args.queries))
        times, _ = interleave_queries(layers, args.queries)

        table = Table(f"one search call, layer by layer ({args.n} x {args.dim}, k={K}, efSearch={args.ef}, p50)")
        base = percentile(times["faiss"], 50)
        previous = 0.0
        for name in layers:
            p50 = percentile(times[name], 50)
            table.add(
                f"{name} p50 / p90 (ms)",
                f"{p50:.3f} / {percentile(times[name], 90):.3f}",
                f"{base:.3f}",
                f"{p50 / base:.2f}x ({p50 - previous:+.3f} ms over the layer above)",
            )
            previous = p50
        table.emit("profile_search")
        if args.cprofile:
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(args.queries):
                through_interceptors(i)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
        bare_channel.close()
        raw_channel.close()
        factory.close()
        no_retry.close()
        bare.stop(0)
    finally:
        if lh is not None:
            lh.stop(0)
        shutil.rmtree(home, ignore_errors=True)


def _intercepted(servicer: VectorServicer, settings: Settings):
    """A function that resolves the Search handler through the product's interceptors, as
    the gRPC server does on every call, and returns it."""
    handlers = grpc.method_handlers_generic_handler(
        "lakehouse.v1.VectorService",
        {
            "Search": grpc.unary_unary_rpc_method_handler(
                servicer.Search,
                request_deserializer=vector_pb2.SearchRequest.FromString,
                response_serializer=vector_pb2.SearchResponse.SerializeToString,
            )
        },
    )
    interceptors = server_interceptors(settings, traced=False)
    details = _Details(SEARCH_METHOD)

    def continuation_at(index: int):
        def continuation(call_details):
            if index == len(interceptors):
                return handlers.service(call_details)
            return interceptors[index].intercept_service(continuation_at(index + 1), call_details)

        return continuation

    first = continuation_at(0)
    return lambda: first(details)


if __name__ == "__main__":
    main()
