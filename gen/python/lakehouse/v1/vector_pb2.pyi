import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Corpus(_message.Message):
    __slots__ = ("name", "dimension", "metric", "hnsw_m", "ef_construction", "embedding_model", "count", "tombstones", "generation", "generations", "size_bytes", "building", "create_time", "previous_generation", "description", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    HNSW_M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_GENERATION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    dimension: int
    metric: str
    hnsw_m: int
    ef_construction: int
    embedding_model: str
    count: int
    tombstones: int
    generation: int
    generations: _containers.RepeatedScalarFieldContainer[int]
    size_bytes: int
    building: bool
    create_time: _timestamp_pb2.Timestamp
    previous_generation: int
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., metric: _Optional[str] = ..., hnsw_m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., embedding_model: _Optional[str] = ..., count: _Optional[int] = ..., tombstones: _Optional[int] = ..., generation: _Optional[int] = ..., generations: _Optional[_Iterable[int]] = ..., size_bytes: _Optional[int] = ..., building: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_generation: _Optional[int] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateCorpusRequest(_message.Message):
    __slots__ = ("name", "embedding_model", "dimension", "metric", "hnsw_m", "ef_construction", "description", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    HNSW_M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    embedding_model: str
    dimension: int
    metric: str
    hnsw_m: int
    ef_construction: int
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., embedding_model: _Optional[str] = ..., dimension: _Optional[int] = ..., metric: _Optional[str] = ..., hnsw_m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCorporaRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCorporaResponse(_message.Message):
    __slots__ = ("corpora",)
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    corpora: _containers.RepeatedCompositeFieldContainer[Corpus]
    def __init__(self, corpora: _Optional[_Iterable[_Union[Corpus, _Mapping]]] = ...) -> None: ...

class GetCorpusRequest(_message.Message):
    __slots__ = ("corpus",)
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    def __init__(self, corpus: _Optional[str] = ...) -> None: ...

class DeleteCorpusRequest(_message.Message):
    __slots__ = ("corpus",)
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    def __init__(self, corpus: _Optional[str] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "text", "vector", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AddItemsRequest(_message.Message):
    __slots__ = ("corpus", "items")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, corpus: _Optional[str] = ..., items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class AddItemsResponse(_message.Message):
    __slots__ = ("added", "count")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    added: int
    count: int
    def __init__(self, added: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class GetItemsRequest(_message.Message):
    __slots__ = ("corpus", "ids", "include_vectors")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    include_vectors: bool
    def __init__(self, corpus: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., include_vectors: _Optional[bool] = ...) -> None: ...

class GetItemsResponse(_message.Message):
    __slots__ = ("items", "generation")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    generation: int
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., generation: _Optional[int] = ...) -> None: ...

class DeleteItemsRequest(_message.Message):
    __slots__ = ("corpus", "ids")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, corpus: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteItemsResponse(_message.Message):
    __slots__ = ("deleted", "count")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    count: int
    def __init__(self, deleted: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("corpus", "text", "vector", "k", "ef_search", "allowed_ids", "filter", "include_text")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEXT_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    text: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    k: int
    ef_search: int
    allowed_ids: _containers.RepeatedScalarFieldContainer[str]
    filter: _struct_pb2.Struct
    include_text: bool
    def __init__(self, corpus: _Optional[str] = ..., text: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., k: _Optional[int] = ..., ef_search: _Optional[int] = ..., allowed_ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., include_text: _Optional[bool] = ...) -> None: ...

class SearchQuery(_message.Message):
    __slots__ = ("text", "vector")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    text: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, text: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ...) -> None: ...

class SearchBatchRequest(_message.Message):
    __slots__ = ("corpus", "queries", "k", "ef_search", "allowed_ids", "filter", "include_text", "query_matrix")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEXT_FIELD_NUMBER: _ClassVar[int]
    QUERY_MATRIX_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    queries: _containers.RepeatedCompositeFieldContainer[SearchQuery]
    k: int
    ef_search: int
    allowed_ids: _containers.RepeatedScalarFieldContainer[str]
    filter: _struct_pb2.Struct
    include_text: bool
    query_matrix: bytes
    def __init__(self, corpus: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[SearchQuery, _Mapping]]] = ..., k: _Optional[int] = ..., ef_search: _Optional[int] = ..., allowed_ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., include_text: _Optional[bool] = ..., query_matrix: _Optional[bytes] = ...) -> None: ...

class SearchBatchResponse(_message.Message):
    __slots__ = ("responses",)
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    def __init__(self, responses: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ...) -> None: ...

class SearchResult(_message.Message):
    __slots__ = ("id", "score", "metadata", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    score: float
    metadata: _struct_pb2.Struct
    text: str
    def __init__(self, id: _Optional[str] = ..., score: _Optional[float] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("results", "generation", "exact", "metadata_filter_dropped")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FILTER_DROPPED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResult]
    generation: int
    exact: bool
    metadata_filter_dropped: int
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResult, _Mapping]]] = ..., generation: _Optional[int] = ..., exact: _Optional[bool] = ..., metadata_filter_dropped: _Optional[int] = ...) -> None: ...

class BuildCorpusRequest(_message.Message):
    __slots__ = ("corpus", "dataset", "id_column", "text_columns", "metadata_columns", "vector_column", "chunk_column")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    TEXT_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    METADATA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COLUMN_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COLUMN_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    dataset: str
    id_column: str
    text_columns: _containers.RepeatedScalarFieldContainer[str]
    metadata_columns: _containers.RepeatedScalarFieldContainer[str]
    vector_column: str
    chunk_column: str
    def __init__(self, corpus: _Optional[str] = ..., dataset: _Optional[str] = ..., id_column: _Optional[str] = ..., text_columns: _Optional[_Iterable[str]] = ..., metadata_columns: _Optional[_Iterable[str]] = ..., vector_column: _Optional[str] = ..., chunk_column: _Optional[str] = ...) -> None: ...

class BuildCorpusResponse(_message.Message):
    __slots__ = ("corpus", "items")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    corpus: Corpus
    items: int
    def __init__(self, corpus: _Optional[_Union[Corpus, _Mapping]] = ..., items: _Optional[int] = ...) -> None: ...

class RebuildCorpusRequest(_message.Message):
    __slots__ = ("corpus", "hnsw_m", "ef_construction")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    HNSW_M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    hnsw_m: int
    ef_construction: int
    def __init__(self, corpus: _Optional[str] = ..., hnsw_m: _Optional[int] = ..., ef_construction: _Optional[int] = ...) -> None: ...

class SwapGenerationRequest(_message.Message):
    __slots__ = ("corpus", "generation")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    generation: int
    def __init__(self, corpus: _Optional[str] = ..., generation: _Optional[int] = ...) -> None: ...

class RollbackGenerationRequest(_message.Message):
    __slots__ = ("corpus",)
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    def __init__(self, corpus: _Optional[str] = ...) -> None: ...

class IndexTrial(_message.Message):
    __slots__ = ("corpus", "generation", "kind", "status", "error", "dimension", "metric", "hnsw_m", "ef_construction", "items", "build_seconds", "size_bytes", "probe_queries", "probe_k", "probe_ef_search", "recall", "start_time", "end_time")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    HNSW_M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    BUILD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PROBE_QUERIES_FIELD_NUMBER: _ClassVar[int]
    PROBE_K_FIELD_NUMBER: _ClassVar[int]
    PROBE_EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    generation: int
    kind: str
    status: str
    error: str
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
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, corpus: _Optional[str] = ..., generation: _Optional[int] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., dimension: _Optional[int] = ..., metric: _Optional[str] = ..., hnsw_m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., items: _Optional[int] = ..., build_seconds: _Optional[float] = ..., size_bytes: _Optional[int] = ..., probe_queries: _Optional[int] = ..., probe_k: _Optional[int] = ..., probe_ef_search: _Optional[int] = ..., recall: _Optional[float] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListIndexTrialsRequest(_message.Message):
    __slots__ = ("corpus", "limit")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    limit: int
    def __init__(self, corpus: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListIndexTrialsResponse(_message.Message):
    __slots__ = ("trials",)
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[IndexTrial]
    def __init__(self, trials: _Optional[_Iterable[_Union[IndexTrial, _Mapping]]] = ...) -> None: ...
