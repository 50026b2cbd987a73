"""IngestService: a client stream of chunks -> IngestCore -> result (and progress)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import grpc

from lakehouse.api.errors import InvalidArgument
from lakehouse.api.ingest import (
    REQUEST_TOO_LARGE,
    EmbedTarget,
    IngestSpec,
    progress_to_pb,
    result_to_pb,
    spec_from_pb,
)
from lakehouse.api.protoconv import opened_upload
from lakehouse.servers.auth.context import check_dataset
from lakehouse.servers.memory import release_arrow_memory
from lakehouse.v1 import ingest_pb2, ingest_pb2_grpc

# Header Envoy's transcoder adds to requests that arrived over REST.
REST_MARKER_HEADER = "x-envoy-original-path"


def _is_rest(context: grpc.ServicerContext) -> bool:
    return any(key == REST_MARKER_HEADER for key, _ in context.invocation_metadata())


def _open(request_iterator, context, max_rest_bytes: int) -> tuple[IngestSpec, Iterator[bytes], EmbedTarget | None]:
    first, uploaded = opened_upload(request_iterator)
    spec, target = spec_from_pb(first)
    check_dataset(spec.dataset)  # a writer bound to some datasets writes only those
    if not _is_rest(context):
        return spec, uploaded, target
    limit = max_rest_bytes

    def chunks() -> Iterator[bytes]:
        seen = 0
        for data in uploaded:
            seen += len(data)
            if seen > limit:
                # Not RESOURCE_EXHAUSTED (429): retrying the same body cannot succeed.
                raise InvalidArgument(
                    f"REST upload exceeds {limit} bytes (ingest.max_rest_body_bytes); use the gRPC stream"
                    " for larger files",
                    reason=REQUEST_TOO_LARGE,
                    metadata={"limit_bytes": str(limit), "setting": "ingest.max_rest_body_bytes"},
                )
            yield data

    return spec, chunks(), target


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, core, max_rest_body_bytes: int) -> None:
        self._core = core
        self._max_rest = max_rest_body_bytes

    def _run(self, request_iterator, context, on_progress=None) -> ingest_pb2.IngestResult:
        spec, chunks, target = _open(request_iterator, context, self._max_rest)
        try:
            result = self._core.ingest(
                spec, chunks, on_progress=on_progress, cancelled=lambda: not context.is_active(), embed=target
            )
        finally:
            release_arrow_memory()  # the batches were built on this thread (see servers/memory.py)
        return result_to_pb(result)

    def Ingest(self, request_iterator, context):
        return self._run(request_iterator, context)

    def CompactDataset(self, request, context):
        try:
            result = self._core.compact(request.dataset, cancelled=lambda: not context.is_active())
        finally:
            release_arrow_memory()
        return result_to_pb(result)

    def IngestWithProgress(self, request_iterator, context):
        events: queue.Queue = queue.Queue()
        done = object()

        def run() -> None:
            try:
                events.put(self._run(request_iterator, context, on_progress=events.put))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the RPC thread
                events.put(exc)
            finally:
                events.put(done)

        worker = threading.Thread(target=run, name="ingest-progress", daemon=True)
        worker.start()
        while (event := events.get()) is not done:
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, ingest_pb2.IngestResult):
                yield ingest_pb2.IngestEvent(result=event)
            else:
                yield ingest_pb2.IngestEvent(progress=progress_to_pb(event))
        worker.join()


def register(server: grpc.Server, runtime) -> None:
    servicer = IngestServicer(runtime.ingest, runtime.settings.ingest.max_rest_body_bytes)
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)
