"""IngestService: a client stream of chunks -> IngestCore -> result (and progress)."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator

import grpc

from lakehouse.servers.catalog.convert import schema_to_pb
from lakehouse.servers.catalog.model import WriteMode
from lakehouse.servers.errors import InvalidArgument, ResourceExhausted, invalid_field
from lakehouse.servers.ingest.core import IngestProgress, IngestResult, IngestSpec
from lakehouse.v1 import ingest_pb2, ingest_pb2_grpc

# Header Envoy's transcoder adds to requests that arrived over REST.
REST_MARKER_HEADER = "x-envoy-original-path"
DEFAULT_MODE = WriteMode.APPEND
FORMATS = ("auto", "csv", "tsv", "json", "ndjson", "parquet")


def _mode(value: str) -> WriteMode:
    try:
        return WriteMode((value or DEFAULT_MODE.value).lower())
    except ValueError:
        raise invalid_field("mode", f"unknown mode {value!r}; use one of {[m.value for m in WriteMode]}") from None


def _format(value: str) -> str:
    fmt = (value or "auto").lower()
    if fmt not in FORMATS:
        raise invalid_field("format", f"unknown format {value!r}; use one of {list(FORMATS)}")
    return fmt


def _is_rest(context: grpc.ServicerContext) -> bool:
    return any(key == REST_MARKER_HEADER for key, _ in context.invocation_metadata())


def _open(request_iterator, context, max_rest_bytes: int) -> tuple[IngestSpec, Iterator[bytes]]:
    first = next(request_iterator, None)
    if first is None:
        raise InvalidArgument("the upload stream had no messages", reason="EMPTY_INPUT")
    spec = IngestSpec(
        dataset=first.dataset,
        format=_format(first.format),
        mode=_mode(first.mode),
        primary_key=tuple(first.primary_key),
        schema=first.schema,
    )
    limit = max_rest_bytes if _is_rest(context) else None

    def chunks() -> Iterator[bytes]:
        seen = 0
        for message in itertools.chain([first], request_iterator):
            data = message.body.data
            seen += len(data)
            if limit is not None and seen > limit:
                raise ResourceExhausted(
                    f"REST upload exceeds {limit} bytes; use the gRPC stream for larger files",
                    reason="REQUEST_TOO_LARGE",
                    metadata={"limit_bytes": str(limit)},
                )
            if data:
                yield data

    return spec, chunks()


def result_to_pb(r: IngestResult) -> ingest_pb2.IngestResult:
    return ingest_pb2.IngestResult(
        dataset=r.dataset,
        version=r.version,
        mode=r.mode.value if isinstance(r.mode, WriteMode) else str(r.mode),
        rows=r.rows,
        bytes_in=r.bytes_in,
        bytes_written=r.bytes_written,
        files=r.files,
        source_hash=r.source_hash,
        deduplicated=r.deduplicated,
        schema=schema_to_pb(r.schema),
    )


def progress_to_pb(p: IngestProgress) -> ingest_pb2.IngestProgress:
    return ingest_pb2.IngestProgress(phase=p.phase, bytes_done=p.bytes_done, rows_done=p.rows_done)


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, runtime) -> None:
        self._rt = runtime

    def Ingest(self, request_iterator, context):
        spec, chunks = _open(request_iterator, context, self._rt.settings.ingest.max_rest_body_bytes)
        result = self._rt.ingest.ingest(spec, chunks, cancelled=lambda: not context.is_active())
        return result_to_pb(result)

    def IngestWithProgress(self, request_iterator, context):
        spec, chunks = _open(request_iterator, context, self._rt.settings.ingest.max_rest_body_bytes)
        events: queue.Queue = queue.Queue()
        done = object()

        def run() -> None:
            try:
                result = self._rt.ingest.ingest(
                    spec, chunks, on_progress=events.put, cancelled=lambda: not context.is_active()
                )
                events.put(result)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the RPC thread
                events.put(exc)
            finally:
                events.put(done)

        worker = threading.Thread(target=run, name="ingest-progress", daemon=True)
        worker.start()
        while (event := events.get()) is not done:
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, IngestResult):
                yield ingest_pb2.IngestEvent(result=result_to_pb(event))
            else:
                yield ingest_pb2.IngestEvent(progress=progress_to_pb(event))
        worker.join()


def register(server: grpc.Server, runtime) -> None:
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(runtime), server)
