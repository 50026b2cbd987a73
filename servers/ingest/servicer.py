"""IngestService: a client stream of chunks -> IngestCore -> result (and progress)."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from lakehouse.api.errors import InvalidArgument, LakehouseError, invalid_field
from lakehouse.servers.catalog.convert import schema_to_pb
from lakehouse.servers.catalog.model import WriteMode
from lakehouse.servers.ingest.core import IngestProgress, IngestResult, IngestSpec
from lakehouse.servers.ingest.model import ReadOptions, ReadSpec
from lakehouse.servers.ingest.xlsx import SHEET_ALL
from lakehouse.servers.memory import release_arrow_memory
from lakehouse.servers.vector.builder import ColumnMapping, embed_version
from lakehouse.v1 import ingest_pb2, ingest_pb2_grpc

# Header Envoy's transcoder adds to requests that arrived over REST.
REST_MARKER_HEADER = "x-envoy-original-path"
DEFAULT_MODE = WriteMode.APPEND
DEFAULT_FORMAT = "auto"


def _mode(value: str) -> WriteMode:
    try:
        return WriteMode((value or DEFAULT_MODE.value).lower())
    except ValueError:
        raise invalid_field("mode", f"unknown mode {value!r}; use one of {[m.value for m in WriteMode]}") from None


def _is_rest(context: grpc.ServicerContext) -> bool:
    return any(key == REST_MARKER_HEADER for key, _ in context.invocation_metadata())


@dataclass(frozen=True)
class EmbedTarget:
    """Embed-on-ingest: which corpus receives the rows, and which columns feed it."""

    corpus: str
    mapping: ColumnMapping


def _embed_target(first: ingest_pb2.IngestRequest) -> EmbedTarget | None:
    if not first.embed_corpus:
        if first.embed_id_column or first.embed_text_columns or first.embed_metadata_columns:
            raise invalid_field("embed_corpus", "required when embed columns are given")
        return None
    if not first.embed_id_column:
        raise invalid_field("embed_id_column", "required with embed_corpus")
    if not first.embed_text_columns:
        raise invalid_field("embed_text_columns", "required with embed_corpus")
    mapping = ColumnMapping(
        id_column=first.embed_id_column,
        text_columns=tuple(first.embed_text_columns),
        metadata_columns=tuple(first.embed_metadata_columns),
    )
    return EmbedTarget(first.embed_corpus, mapping)


def _open(request_iterator, context, max_rest_bytes: int) -> tuple[IngestSpec, Iterator[bytes], EmbedTarget | None]:
    first = next(request_iterator, None)
    if first is None:
        raise InvalidArgument("the upload stream had no messages", reason="EMPTY_INPUT")
    mode = _mode(first.mode)
    target = _embed_target(first)
    required: tuple[str, ...] = ()
    if target is not None:
        m = target.mapping
        required = (m.id_column,) if mode == WriteMode.DELETE else tuple(m.columns)
    read = read_spec_from_pb(first)
    if target is not None and read.sheet == SHEET_ALL:
        raise invalid_field("sheet", "embed-on-ingest reads one sheet; name it instead of '*'")
    spec = IngestSpec(
        dataset=first.dataset,
        format=(first.format or DEFAULT_FORMAT).lower(),  # validated by the core
        mode=mode,
        primary_key=tuple(first.primary_key),
        schema=first.schema,
        required_columns=required,
        read=read,
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


def result_to_pb(r: IngestResult, embedded: int = 0) -> ingest_pb2.IngestResult:
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
        embedded=embedded,
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
    def __init__(self, runtime) -> None:
        self._rt = runtime

    def _embed(self, result: IngestResult, target: EmbedTarget | None) -> int:
        """Embed-on-ingest, after the commit: the version stands even if embedding fails."""
        if target is None or result.deduplicated:
            return 0
        version = self._rt.catalog.get_version(result.dataset, result.version)
        try:
            return embed_version(
                self._rt.vector_api, self._rt.catalog, self._rt.storage.lake(), target.corpus, version, target.mapping
            )
        except LakehouseError as exc:
            self._rt.storage.journal.record(
                "ingest.embed", exc, {"dataset": result.dataset, "version": str(result.version)}
            )
            exc.message = f"ingest committed as version {result.version}, but embedding failed: {exc.message}"
            exc.metadata = {**exc.metadata, "dataset": result.dataset, "committed_version": str(result.version)}
            raise

    def _run(self, request_iterator, context, on_progress=None) -> ingest_pb2.IngestResult:
        spec, chunks, target = _open(request_iterator, context, self._rt.settings.ingest.max_rest_body_bytes)
        if target is not None:
            self._rt.vector_api  # noqa: B018 - fail before the upload when no vector service is reachable
        try:
            result = self._rt.ingest.ingest(
                spec, chunks, on_progress=on_progress, cancelled=lambda: not context.is_active()
            )
        finally:
            release_arrow_memory()  # the batches were built on this thread (see servers/memory.py)
        return result_to_pb(result, self._embed(result, target))

    def Ingest(self, request_iterator, context):
        return self._run(request_iterator, context)

    def CompactDataset(self, request, context):
        try:
            result = self._rt.ingest.compact(request.dataset, cancelled=lambda: not context.is_active())
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
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(runtime), server)
