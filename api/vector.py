"""VectorService's API: the interface, its domain types, the proto conversions, and the
remote implementation over the generated stub (the local one is VectorCore).

Corpus generation management (rebuild, swap, rollback) is served but not yet part of
this interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from google.protobuf import json_format, struct_pb2

from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.errors import UNKNOWN_COLUMN, InvalidArgument, invalid_field
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import vector_pb2, vector_pb2_grpc

DEFAULT_K = 10
QUERY_MATRIX_DTYPE = np.dtype("<f4")  # SearchBatchRequest.query_matrix: little-endian float32

# Stable error reasons (ErrorInfo.reason) of VectorService; BuildCorpus also returns
# UNKNOWN_COLUMN (lakehouse.api.errors) and the reasons of the query it runs.
INVALID_CORPUS_NAME = "INVALID_CORPUS_NAME"
CORPUS_NOT_FOUND = "CORPUS_NOT_FOUND"
CORPUS_ALREADY_EXISTS = "CORPUS_ALREADY_EXISTS"
CORPUS_UNAVAILABLE = "CORPUS_UNAVAILABLE"
INVALID_METRIC = "INVALID_METRIC"
INVALID_HNSW_PARAMS = "INVALID_HNSW_PARAMS"
INVALID_DIMENSION = "INVALID_DIMENSION"
DIMENSION_REQUIRED = "DIMENSION_REQUIRED"
DIMENSION_MISMATCH = "DIMENSION_MISMATCH"
NON_FINITE_VECTOR = "NON_FINITE_VECTOR"
ZERO_VECTOR = "ZERO_VECTOR"
INVALID_VECTOR = "INVALID_VECTOR"
MISSING_VECTOR = "MISSING_VECTOR"
INVALID_METADATA = "INVALID_METADATA"
INVALID_ID = "INVALID_ID"
DUPLICATE_IDS = "DUPLICATE_IDS"
ITEM_ALREADY_EXISTS = "ITEM_ALREADY_EXISTS"
TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
INVALID_K = "INVALID_K"
INVALID_EF_SEARCH = "INVALID_EF_SEARCH"
INVALID_QUERY = "INVALID_QUERY"
INVALID_FILTER = "INVALID_FILTER"
EMBEDDER_UNAVAILABLE = "EMBEDDER_UNAVAILABLE"
EMBEDDER_BAD_OUTPUT = "EMBEDDER_BAD_OUTPUT"
BUILD_IN_PROGRESS = "BUILD_IN_PROGRESS"
BUILD_FAILED = "BUILD_FAILED"
BUILD_TIMEOUT = "BUILD_TIMEOUT"
NO_BUILT_GENERATION = "NO_BUILT_GENERATION"
NO_PREVIOUS_GENERATION = "NO_PREVIOUS_GENERATION"
GENERATION_NOT_FOUND = "GENERATION_NOT_FOUND"
STATE_DIR_IN_USE = "STATE_DIR_IN_USE"
BUILD_NOT_AVAILABLE = "BUILD_NOT_AVAILABLE"
CORRUPT_DATA = "CORRUPT_DATA"
# BuildCorpus: the dataset's rows cannot become items.
NOT_A_VECTOR_COLUMN = "NOT_A_VECTOR_COLUMN"
MISSING_ID = "MISSING_ID"
# ListIndexTrials: a negative limit.
INVALID_LIMIT = "INVALID_LIMIT"


@dataclass
class Item:
    """One thing to index. ``vector`` wins when both it and ``text`` are given; ``text`` is kept either way."""

    id: str
    vector: np.ndarray | list[float] | None = None
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)  # not frozen: built per result on the search path, where frozen costs 3x
class Hit:
    id: str
    # Higher is better: cosine similarity (cosine), inner product (ip), minus the Euclidean distance (l2).
    score: float
    metadata: dict[str, Any]
    text: str | None = None
    # The stored row this hit is (set by the core, None from a remote): its id, metadata and
    # text never change, so conversions may cache by it (``HitStems``).
    row: tuple[int, int] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SearchResult:
    hits: Sequence[Hit]  # a list; from the local core, a sequence that builds its Hits when first read
    exact: bool  # True when the allowed set was searched exhaustively instead of through the graph
    generation: int
    filtered_out: int = 0  # live items the metadata filter excluded


@dataclass(frozen=True)
class ItemsResult:
    """Items fetched by id: the live ones, in request order, and the generation that answered."""

    items: list[Item]
    generation: int


@dataclass(frozen=True)
class Query:
    """One query of a batch: a vector, or a text embedded with the corpus's model."""

    vector: np.ndarray | Sequence[float] | None = None
    text: str | None = None


@dataclass(frozen=True)
class ColumnMapping:
    """Which dataset columns make a corpus item (BuildCorpus, embed-on-ingest)."""

    id_column: str
    text_columns: tuple[str, ...]
    metadata_columns: tuple[str, ...] = ()
    vector_column: str = ""  # precomputed vectors: nothing is embedded
    # A list<struct<page, text>> column: one item per chunk ("<id>#<n>"), not per row.
    chunk_column: str = ""

    def validate(self, available: Iterable[str]) -> None:
        if not self.id_column:
            raise invalid_field("id_column", "required")
        if not self.text_columns and not self.vector_column and not self.chunk_column:
            raise invalid_field("text_columns", "give at least one text column, a vector column or a chunk column")
        if self.chunk_column and (self.text_columns or self.vector_column):
            raise invalid_field("chunk_column", "a chunk column replaces text and vector columns; give only one")
        have = set(available)
        wanted = self.columns
        missing = [c for c in wanted if c not in have]
        if missing:
            raise InvalidArgument(
                f"columns {missing} are not in the dataset (it has {sorted(have)})",
                reason=UNKNOWN_COLUMN,
                metadata={"columns": ",".join(missing)},
            )

    @property
    def columns(self) -> list[str]:
        extra = filter(None, [self.vector_column, self.chunk_column])
        names = (self.id_column, *self.text_columns, *self.metadata_columns, *extra)
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    dimension: int
    metric: str
    hnsw_m: int  # of the active generation
    ef_construction: int  # of the active generation
    embedding_model: str
    count: int  # live items
    tombstones: int  # deleted items still in the active graph (compact removes them)
    generation: int  # active
    previous_generation: int  # rollback target, 0 when none
    generations: tuple[int, ...]  # complete generations on storage
    bytes: int  # every object of the corpus on storage
    building: bool
    created_at: datetime
    description: str = ""  # what the corpus holds and what it is for
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the items it changed (added, upserted or deleted; unknown ids
    are not counted) and the corpus's live items right after it."""

    changed: int
    count: int


@dataclass(frozen=True)
class BuildResult:
    """A corpus built from a dataset: the items written and the corpus after it."""

    items: int
    corpus: CorpusInfo


TRIAL_BUILD = "build"  # BuildCorpus from a dataset
TRIAL_REBUILD = "rebuild"  # RebuildCorpus or a compaction
TRIAL_OK = "ok"
TRIAL_FAILED = "failed"


@dataclass(frozen=True)
class IndexTrial:
    """One build or rebuild of a corpus's graph: its parameters, cost and probe recall.
    ``recall`` is the mean share of each probe item's exact ``probe_k`` nearest neighbours
    the graph walk found (the item itself left out); 0 when nothing was probed."""

    corpus: str
    generation: int
    kind: str
    status: str
    dimension: int
    metric: str
    hnsw_m: int
    ef_construction: int
    items: int
    build_seconds: float
    size_bytes: int
    probe_queries: int
    probe_k: int
    probe_ef_search: int
    recall: float
    started_at: datetime
    finished_at: datetime
    error: str = ""


class VectorApi(Protocol):
    """Corpora of items searched by similarity."""

    def create_corpus(
        self,
        name: str,
        *,
        dimension: int = 0,
        metric: str = "",
        hnsw_m: int = 0,
        ef_construction: int = 0,
        embedding_model: str = "",
        description: str = "",
        tags: Sequence[str] = (),
    ) -> CorpusInfo: ...

    def list_corpora(self) -> list[CorpusInfo]: ...

    def get_corpus(self, name: str) -> CorpusInfo: ...

    def delete_corpus(self, name: str) -> None: ...

    def add(self, name: str, items: Sequence[Item]) -> WriteResult: ...

    def upsert(self, name: str, items: Sequence[Item]) -> WriteResult: ...

    def delete(self, name: str, ids: Sequence[str]) -> WriteResult: ...

    def get_items(self, name: str, ids: Sequence[str], *, include_vectors: bool = False) -> ItemsResult:
        """The live items among ``ids``, in request order (unknown and deleted ids are left out;
        a repeated id is refused); ``include_vectors``: their vectors as stored (unit length for
        cosine)."""
        ...

    def build_corpus(self, name: str, dataset: str, mapping: ColumnMapping) -> BuildResult:
        """Upsert one item per row of the dataset's current version (deltas merged),
        creating the corpus with the defaults when it does not exist."""
        ...

    def list_trials(self, corpus: str = "", limit: int = 0) -> list[IndexTrial]:
        """The newest index trials (builds and rebuilds), newest first: of ``corpus``, or of
        every corpus the caller sees; ``limit`` 0 takes the server's default."""
        ...

    def search(
        self,
        name: str,
        *,
        vector: np.ndarray | None = None,
        text: str | None = None,
        k: int = DEFAULT_K,
        ef_search: int = 0,
        allowed_ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002 - the request field's name
        include_text: bool = True,
    ) -> SearchResult:
        """``filter``: the metadata filter language (servers/vector/filters.py)."""
        ...

    def search_batch(
        self,
        name: str,
        queries: Sequence[Query] | np.ndarray,
        *,
        k: int = DEFAULT_K,
        ef_search: int = 0,
        allowed_ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        include_text: bool = True,
    ) -> list[SearchResult]:
        """One result per query, in order, from one batched search. ``queries``: Query objects,
        or the vectors as one (n, d) matrix (sent compactly, as ``query_matrix``)."""
        ...


# Conversions ---------------------------------------------------------------------


def _struct(metadata: dict[str, Any] | None) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    if metadata:
        out.update(metadata)
    return out


def _dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def corpus_to_pb(info: CorpusInfo) -> vector_pb2.Corpus:
    return vector_pb2.Corpus(
        name=info.name,
        dimension=info.dimension,
        metric=info.metric,
        hnsw_m=info.hnsw_m,
        ef_construction=info.ef_construction,
        embedding_model=info.embedding_model,
        count=info.count,
        tombstones=info.tombstones,
        generation=info.generation,
        previous_generation=info.previous_generation,
        generations=list(info.generations),
        size_bytes=info.bytes,
        building=info.building,
        create_time=timestamp(info.created_at) if info.created_at else None,
        description=info.description,
        tags=list(info.tags),
    )


def corpus_from_pb(m: vector_pb2.Corpus) -> CorpusInfo:
    return CorpusInfo(
        name=m.name,
        dimension=m.dimension,
        metric=m.metric,
        hnsw_m=m.hnsw_m,
        ef_construction=m.ef_construction,
        embedding_model=m.embedding_model,
        count=m.count,
        tombstones=m.tombstones,
        generation=m.generation,
        previous_generation=m.previous_generation,
        generations=tuple(m.generations),
        bytes=m.size_bytes,
        building=m.building,
        created_at=m.create_time.ToDatetime(tzinfo=UTC),
        description=m.description,
        tags=tuple(m.tags),
    )


def trial_to_pb(trial: IndexTrial) -> vector_pb2.IndexTrial:
    return vector_pb2.IndexTrial(
        corpus=trial.corpus,
        generation=trial.generation,
        kind=trial.kind,
        status=trial.status,
        error=trial.error,
        dimension=trial.dimension,
        metric=trial.metric,
        hnsw_m=trial.hnsw_m,
        ef_construction=trial.ef_construction,
        items=trial.items,
        build_seconds=trial.build_seconds,
        size_bytes=trial.size_bytes,
        probe_queries=trial.probe_queries,
        probe_k=trial.probe_k,
        probe_ef_search=trial.probe_ef_search,
        recall=trial.recall,
        start_time=timestamp(trial.started_at),
        end_time=timestamp(trial.finished_at),
    )


def trial_from_pb(m: vector_pb2.IndexTrial) -> IndexTrial:
    return IndexTrial(
        corpus=m.corpus,
        generation=m.generation,
        kind=m.kind,
        status=m.status,
        error=m.error,
        dimension=m.dimension,
        metric=m.metric,
        hnsw_m=m.hnsw_m,
        ef_construction=m.ef_construction,
        items=m.items,
        build_seconds=m.build_seconds,
        size_bytes=m.size_bytes,
        probe_queries=m.probe_queries,
        probe_k=m.probe_k,
        probe_ef_search=m.probe_ef_search,
        recall=m.recall,
        started_at=m.start_time.ToDatetime(tzinfo=UTC),
        finished_at=m.end_time.ToDatetime(tzinfo=UTC),
    )


def build_request_to_pb(name: str, dataset: str, mapping: ColumnMapping) -> vector_pb2.BuildCorpusRequest:
    return vector_pb2.BuildCorpusRequest(
        corpus=name,
        dataset=dataset,
        id_column=mapping.id_column,
        text_columns=list(mapping.text_columns),
        metadata_columns=list(mapping.metadata_columns),
        vector_column=mapping.vector_column,
        chunk_column=mapping.chunk_column,
    )


def mapping_from_pb(m: vector_pb2.BuildCorpusRequest) -> ColumnMapping:
    return ColumnMapping(
        id_column=m.id_column,
        text_columns=tuple(m.text_columns),
        metadata_columns=tuple(m.metadata_columns),
        vector_column=m.vector_column,
        chunk_column=m.chunk_column,
    )


def item_to_pb(item: Item) -> vector_pb2.Item:
    return vector_pb2.Item(
        id=item.id, text=item.text or "", vector=vector_to_pb(item.vector), metadata=_struct(item.metadata)
    )


def item_from_pb(m: vector_pb2.Item) -> Item:
    vector = np.asarray(m.vector, dtype=np.float32) if len(m.vector) else None
    return Item(id=m.id, vector=vector, text=m.text or None, metadata=_dict(m.metadata))


def items_result_to_pb(result: ItemsResult) -> vector_pb2.GetItemsResponse:
    return vector_pb2.GetItemsResponse(items=[item_to_pb(i) for i in result.items], generation=result.generation)


def items_result_from_pb(m: vector_pb2.GetItemsResponse) -> ItemsResult:
    return ItemsResult(items=[item_from_pb(i) for i in m.items], generation=m.generation)


def vector_to_pb(values: Sequence[float] | np.ndarray | None) -> list[float]:
    """A vector as the list a repeated float field takes. An ndarray goes through ``tolist``:
    handing protobuf the array costs ~90 us at 384-d, a per-element ``float()`` ~25 us,
    ``tolist`` ~6 us."""
    if values is None:
        return []
    if isinstance(values, np.ndarray):
        return values.astype(np.float32, copy=False).ravel().tolist()
    return [float(x) for x in values]


def vector_from_pb(values: Sequence[float]) -> np.ndarray | None:
    return np.asarray(values, dtype=np.float32) if len(values) else None


class StoredRow(Protocol):
    """A result naming the stored row it came from (Hit, MatrixHit)."""

    @property
    def row(self) -> tuple[int, int] | None: ...

    @property
    def metadata(self) -> dict[str, Any]: ...


class StoredRowHits(Protocol):
    """Hits a conversion can serialize from their stored rows without building them (the
    local vector core's, servers/vector/stored_hits.py)."""

    def rows(self) -> Iterable[tuple[int, int, float, str | None]]: ...

    def stem(self, label: int) -> tuple[str, dict[str, Any]]: ...


class HitStems:
    """Each stored row's id and metadata, serialized once per result message type (the
    vector and matrix results number their fields differently) and merged into every later
    result of that row: building the Struct costs ~3-10 us per hit in Python, merging the
    bytes well under 1 us; the score and text are set per hit. Bounded: emptied whenever it
    holds ``max_rows`` entries. A hit with no stored row (from a remote) is built anew."""

    def __init__(self, max_rows: int) -> None:
        self._max_rows = max_rows
        self._bytes: dict[tuple[int, int, type], bytes] = {}

    def fill(self, target: Any, hit: StoredRow) -> None:
        """Set ``target``'s ``id`` and ``metadata`` (a message with both) to ``hit``'s."""
        if hit.row is None or not self._max_rows:
            _set_stem(target, hit.id, hit.metadata)
            return
        key = (*hit.row, type(target))
        cached = self._bytes.get(key)
        if cached is None:
            cached = self._remember(key, hit.id, hit.metadata)
        target.MergeFromString(cached)

    def fill_row(self, target: Any, uid: int, label: int, hits: StoredRowHits) -> None:
        """``fill`` for one of ``hits``' rows, read from the row itself only when not cached."""
        key = (uid, label, type(target))
        cached = self._bytes.get(key)
        if cached is None:
            item_id, metadata = hits.stem(label)
            if not self._max_rows:
                _set_stem(target, item_id, metadata)
                return
            cached = self._remember(key, item_id, metadata)
        target.MergeFromString(cached)

    def _remember(self, key: tuple[int, int, type], item_id: str, metadata: Mapping[str, Any]) -> bytes:
        if len(self._bytes) >= self._max_rows:
            self._bytes.clear()
        stem = key[2]()
        _set_stem(stem, item_id, metadata)
        cached = self._bytes[key] = stem.SerializeToString()
        return cached


def _set_stem(target: Any, item_id: str, metadata: Mapping[str, Any]) -> None:
    target.id = item_id
    if metadata:
        target.metadata.update(metadata)


UNCACHED = HitStems(0)  # build every hit anew


def search_result_to_pb(result: SearchResult, stems: HitStems = UNCACHED) -> vector_pb2.SearchResponse:
    response = vector_pb2.SearchResponse()
    _fill_search_response(response, result, stems)
    return response


def search_results_to_pb(results: Iterable[SearchResult], stems: HitStems = UNCACHED) -> vector_pb2.SearchBatchResponse:
    """Built in place: a response made of ready SearchResponse messages would copy each one,
    about half the conversion's cost at 64 queries."""
    batch = vector_pb2.SearchBatchResponse()
    add = batch.responses.add
    for result in results:
        _fill_search_response(add(), result, stems)
    return batch


def _fill_search_response(response: vector_pb2.SearchResponse, result: SearchResult, stems: HitStems) -> None:
    response.generation = result.generation
    response.exact = result.exact
    response.metadata_filter_dropped = result.filtered_out
    add = response.results.add
    hits = result.hits
    rows = getattr(hits, "rows", None)
    if rows is not None:  # straight from the local index: serialized by row, never built
        fill_row = stems.fill_row
        for uid, label, score, text in rows():
            target = add()
            fill_row(target, uid, label, hits)
            target.score = score
            if text:
                target.text = text
        return
    fill = stems.fill
    for h in hits:
        target = add()
        fill(target, h)
        target.score = h.score
        if h.text:
            target.text = h.text


def search_result_from_pb(m: vector_pb2.SearchResponse) -> SearchResult:
    hits = [Hit(id=r.id, score=r.score, metadata=_dict(r.metadata), text=r.text or None) for r in m.results]
    return SearchResult(hits=hits, exact=m.exact, generation=m.generation, filtered_out=m.metadata_filter_dropped)


def filter_to_pb(raw: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    """A filter as a Struct; one that is not a JSON object is refused here, by field."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise invalid_field("filter", "expected an object", INVALID_FILTER)
    try:
        return _struct(dict(raw))
    except (ValueError, TypeError) as exc:
        raise invalid_field("filter", f"not a JSON object: {exc}", INVALID_FILTER) from None


def filter_from_pb(message: Any, field_name: str = "filter") -> dict[str, Any] | None:
    """The request's filter, None when the field is unset (an empty object is a filter,
    and refused as one)."""
    return _dict(getattr(message, field_name)) if message.HasField(field_name) else None


def include_text_from_pb(message: Any) -> bool:
    return message.include_text if message.HasField("include_text") else True


def queries_from_pb(m: vector_pb2.SearchBatchRequest) -> list[Query] | np.ndarray:
    """The request's queries, or its ``query_matrix`` as a flat float32 array (read-only,
    over the request's bytes; the core reshapes it by the corpus's dimension)."""
    if not m.query_matrix:
        return [query_from_pb(q) for q in m.queries]
    if len(m.queries):
        raise invalid_field("query_matrix", "give queries or query_matrix, not both", INVALID_QUERY)
    if len(m.query_matrix) % QUERY_MATRIX_DTYPE.itemsize:
        raise invalid_field("query_matrix", f"{len(m.query_matrix)} bytes are not whole float32 values", INVALID_QUERY)
    return np.frombuffer(m.query_matrix, dtype=QUERY_MATRIX_DTYPE)


def query_matrix_to_pb(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(matrix, dtype=QUERY_MATRIX_DTYPE).tobytes()


def add_queries_to_pb(target: Any, queries: Iterable[Query]) -> None:
    """Into a request's repeated SearchQuery field, in place (no copy of each vector)."""
    add = target.add
    for query in queries:
        add(text=query.text or "", vector=vector_to_pb(query.vector))


def query_from_pb(m: vector_pb2.SearchQuery) -> Query:
    return Query(vector=vector_from_pb(m.vector), text=m.text or None)


# Remote ----------------------------------------------------------------------------


class RemoteVector(Remote):
    """VectorApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = vector_pb2_grpc.VectorServiceStub

    def create_corpus(
        self,
        name: str,
        *,
        dimension: int = 0,
        metric: str = "",
        hnsw_m: int = 0,
        ef_construction: int = 0,
        embedding_model: str = "",
        description: str = "",
        tags: Sequence[str] = (),
    ) -> CorpusInfo:
        request = vector_pb2.CreateCorpusRequest(
            name=name,
            dimension=dimension,
            metric=metric,
            hnsw_m=hnsw_m,
            ef_construction=ef_construction,
            embedding_model=embedding_model,
            description=description,
            tags=list(tags),
        )
        return corpus_from_pb(self._call("CreateCorpus", request))

    def list_corpora(self) -> list[CorpusInfo]:
        response = self._call("ListCorpora", vector_pb2.ListCorporaRequest())
        return [corpus_from_pb(c) for c in response.corpora]

    def get_corpus(self, name: str) -> CorpusInfo:
        return corpus_from_pb(self._call("GetCorpus", vector_pb2.GetCorpusRequest(corpus=name)))

    def delete_corpus(self, name: str) -> None:
        self._call("DeleteCorpus", vector_pb2.DeleteCorpusRequest(corpus=name))

    def _write(self, method: str, name: str, items: Sequence[Item]) -> WriteResult:
        request = vector_pb2.AddItemsRequest(corpus=name, items=[item_to_pb(i) for i in items])
        reply = self._call(method, request, self._channel.settings.embed_timeout_s)
        return WriteResult(reply.added, reply.count)

    def add(self, name: str, items: Sequence[Item]) -> WriteResult:
        return self._write("AddItems", name, items)

    def upsert(self, name: str, items: Sequence[Item]) -> WriteResult:
        return self._write("UpsertItems", name, items)

    def delete(self, name: str, ids: Sequence[str]) -> WriteResult:
        reply = self._call("DeleteItems", vector_pb2.DeleteItemsRequest(corpus=name, ids=list(ids)))
        return WriteResult(reply.deleted, reply.count)

    def get_items(self, name: str, ids: Sequence[str], *, include_vectors: bool = False) -> ItemsResult:
        request = vector_pb2.GetItemsRequest(corpus=name, ids=list(ids), include_vectors=include_vectors)
        return items_result_from_pb(self._call("GetItems", request))

    def build_corpus(self, name: str, dataset: str, mapping: ColumnMapping) -> BuildResult:
        reply = self._call("BuildCorpus", build_request_to_pb(name, dataset, mapping), NO_DEADLINE)
        return BuildResult(reply.items, corpus_from_pb(reply.corpus))

    def list_trials(self, corpus: str = "", limit: int = 0) -> list[IndexTrial]:
        reply = self._call("ListIndexTrials", vector_pb2.ListIndexTrialsRequest(corpus=corpus, limit=limit))
        return [trial_from_pb(t) for t in reply.trials]

    def search(
        self,
        name: str,
        *,
        vector: np.ndarray | None = None,
        text: str | None = None,
        k: int = DEFAULT_K,
        ef_search: int = 0,
        allowed_ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        include_text: bool = True,
    ) -> SearchResult:
        request = vector_pb2.SearchRequest(
            corpus=name,
            text=text or "",
            vector=vector_to_pb(vector),
            k=k,
            ef_search=ef_search,
            allowed_ids=list(allowed_ids or ()),
            filter=filter_to_pb(filter),
            include_text=include_text,
        )
        return search_result_from_pb(self._call("Search", request, self._channel.settings.embed_timeout_s))

    def search_batch(
        self,
        name: str,
        queries: Sequence[Query] | np.ndarray,
        *,
        k: int = DEFAULT_K,
        ef_search: int = 0,
        allowed_ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        include_text: bool = True,
    ) -> list[SearchResult]:
        request = vector_pb2.SearchBatchRequest(
            corpus=name,
            k=k,
            ef_search=ef_search,
            allowed_ids=list(allowed_ids or ()),
            filter=filter_to_pb(filter),
            include_text=include_text,
        )
        if isinstance(queries, np.ndarray):
            request.query_matrix = query_matrix_to_pb(queries)
        else:
            add_queries_to_pb(request.queries, queries)
        reply = self._call("SearchBatch", request, self._channel.settings.embed_timeout_s)
        return [search_result_from_pb(r) for r in reply.responses]
