"""Typed Python client for Lakehouse over the generated gRPC stubs.

    from lakehouse.client import LakehouseClient
    with LakehouseClient("127.0.0.1:8080") as lh:
        lh.ingest("workers", "workers.csv")
        table = lh.query("SELECT state, count(*) FROM workers GROUP BY state")

Errors surface as the domain exceptions of ``lakehouse.api.errors``
(``NotFound``, ``InvalidArgument`` ...) with the server's reason and metadata.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
from google.protobuf import json_format

from lakehouse.api.auth import API_KEY_ENV, AUTHORIZATION_HEADER, RemoteAuth
from lakehouse.api.channel import open_channel
from lakehouse.api.config import ChannelSettings
from lakehouse.api.distillation import DistillationApi, RemoteDistillation
from lakehouse.api.drift import DriftApi, RemoteDrift
from lakehouse.api.errors import LakehouseError
from lakehouse.api.ingest import ObjectRef
from lakehouse.api.observer import ObservedOp, ObserverApi, OpsFilter, OpsPage, OpStats, RemoteObserver
from lakehouse.api.paging import drain_pages
from lakehouse.api.pathway import PathwayApi, RemotePathway
from lakehouse.api.query import QueryApi, RemoteQuery, Rows, duration_to_pb
from lakehouse.api.storage import RemoteStorage, StorageApi
from lakehouse.api.truth import RemoteTruth, TruthApi
from lakehouse.api.validation import RemoteValidation, ValidationApi
from lakehouse.api.vector import filter_to_pb, query_matrix_to_pb, vector_to_pb
from lakehouse.api.workflows import (
    RemoteWorkflows,
    RunRequest,
    WorkflowEvent,
    WorkflowListing,
    WorkflowRun,
    WorkflowsApi,
)
from lakehouse.client._folder import folder_archive
from lakehouse.v1 import (
    ask_pb2,
    ask_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
    matrix_pb2,
    matrix_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    query_pb2_grpc,
    sources_pb2,
    sources_pb2_grpc,
    storage_pb2,
    storage_pb2_grpc,
    system_pb2,
    system_pb2_grpc,
    vector_pb2,
    vector_pb2_grpc,
)

__all__ = ["LakehouseClient", "LakehouseError", "ObjectRef", "SqlResult"]

UPLOAD_CHUNK_BYTES = 1024 * 1024


# The rows of ``sql``: the query API's own result type.
SqlResult = Rows


def _chunks(source: str | os.PathLike | bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for i in range(0, max(len(source), 1), UPLOAD_CHUNK_BYTES):
            yield source[i : i + UPLOAD_CHUNK_BYTES]
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            while chunk := fh.read(UPLOAD_CHUNK_BYTES):
                yield chunk
    else:
        yield from source


def _vector(vector: list[float] | np.ndarray | None) -> list[float]:
    """A list as given (protobuf checks its items), an ndarray through ``tolist`` (handing
    protobuf the array itself is ~15x slower)."""
    return vector_to_pb(vector) if isinstance(vector, np.ndarray) else vector or []


def _add_queries(queries: Any, given: Iterable[str | list[float] | np.ndarray]) -> None:
    """Each query a text or a vector, added in place: a request built from ready
    SearchQuery messages would copy every vector once more."""
    add = queries.add
    for query in given:
        if isinstance(query, str):
            add(text=query)
        else:
            add(vector=_vector(query))


class LakehouseClient:
    """``timeout_s``: the deadline of every call (None: none; ingests and corpus builds
    can take long). ``settings``: how the channel is built (lakehouse.api.config).
    ``metadata``: (key, value) pairs sent with every call, e.g. ``[("x-lakehouse-source",
    "mcp")]`` so the observer records who called."""

    def __init__(
        self,
        address: str,
        *,
        timeout_s: float | None = None,
        settings: ChannelSettings | None = None,
        metadata: Iterable[tuple[str, str]] = (),
        api_key: str | None = None,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        # The API key (auth on): the argument, else LAKEHOUSE_API_KEY; sent with every call.
        key = os.environ.get(API_KEY_ENV, "") if api_key is None else api_key
        metadata = (*metadata, *(((AUTHORIZATION_HEADER, f"Bearer {key}"),) if key else ()))
        self._channel = open_channel(address, settings, default_timeout_s=timeout_s, metadata=tuple(metadata))
        self.channel = self._channel.grpc
        self.storage = storage_pb2_grpc.StorageServiceStub(self.channel)
        self.catalog = catalog_pb2_grpc.CatalogServiceStub(self.channel)
        self.ingest_stub = ingest_pb2_grpc.IngestServiceStub(self.channel)
        self.query_stub = query_pb2_grpc.QueryServiceStub(self.channel)
        self.system = system_pb2_grpc.SystemServiceStub(self.channel)
        self.models = models_pb2_grpc.ModelServiceStub(self.channel)
        self.vector = vector_pb2_grpc.VectorServiceStub(self.channel)
        self.matrix = matrix_pb2_grpc.MatrixServiceStub(self.channel)
        self.ask_stub = ask_pb2_grpc.AskServiceStub(self.channel)
        self.sources_stub = sources_pb2_grpc.SourceServiceStub(self.channel)
        # The services' own APIs (lakehouse.api), over this channel.
        self.queries: QueryApi = RemoteQuery(self._channel)
        self.observer_api: ObserverApi = RemoteObserver(self._channel)
        self.workflows: WorkflowsApi = RemoteWorkflows(self._channel)
        self.distillation: DistillationApi = RemoteDistillation(self._channel)
        self.validation: ValidationApi = RemoteValidation(self._channel)
        self.drift: DriftApi = RemoteDrift(self._channel)
        self.truth: TruthApi = RemoteTruth(self._channel)
        self.pathways: PathwayApi = RemotePathway(self._channel)
        self.auth: RemoteAuth = RemoteAuth(self._channel)
        self.buckets: StorageApi = RemoteStorage(self._channel)

    # lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> LakehouseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[..., Any], request: Any, **kw: Any) -> Any:
        return self._channel.call(fn, request, **kw)

    # system ------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        resp = self._call(self.system.GetHealth, system_pb2.GetHealthRequest())
        # Every field, as GET /v1/health prints it (address "" marks the answering process).
        return json_format.MessageToDict(
            resp, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        grpc.channel_ready_future(self.channel).result(timeout=timeout_s)

    # ingest ------------------------------------------------------------------
    def _ingest_requests(
        self,
        dataset: str,
        source: Any,
        fmt: str,
        mode: str,
        primary_key: Iterable[str],
        schema: str,
        embed: dict[str, Any],
        read: dict[str, Any],
    ) -> Iterator[ingest_pb2.IngestRequest]:
        options = dict(
            dataset=dataset, format=fmt, mode=mode, primary_key=list(primary_key), schema=schema, **embed, **read
        )
        first = True
        for chunk in _chunks(source):
            if first:
                yield ingest_pb2.IngestRequest(body={"data": chunk}, **options)
                first = False
            else:
                yield ingest_pb2.IngestRequest(body={"data": chunk})
        if first:  # empty source: still send the options so the server can say why
            yield ingest_pb2.IngestRequest(**options)

    def ingest(
        self,
        dataset: str,
        source: str | os.PathLike | bytes | Iterable[bytes] | ObjectRef,
        *,
        format: str = "",
        mode: str = "",
        primary_key: Iterable[str] = (),
        schema: str = "",
        on_progress: Callable[[ingest_pb2.IngestProgress], None] | None = None,
        embed: dict[str, Any] | None = None,
        delimiter: str = "",
        quote: str = "",
        escape: str = "",
        header: str = "",
        skip: int | None = None,
        comment: str = "",
        null: Iterable[str] = (),
        encoding: str = "",
        compression: str = "",
        columns: Iterable[str] = (),
        sheet: str = "",
        sheet_dataset_pattern: str = "",
        file_name: str = "",
        checks: str = "",
    ) -> ingest_pb2.IngestResult:
        """``embed``: embed-on-ingest options, e.g. {"embed_corpus": "workers",
        "embed_id_column": "id", "embed_text_columns": ["bio"]}; for documents (pdf,
        zip) just {"embed_corpus": "resumes"}: each chunk becomes an item. The read options
        (``delimiter`` ... ``sheet_dataset_pattern``) are detected when left empty; the
        result's ``read_options``, ``header`` and ``reasoning`` say what was decided.

        ``source`` may be a folder: every PDF below it goes up as one ZIP (format=zip),
        each named by its path in the folder. A single PDF's ``file_name`` defaults to
        its file's name. ``checks``: a stored check suite the staged version must pass
        before it is committed (else FAILED_PRECONDITION CHECKS_FAILED, nothing committed;
        ``lakehouse.api.validation.report_of(error)`` gives the report).

        ``source`` may be ``ObjectRef(bucket, key)``: the server reads that object of a
        registered bucket your profiles hold (nothing is uploaded)."""
        if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
            with folder_archive(source) as (archive, _):
                return self.ingest(
                    dataset,
                    archive,
                    format=format or "zip",
                    mode=mode,
                    primary_key=primary_key,
                    schema=schema,
                    on_progress=on_progress,
                    embed=embed,
                    compression=compression,
                    checks=checks,
                )
        if isinstance(source, (str, os.PathLike)) and not file_name and str(source).lower().endswith(".pdf"):
            file_name = os.path.basename(source)
        read = {
            "delimiter": delimiter,
            "quote": quote,
            "escape": escape,
            "header": header,
            "comment": comment,
            "null": list(null),
            "encoding": encoding,
            "compression": compression,
            "columns": list(columns),
            "sheet": sheet,
            "sheet_dataset_pattern": sheet_dataset_pattern,
            "file_name": file_name,
            "checks": checks,
        }
        if skip is not None:
            read["skip"] = skip
        if isinstance(source, ObjectRef):
            read |= {"source_bucket": source.bucket, "source_key": source.key}
            source = b""
        requests = self._ingest_requests(dataset, source, format, mode, primary_key, schema, embed or {}, read)
        if on_progress is None:
            return self._call(self.ingest_stub.Ingest, requests)
        try:
            for event in self.ingest_stub.IngestWithProgress(requests, timeout=self.timeout_s):
                if event.HasField("progress"):
                    on_progress(event.progress)
                else:
                    return event.result
        except grpc.RpcError as err:
            raise self._channel.error(err) from None
        raise LakehouseError("ingest stream ended without a result", reason="NO_RESULT")

    # query -------------------------------------------------------------------
    def query_reader(self, sql: str, *, timeout_s: float | None = None, query_id: str = "") -> pa.RecordBatchReader:
        """Streamed Arrow result; batches arrive as the server produces them."""
        return self.queries.stream(sql, timeout_s=timeout_s, query_id=query_id)

    def query(self, sql: str, *, timeout_s: float | None = None, query_id: str = "") -> pa.Table:
        return self.query_reader(sql, timeout_s=timeout_s, query_id=query_id).read_all()

    def sql(self, sql: str, *, max_rows: int = 0, timeout_s: float | None = None, query_id: str = "") -> SqlResult:
        return self.queries.rows(sql, max_rows=max_rows, timeout_s=timeout_s, query_id=query_id)

    def cancel_query(self, query_id: str) -> None:
        self.queries.cancel(query_id)

    @staticmethod
    def new_query_id() -> str:
        return uuid.uuid4().hex

    # catalog -----------------------------------------------------------------
    def list_datasets(self) -> list[catalog_pb2.Dataset]:
        def page(token: str) -> tuple[list[catalog_pb2.Dataset], str]:
            resp = self._call(self.catalog.ListDatasets, catalog_pb2.ListDatasetsRequest(page_token=token))
            return list(resp.datasets), resp.next_page_token

        return list(drain_pages(page))

    def get_dataset(self, name: str) -> catalog_pb2.Dataset:
        return self._call(self.catalog.GetDataset, catalog_pb2.GetDatasetRequest(dataset=name))

    def delete_dataset(self, name: str) -> None:
        self._call(self.catalog.DeleteDataset, catalog_pb2.DeleteDatasetRequest(dataset=name))

    def list_versions(self, name: str) -> list[catalog_pb2.DatasetVersion]:
        return list(self._call(self.catalog.ListVersions, catalog_pb2.ListVersionsRequest(dataset=name)).versions)

    def verify_datasets(self, dataset: str = "", *, all_versions: bool = False) -> catalog_pb2.VerifyDatasetsResponse:
        """Re-hash committed files against their manifests (one dataset, or all when empty);
        ``problems`` in the answer is empty when the lake is intact."""
        return self._call(
            self.catalog.VerifyDatasets,
            catalog_pb2.VerifyDatasetsRequest(dataset=dataset, all_versions=all_versions),
        )

    def vacuum_datasets(
        self,
        dataset: str = "",
        *,
        retain_versions: int | None = None,
        retain_duration_s: float | None = None,
        dry_run: bool = False,
    ) -> catalog_pb2.VacuumDatasetsResponse:
        """Expire versions past the retention policy and delete the files no kept version
        names (one dataset, or all when empty); unset fields use the server's settings."""
        request = catalog_pb2.VacuumDatasetsRequest(dataset=dataset, dry_run=dry_run)
        if retain_versions is not None:
            request.retain_versions = retain_versions
        if retain_duration_s is not None:
            request.retain_duration.CopyFrom(duration_to_pb(retain_duration_s))
        return self._call(self.catalog.VacuumDatasets, request)

    def compact_dataset(self, dataset: str) -> ingest_pb2.IngestResult:
        """Fold the current version's deltas into new base files (a new version)."""
        return self._call(self.ingest_stub.CompactDataset, ingest_pb2.CompactDatasetRequest(dataset=dataset))

    # sources -----------------------------------------------------------------
    def create_source(
        self,
        name: str,
        *,
        host: str,
        database: str,
        user: str,
        password: str = "",
        port: int = 0,
        replace: bool = False,
        check_connection: bool = False,
    ) -> sources_pb2.Source:
        """Register a PostgreSQL source (port 0: 5432). The password is stored by the server
        and never returned (``has_password``); ``check_connection`` signs in first."""
        request = sources_pb2.CreateSourceRequest(
            name=name,
            host=host,
            port=port,
            database=database,
            user=user,
            password=password,
            replace=replace,
            check_connection=check_connection,
        )
        return self._call(self.sources_stub.CreateSource, request)

    def list_sources(self) -> list[sources_pb2.Source]:
        def page(token: str) -> tuple[list[sources_pb2.Source], str]:
            resp = self._call(self.sources_stub.ListSources, sources_pb2.ListSourcesRequest(page_token=token))
            return list(resp.sources), resp.next_page_token

        return list(drain_pages(page))

    def get_source(self, name: str) -> sources_pb2.Source:
        return self._call(self.sources_stub.GetSource, sources_pb2.GetSourceRequest(name=name))

    def delete_source(self, name: str) -> None:
        self._call(self.sources_stub.DeleteSource, sources_pb2.DeleteSourceRequest(name=name))

    def pull(
        self,
        dataset: str,
        source: str,
        *,
        table: str = "",
        query: str = "",
        mode: str = "",
        key: Iterable[str] = (),
        incremental_column: str = "",
        reset_watermark: bool = False,
    ) -> sources_pb2.PullResult:
        """Pull a table (or a read-only query's rows) from ``source`` into a new version of
        ``dataset``. ``mode``: replace (default), append (default with ``incremental_column``)
        or upsert (with ``key``)."""
        request = sources_pb2.PullDatasetRequest(
            dataset=dataset,
            source=source,
            table=table,
            query=query,
            mode=mode,
            key=list(key),
            incremental_column=incremental_column,
            reset_watermark=reset_watermark,
        )
        return self._call(self.sources_stub.PullDataset, request)

    # storage -----------------------------------------------------------------
    def put_object(self, bucket: str, key: str, source: Any, content_type: str = "") -> storage_pb2.ObjectInfo:
        def requests() -> Iterator[storage_pb2.PutObjectRequest]:
            first = True
            for chunk in _chunks(source):
                if first:
                    yield storage_pb2.PutObjectRequest(
                        bucket=bucket, key=key, body={"data": chunk, "content_type": content_type}
                    )
                    first = False
                else:
                    yield storage_pb2.PutObjectRequest(body={"data": chunk})
            if first:
                yield storage_pb2.PutObjectRequest(bucket=bucket, key=key, body={"content_type": content_type})

        return self._call(self.storage.PutObject, requests())

    def get_object(self, bucket: str, key: str) -> Iterator[bytes]:
        try:
            for chunk in self.storage.GetObject(
                storage_pb2.GetObjectRequest(bucket=bucket, key=key), timeout=self.timeout_s
            ):
                yield chunk.data
        except grpc.RpcError as err:
            raise self._channel.error(err) from None

    def stat_object(self, bucket: str, key: str) -> storage_pb2.ObjectInfo:
        return self._call(self.storage.StatObject, storage_pb2.StatObjectRequest(bucket=bucket, key=key))

    def list_objects(
        self, bucket: str, prefix: str = "", page_size: int = 0, page_token: str = ""
    ) -> storage_pb2.ListObjectsResponse:
        return self._call(
            self.storage.ListObjects,
            storage_pb2.ListObjectsRequest(bucket=bucket, prefix=prefix, page_size=page_size, page_token=page_token),
        )

    def delete_object(self, bucket: str, key: str) -> None:
        self._call(self.storage.DeleteObject, storage_pb2.DeleteObjectRequest(bucket=bucket, key=key))

    def list_errors(self, page_size: int = 0) -> list[storage_pb2.ErrorRecord]:
        return list(self._call(self.storage.ListErrors, storage_pb2.ListErrorsRequest(page_size=page_size)).errors)

    # observer ----------------------------------------------------------------
    def list_ops(
        self,
        *,
        service: str = "",
        method: str = "",
        source: str = "",
        status: str = "",
        since: datetime | None = None,
        limit: int = 0,
        run_id: str = "",
    ) -> OpsPage:
        """Recorded ops, newest first (``status``: a code name or "error"; ``service``: full
        or short name). ``partial`` is set when the server could not read its journal."""
        where = OpsFilter(service, method, source, status, since, run_id)
        return self.observer_api.list_ops(where, limit)

    def tail_ops(
        self, *, service: str = "", method: str = "", source: str = "", status: str = "", run_id: str = ""
    ) -> Iterator[ObservedOp]:
        """New ops as they are recorded; close the iterator (or stop reading and drop it) to end."""
        return self.observer_api.tail_ops(OpsFilter(service, method, source, status, None, run_id))

    def observer_stats(self, window_s: int = 0, *, service: str = "", source: str = "") -> OpStats:
        """Calls, errors by code and latency percentiles per method and source over the window."""
        return self.observer_api.stats(window_s, service, source)

    # workflows ---------------------------------------------------------------
    @staticmethod
    def _workflow_request(workflow: str, yaml: str, inputs: dict[str, Any] | None) -> RunRequest:
        """``workflow``: a known workflow's name, or a path to a YAML file (read here)."""
        if workflow and not yaml and os.path.isfile(workflow):
            with open(workflow, encoding="utf-8") as fh:
                return RunRequest(yaml=fh.read(), inputs=inputs or {})
        return RunRequest(yaml=yaml, name="" if yaml else workflow, inputs=inputs or {})

    def run_workflow(self, workflow: str = "", *, yaml: str = "", inputs: dict[str, Any] | None = None) -> WorkflowRun:
        """Run to the end: every node's result and the ops the run produced. A failed node
        is part of the result (``status`` "failed"); a refused workflow raises InvalidArgument."""
        return self.workflows.run(self._workflow_request(workflow, yaml, inputs))

    def run_workflow_stream(
        self, workflow: str = "", *, yaml: str = "", inputs: dict[str, Any] | None = None
    ) -> Iterator[WorkflowEvent]:
        """Node events as they happen (NodeEvent), the finished run last (RunFinished).
        Closing the iterator early cancels the run."""
        return self.workflows.stream(self._workflow_request(workflow, yaml, inputs))

    def list_workflows(self) -> WorkflowListing:
        return self.workflows.list()

    def get_workflow_run(self, run_id: str) -> WorkflowRun:
        return self.workflows.get_run(run_id)

    def cancel_workflow_run(self, run_id: str) -> WorkflowRun:
        return self.workflows.cancel(run_id)

    # models ------------------------------------------------------------------
    def embed(self, texts: list[str], *, provider: str = "", model: str = "") -> list[list[float]]:
        resp = self._call(self.models.Embed, models_pb2.EmbedRequest(texts=texts, provider=provider, model=model))
        return [list(e.values) for e in resp.embeddings]

    def chat(
        self, messages: list[tuple[str, str]], *, provider: str = "", model: str = "", max_tokens: int = 0
    ) -> Iterator[models_pb2.ChatResponse]:
        request = models_pb2.ChatRequest(
            messages=[models_pb2.ChatMessage(role=r, content=c) for r, c in messages],
            provider=provider,
            model=model,
            max_tokens=max_tokens,
        )
        try:
            yield from self.models.Chat(request, timeout=self.timeout_s)
        except grpc.RpcError as err:
            raise self._channel.error(err) from None

    # vectors -----------------------------------------------------------------
    def create_corpus(self, name: str, **params: Any) -> vector_pb2.Corpus:
        return self._call(self.vector.CreateCorpus, vector_pb2.CreateCorpusRequest(name=name, **params))

    def get_corpus(self, name: str) -> vector_pb2.Corpus:
        return self._call(self.vector.GetCorpus, vector_pb2.GetCorpusRequest(corpus=name))

    def list_corpora(self) -> list[vector_pb2.Corpus]:
        return list(self._call(self.vector.ListCorpora, vector_pb2.ListCorporaRequest()).corpora)

    def delete_corpus(self, name: str) -> None:
        self._call(self.vector.DeleteCorpus, vector_pb2.DeleteCorpusRequest(corpus=name))

    @staticmethod
    def _items(items: Iterable[dict[str, Any]]) -> list[vector_pb2.Item]:
        return [json_format.ParseDict(item, vector_pb2.Item()) for item in items]

    def add_items(
        self, corpus: str, items: Iterable[dict[str, Any]], *, upsert: bool = False
    ) -> vector_pb2.AddItemsResponse:
        method = self.vector.UpsertItems if upsert else self.vector.AddItems
        return self._call(method, vector_pb2.AddItemsRequest(corpus=corpus, items=self._items(items)))

    def delete_items(self, corpus: str, ids: list[str]) -> vector_pb2.DeleteItemsResponse:
        return self._call(self.vector.DeleteItems, vector_pb2.DeleteItemsRequest(corpus=corpus, ids=ids))

    def get_items(self, corpus: str, ids: list[str], *, include_vectors: bool = False) -> vector_pb2.GetItemsResponse:
        """The live items among ``ids``, in request order (unknown ids are left out)."""
        request = vector_pb2.GetItemsRequest(corpus=corpus, ids=ids, include_vectors=include_vectors)
        return self._call(self.vector.GetItems, request)

    def search(
        self,
        corpus: str,
        *,
        text: str = "",
        vector: list[float] | np.ndarray | None = None,
        k: int = 0,
        ef_search: int = 0,
        allowed_ids: list[str] | None = None,
        filter: dict[str, Any] | None = None,  # noqa: A002 - the request field's name
        include_text: bool = True,
    ) -> vector_pb2.SearchResponse:
        """``filter``: a metadata filter, e.g. ``{"state": ["IL", "WI"], "years": {"gte": 3}}``."""
        request = vector_pb2.SearchRequest(
            corpus=corpus,
            text=text,
            vector=_vector(vector),
            k=k,
            ef_search=ef_search,
            allowed_ids=allowed_ids or [],
            filter=filter_to_pb(filter),
            include_text=include_text,
        )
        return self._call(self.vector.Search, request)

    def search_batch(
        self,
        corpus: str,
        queries: list[str | list[float] | np.ndarray] | np.ndarray,
        *,
        k: int = 0,
        ef_search: int = 0,
        filter: dict[str, Any] | None = None,  # noqa: A002
        include_text: bool = True,
    ) -> list[vector_pb2.SearchResponse]:
        """Many searches in one call: each query a text or a vector, or all of them one
        (n, d) ndarray of vectors (sent as ``query_matrix``: no per-value conversion)."""
        request = vector_pb2.SearchBatchRequest(
            corpus=corpus, k=k, ef_search=ef_search, filter=filter_to_pb(filter), include_text=include_text
        )
        if isinstance(queries, np.ndarray) and queries.ndim == 2:
            request.query_matrix = query_matrix_to_pb(queries)
        else:
            _add_queries(request.queries, queries)
        return list(self._call(self.vector.SearchBatch, request).responses)

    # matrix ------------------------------------------------------------------
    def matrix_corpora(self) -> matrix_pb2.ListMatrixCorporaResponse:
        """Every corpus of every vector upstream, with where it is hosted."""
        return self._call(self.matrix.ListCorpora, matrix_pb2.ListMatrixCorporaRequest())

    def matrix_search(
        self,
        text: str = "",
        *,
        vector: list[float] | np.ndarray | None = None,
        corpora: list[str] | None = None,
        **options: Any,
    ) -> matrix_pb2.MatrixSearchResponse:
        """One query over many corpora (all when ``corpora`` is None). ``options``: the other
        MatrixSearchRequest fields (k, k_per_corpus, fusion, rrf_k, sql, sql_id_column,
        model, mode, force_mode, include_text, ef_search, require_all, relevance as a dict);
        ``filter`` is a dict."""
        return self._call(self.matrix.Search, self._matrix_request(text, vector, corpora, options))

    def matrix_search_batch(
        self, queries: list[str | list[float] | np.ndarray], *, corpora: list[str] | None = None, **options: Any
    ) -> list[matrix_pb2.MatrixSearchResponse]:
        request = matrix_pb2.MatrixSearchBatchRequest(options=self._matrix_request("", None, corpora, options))
        _add_queries(request.queries, queries)
        return list(self._call(self.matrix.SearchBatch, request).responses)

    def filter_relevance(
        self, text: str, candidates: list[dict[str, str]], **options: Any
    ) -> matrix_pb2.FilterRelevanceResponse:
        """``candidates``: ``{"text": ...}`` or ``{"corpus": ..., "id": ...}``; ``options``:
        threshold, margin, embedding_model."""
        request = matrix_pb2.FilterRelevanceRequest(
            text=text, candidates=[matrix_pb2.RelevanceCandidate(**c) for c in candidates], **options
        )
        return self._call(self.matrix.FilterRelevance, request)

    # ask ---------------------------------------------------------------------
    @staticmethod
    def _ask_request(question: str, options: dict[str, Any]) -> ask_pb2.AskRequest:
        flt = options.pop("filter", None)
        request = ask_pb2.AskRequest(question=question, **options)
        if flt is not None:
            request.filter.update(flt)
            request.filter.SetInParent()  # {} is a filter too: it turns the derived one off
        return request

    def ask(self, question: str, **options: Any) -> ask_pb2.AskResponse:
        """A grounded answer: the chunks retrieved are numbered and the answer cites them
        as [n] (``citations``; ``ungrounded_citations`` lists any that name no chunk).
        ``options``: corpora, filter (a dict; replaces the one derived from the question,
        {} turns it off), sql, sql_id_column, k, use_playbook, provider, model (either
        makes it generative), extractive, max_tokens, truth_rules (a rule set: the rules
        each candidate breaks flag its citations and candidate). A chat provider that is down raises
        Unavailable (reason CHAT_PROVIDER_DOWN); ``lakehouse.api.ask.fallback_of(exc)``
        is then the extractive answer."""
        return self._call(self.ask_stub.Ask, self._ask_request(question, options))

    def ask_stream(self, question: str, **options: Any) -> Iterator[ask_pb2.AskEvent]:
        """As ``ask``, streamed: the retrieval, the answer's tokens, then the answer."""
        request = self._ask_request(question, options)
        try:
            yield from self.ask_stub.AskStream(request, timeout=self.timeout_s)
        except grpc.RpcError as err:
            raise self._channel.error(err) from None

    # playbooks ---------------------------------------------------------------
    def record_playbook_entry(self, entry: dict[str, Any]) -> matrix_pb2.PlaybookEntry:
        """``entry``: query, corpus, item_id, outcome ("success" | "rejected"), score, reason,
        source, time (RFC 3339), metadata, id (optional: makes recording idempotent)."""
        request = matrix_pb2.RecordPlaybookEntryRequest(entry=json_format.ParseDict(entry, matrix_pb2.PlaybookEntry()))
        return self._call(self.matrix.RecordPlaybookEntry, request)

    def record_playbook_entries(self, entries: Iterable[dict[str, Any]]) -> matrix_pb2.RecordPlaybookEntriesResponse:
        """Many entries; each bad one is reported in ``results`` and never stops the rest."""
        request = matrix_pb2.RecordPlaybookEntriesRequest(
            entries=[json_format.ParseDict(e, matrix_pb2.PlaybookEntry()) for e in entries]
        )
        return self._call(self.matrix.RecordPlaybookEntries, request)

    def import_playbook(self, dataset: str, **mapping: Any) -> matrix_pb2.RecordPlaybookEntriesResponse:
        """One entry per row of ``dataset``: ``mapping`` names the columns (query_column,
        item_id_column, corpus or corpus_column, outcome_column, score_column, ...)."""
        request = matrix_pb2.ImportPlaybookRequest(dataset=dataset, **mapping)
        return self._call(self.matrix.ImportPlaybook, request)

    def list_playbook_entries(self, **filters: Any) -> list[matrix_pb2.PlaybookEntry]:
        """Every entry matching ``filters`` (corpus, item_id, source), newest first."""

        def page(token: str) -> tuple[list[matrix_pb2.PlaybookEntry], str]:
            reply = self._call(
                self.matrix.ListPlaybookEntries, matrix_pb2.ListPlaybookEntriesRequest(page_token=token, **filters)
            )
            return list(reply.entries), reply.next_page_token

        return list(drain_pages(page))

    def get_playbook_entry(self, entry_id: str) -> matrix_pb2.PlaybookEntry:
        return self._call(self.matrix.GetPlaybookEntry, matrix_pb2.GetPlaybookEntryRequest(id=entry_id))

    def delete_playbook_entries(self, entry_id: str = "", *, corpus: str = "", item_id: str = "") -> int:
        request = matrix_pb2.DeletePlaybookEntriesRequest(id=entry_id, corpus=corpus, item_id=item_id)
        return self._call(self.matrix.DeletePlaybookEntries, request).deleted

    def playbook_stats(self) -> matrix_pb2.PlaybookStats:
        return self._call(self.matrix.GetPlaybookStats, matrix_pb2.GetPlaybookStatsRequest())

    @staticmethod
    def _matrix_request(
        text: str, vector: list[float] | None, corpora: list[str] | None, options: dict[str, Any]
    ) -> matrix_pb2.MatrixSearchRequest:
        options = dict(options)
        where = options.pop("filter", None)
        relevance = options.pop("relevance", None)
        return matrix_pb2.MatrixSearchRequest(
            text=text,
            vector=_vector(vector),
            corpora=corpora or [],
            filter=filter_to_pb(where),
            relevance=matrix_pb2.RelevanceOptions(**(relevance or {})),
            **options,
        )

    def build_corpus(
        self,
        corpus: str,
        dataset: str,
        id_column: str,
        text_columns: list[str],
        metadata_columns: list[str] = (),
        *,
        vector_column: str = "",
    ) -> vector_pb2.BuildCorpusResponse:
        request = vector_pb2.BuildCorpusRequest(
            corpus=corpus,
            dataset=dataset,
            id_column=id_column,
            text_columns=text_columns,
            metadata_columns=list(metadata_columns),
            vector_column=vector_column,
        )
        return self._call(self.vector.BuildCorpus, request)

    def rebuild_corpus(self, corpus: str, *, hnsw_m: int = 0, ef_construction: int = 0) -> vector_pb2.Corpus:
        request = vector_pb2.RebuildCorpusRequest(corpus=corpus, hnsw_m=hnsw_m, ef_construction=ef_construction)
        return self._call(self.vector.RebuildCorpus, request)

    def swap_generation(self, corpus: str, generation: int = 0) -> vector_pb2.Corpus:
        request = vector_pb2.SwapGenerationRequest(corpus=corpus, generation=generation)
        return self._call(self.vector.SwapGeneration, request)

    def rollback_generation(self, corpus: str) -> vector_pb2.Corpus:
        return self._call(self.vector.RollbackGeneration, vector_pb2.RollbackGenerationRequest(corpus=corpus))

    def list_index_trials(self, corpus: str = "", limit: int = 0) -> list[vector_pb2.IndexTrial]:
        """Every corpus build and rebuild (parameters, time, size, probe recall), newest first."""
        request = vector_pb2.ListIndexTrialsRequest(corpus=corpus, limit=limit)
        return list(self._call(self.vector.ListIndexTrials, request).trials)
