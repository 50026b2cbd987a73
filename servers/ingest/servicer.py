"""IngestService: a client stream of chunks -> IngestCore -> result (and progress)."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator

import grpc

from lakehouse.api.catalog import WriteMode, schema_to_pb
from lakehouse.api.errors import InvalidArgument
from lakehouse.servers.ingest.core import IngestProgress, IngestResult, IngestSpec
from lakehouse.servers.ingest.embed import EmbedTarget, embed_target
from lakehouse.servers.ingest.model import ReadOptions, ReadSpec
from lakehouse.servers.memory import release_arrow_memory
from lakehouse.v1 import ingest_pb2, ingest_pb2_grpc

# Header Envoy's transcoder adds to requests that arrived over REST.
REST_MARKER_HEADER = "x-envoy-original-path"
DEFAULT_MODE = WriteMode.APPEND
DEFAULT_FORMAT = "auto"


def _is_rest(context: grpc.ServicerContext) -> bool:
    return any(key == REST_MARKER_HEADER for key, _ in context.invocation_metadata())


def _open(request_iterator, context, max_rest_bytes: int) -> tuple[IngestSpec, Iterator[bytes], EmbedTarget | None]:
    first = next(request_iterator, None)
    if first is None:
        raise InvalidArgument("the upload stream had no messages", reason="EMPTY_INPUT")
    target = embed_target(
        first.embed_corpus,
        first.embed_id_column,
        tuple(first.embed_text_columns),
        tuple(first.embed_metadata_columns),
    )
    spec = IngestSpec(
        dataset=first.dataset,
        format=(first.format or DEFAULT_FORMAT).lower(),  # validated by the core, like every field
        mode=(first.mode or DEFAULT_MODE.value).lower(),  # type: ignore[arg-type]
        primary_key=tuple(first.primary_key),
        schema=first.schema,
        read=read_spec_from_pb(first),
    )
    limit = max_rest_bytes if _is_rest(context) else None

    def chunks() -> Iterator[bytes]:
        seen = 0
        for message in itertools.chain([first], request_iterator):
            data = message.body.data
            seen += len(data)
            if limit is not None and seen > limit:
                # Not RESOURCE_EXHAUSTED (429): retrying the same body cannot succeed.
                raise InvalidArgument(
                    f"REST upload exceeds {limit} bytes (ingest.max_rest_body_bytes); use the gRPC stream"
                    " for larger files",
                    reason="REQUEST_TOO_LARGE",
                    metadata={"limit_bytes": str(limit), "setting": "ingest.max_rest_body_bytes"},
                )
            if data:
                yield data

    return spec, chunks(), target


def read_spec_from_pb(m: ingest_pb2.IngestRequest) -> ReadSpec:
    """The request's read options, as given (the core validates them)."""
    return ReadSpec(
        delimiter=m.delimiter,
        quote=m.quote,
        escape=m.escape,
        header=m.header,
        skip=m.skip if m.HasField("skip") else None,
        comment=m.comment,
        null=tuple(m.null),
        encoding=m.encoding,
        compression=m.compression,
        columns=tuple(m.columns),
        sheet=m.sheet,
        sheet_dataset_pattern=m.sheet_dataset_pattern,
    )


def read_options_to_pb(o: ReadOptions) -> ingest_pb2.ReadOptions:
    return ingest_pb2.ReadOptions(
        format=o.format,
        delimiter=o.delimiter,
        quote=o.quote,
        escape=o.escape,
        header=o.header,
        skip=o.skip,
        comment=o.comment,
        null=list(o.null),
        encoding=o.encoding,
        compression=o.compression,
        sheet=o.sheet,
        header_rows=o.header_rows,
        json_format=o.json_format,
    )


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
        embedded=r.embedded,
        header=r.header,
        skipped_lines=r.skipped_lines,
        read_options=read_options_to_pb(r.read) if r.read is not None else None,
        reasoning=r.reasoning,
        renames=[ingest_pb2.ColumnRename(index=n.index, original=n.original, name=n.name) for n in r.renames],
        sheets=[result_to_pb(sheet) for sheet in r.sheets],
    )


def progress_to_pb(p: IngestProgress) -> ingest_pb2.IngestProgress:
    return ingest_pb2.IngestProgress(phase=p.phase, bytes_done=p.bytes_done, rows_done=p.rows_done)


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
