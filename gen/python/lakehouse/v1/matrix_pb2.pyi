import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from lakehouse.v1 import vector_pb2 as _vector_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListMatrixCorporaRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MatrixCorpus(_message.Message):
    __slots__ = ("corpus", "upstream")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    corpus: _vector_pb2.Corpus
    upstream: str
    def __init__(self, corpus: _Optional[_Union[_vector_pb2.Corpus, _Mapping]] = ..., upstream: _Optional[str] = ...) -> None: ...

class UpstreamError(_message.Message):
    __slots__ = ("upstream", "code", "reason", "message")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    code: str
    reason: str
    message: str
    def __init__(self, upstream: _Optional[str] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ListMatrixCorporaResponse(_message.Message):
    __slots__ = ("corpora", "unreachable")
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_FIELD_NUMBER: _ClassVar[int]
    corpora: _containers.RepeatedCompositeFieldContainer[MatrixCorpus]
    unreachable: _containers.RepeatedCompositeFieldContainer[UpstreamError]
    def __init__(self, corpora: _Optional[_Iterable[_Union[MatrixCorpus, _Mapping]]] = ..., unreachable: _Optional[_Iterable[_Union[UpstreamError, _Mapping]]] = ...) -> None: ...

class RelevanceOptions(_message.Message):
    __slots__ = ("enabled", "threshold", "margin")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    threshold: float
    margin: float
    def __init__(self, enabled: _Optional[bool] = ..., threshold: _Optional[float] = ..., margin: _Optional[float] = ...) -> None: ...

class MatrixSearchRequest(_message.Message):
    __slots__ = ("text", "vector", "corpora", "k_per_corpus", "k", "fusion", "rrf_k", "filter", "sql", "sql_id_column", "relevance", "model", "mode", "force_mode", "include_text", "ef_search", "require_all", "use_playbook", "as_of")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    K_PER_CORPUS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    RRF_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    SQL_ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    RELEVANCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FORCE_MODE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEXT_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_ALL_FIELD_NUMBER: _ClassVar[int]
    USE_PLAYBOOK_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    text: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    corpora: _containers.RepeatedScalarFieldContainer[str]
    k_per_corpus: int
    k: int
    fusion: str
    rrf_k: int
    filter: _struct_pb2.Struct
    sql: str
    sql_id_column: str
    relevance: RelevanceOptions
    model: str
    mode: str
    force_mode: str
    include_text: bool
    ef_search: int
    require_all: bool
    use_playbook: bool
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., corpora: _Optional[_Iterable[str]] = ..., k_per_corpus: _Optional[int] = ..., k: _Optional[int] = ..., fusion: _Optional[str] = ..., rrf_k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sql: _Optional[str] = ..., sql_id_column: _Optional[str] = ..., relevance: _Optional[_Union[RelevanceOptions, _Mapping]] = ..., model: _Optional[str] = ..., mode: _Optional[str] = ..., force_mode: _Optional[str] = ..., include_text: _Optional[bool] = ..., ef_search: _Optional[int] = ..., require_all: _Optional[bool] = ..., use_playbook: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PlaybookEvidence(_message.Message):
    __slots__ = ("entry_id", "query", "outcome", "score", "similarity", "age_days", "weight")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    query: str
    outcome: str
    score: float
    similarity: float
    age_days: float
    weight: float
    def __init__(self, entry_id: _Optional[str] = ..., query: _Optional[str] = ..., outcome: _Optional[str] = ..., score: _Optional[float] = ..., similarity: _Optional[float] = ..., age_days: _Optional[float] = ..., weight: _Optional[float] = ...) -> None: ...

class MatrixResult(_message.Message):
    __slots__ = ("corpus", "id", "score", "fused_score", "rank_in_corpus", "generation", "metadata", "text", "playbook_boost", "evidence")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FUSED_SCORE_FIELD_NUMBER: _ClassVar[int]
    RANK_IN_CORPUS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PLAYBOOK_BOOST_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    id: str
    score: float
    fused_score: float
    rank_in_corpus: int
    generation: int
    metadata: _struct_pb2.Struct
    text: str
    playbook_boost: float
    evidence: _containers.RepeatedCompositeFieldContainer[PlaybookEvidence]
    def __init__(self, corpus: _Optional[str] = ..., id: _Optional[str] = ..., score: _Optional[float] = ..., fused_score: _Optional[float] = ..., rank_in_corpus: _Optional[int] = ..., generation: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., text: _Optional[str] = ..., playbook_boost: _Optional[float] = ..., evidence: _Optional[_Iterable[_Union[PlaybookEvidence, _Mapping]]] = ...) -> None: ...

class CorpusSearchStats(_message.Message):
    __slots__ = ("corpus", "searched", "returned", "excluded_by_filter", "latency_ms", "code", "reason", "message", "upstream")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    SEARCHED_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_BY_FILTER_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    searched: bool
    returned: int
    excluded_by_filter: int
    latency_ms: float
    code: str
    reason: str
    message: str
    upstream: str
    def __init__(self, corpus: _Optional[str] = ..., searched: _Optional[bool] = ..., returned: _Optional[int] = ..., excluded_by_filter: _Optional[int] = ..., latency_ms: _Optional[float] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., upstream: _Optional[str] = ...) -> None: ...

class RelevanceDrop(_message.Message):
    __slots__ = ("corpus", "id", "score", "reason")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    id: str
    score: float
    reason: str
    def __init__(self, corpus: _Optional[str] = ..., id: _Optional[str] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class MatrixSearchResponse(_message.Message):
    __slots__ = ("results", "corpora", "metadata_filter_dropped", "mode", "downgraded", "mode_reason", "relevance_dropped", "partial", "sql_selected", "playbook_excluded")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FILTER_DROPPED_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADED_FIELD_NUMBER: _ClassVar[int]
    MODE_REASON_FIELD_NUMBER: _ClassVar[int]
    RELEVANCE_DROPPED_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    SQL_SELECTED_FIELD_NUMBER: _ClassVar[int]
    PLAYBOOK_EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[MatrixResult]
    corpora: _containers.RepeatedCompositeFieldContainer[CorpusSearchStats]
    metadata_filter_dropped: int
    mode: str
    downgraded: bool
    mode_reason: str
    relevance_dropped: _containers.RepeatedCompositeFieldContainer[RelevanceDrop]
    partial: bool
    sql_selected: int
    playbook_excluded: _containers.RepeatedCompositeFieldContainer[RelevanceDrop]
    def __init__(self, results: _Optional[_Iterable[_Union[MatrixResult, _Mapping]]] = ..., corpora: _Optional[_Iterable[_Union[CorpusSearchStats, _Mapping]]] = ..., metadata_filter_dropped: _Optional[int] = ..., mode: _Optional[str] = ..., downgraded: _Optional[bool] = ..., mode_reason: _Optional[str] = ..., relevance_dropped: _Optional[_Iterable[_Union[RelevanceDrop, _Mapping]]] = ..., partial: _Optional[bool] = ..., sql_selected: _Optional[int] = ..., playbook_excluded: _Optional[_Iterable[_Union[RelevanceDrop, _Mapping]]] = ...) -> None: ...

class MatrixSearchBatchRequest(_message.Message):
    __slots__ = ("options", "queries")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    options: MatrixSearchRequest
    queries: _containers.RepeatedCompositeFieldContainer[_vector_pb2.SearchQuery]
    def __init__(self, options: _Optional[_Union[MatrixSearchRequest, _Mapping]] = ..., queries: _Optional[_Iterable[_Union[_vector_pb2.SearchQuery, _Mapping]]] = ...) -> None: ...

class MatrixSearchBatchResponse(_message.Message):
    __slots__ = ("responses",)
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[MatrixSearchResponse]
    def __init__(self, responses: _Optional[_Iterable[_Union[MatrixSearchResponse, _Mapping]]] = ...) -> None: ...

class RelevanceCandidate(_message.Message):
    __slots__ = ("text", "corpus", "id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    corpus: str
    id: str
    def __init__(self, text: _Optional[str] = ..., corpus: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class FilterRelevanceRequest(_message.Message):
    __slots__ = ("text", "candidates", "threshold", "margin", "embedding_model")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    candidates: _containers.RepeatedCompositeFieldContainer[RelevanceCandidate]
    threshold: float
    margin: float
    embedding_model: str
    def __init__(self, text: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[RelevanceCandidate, _Mapping]]] = ..., threshold: _Optional[float] = ..., margin: _Optional[float] = ..., embedding_model: _Optional[str] = ...) -> None: ...

class RelevanceVerdict(_message.Message):
    __slots__ = ("index", "kept", "score", "reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    index: int
    kept: bool
    score: float
    reason: str
    def __init__(self, index: _Optional[int] = ..., kept: _Optional[bool] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class FilterRelevanceResponse(_message.Message):
    __slots__ = ("verdicts",)
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
    verdicts: _containers.RepeatedCompositeFieldContainer[RelevanceVerdict]
    def __init__(self, verdicts: _Optional[_Iterable[_Union[RelevanceVerdict, _Mapping]]] = ...) -> None: ...

class PlaybookEntry(_message.Message):
    __slots__ = ("id", "query", "corpus", "item_id", "outcome", "score", "reason", "source", "time", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    query: str
    corpus: str
    item_id: str
    outcome: str
    score: float
    reason: str
    source: str
    time: _timestamp_pb2.Timestamp
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., query: _Optional[str] = ..., corpus: _Optional[str] = ..., item_id: _Optional[str] = ..., outcome: _Optional[str] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ..., source: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RecordPlaybookEntryRequest(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: PlaybookEntry
    def __init__(self, entry: _Optional[_Union[PlaybookEntry, _Mapping]] = ...) -> None: ...

class RecordPlaybookEntriesRequest(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PlaybookEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[PlaybookEntry, _Mapping]]] = ...) -> None: ...

class PlaybookEntryResult(_message.Message):
    __slots__ = ("index", "id", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    id: str
    error: PlaybookEntryError
    def __init__(self, index: _Optional[int] = ..., id: _Optional[str] = ..., error: _Optional[_Union[PlaybookEntryError, _Mapping]] = ...) -> None: ...

class PlaybookEntryError(_message.Message):
    __slots__ = ("code", "reason", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    message: str
    field: str
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class RecordPlaybookEntriesResponse(_message.Message):
    __slots__ = ("recorded", "failed", "results")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    failed: int
    results: _containers.RepeatedCompositeFieldContainer[PlaybookEntryResult]
    def __init__(self, recorded: _Optional[int] = ..., failed: _Optional[int] = ..., results: _Optional[_Iterable[_Union[PlaybookEntryResult, _Mapping]]] = ...) -> None: ...

class ListPlaybookEntriesRequest(_message.Message):
    __slots__ = ("corpus", "item_id", "source", "since", "until", "page_size", "page_token")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    item_id: str
    source: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, corpus: _Optional[str] = ..., item_id: _Optional[str] = ..., source: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPlaybookEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PlaybookEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[PlaybookEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPlaybookEntryRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeletePlaybookEntriesRequest(_message.Message):
    __slots__ = ("id", "corpus", "item_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    corpus: str
    item_id: str
    def __init__(self, id: _Optional[str] = ..., corpus: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class DeletePlaybookEntriesResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class GetPlaybookStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlaybookCount(_message.Message):
    __slots__ = ("corpus", "outcome", "entries", "items", "newest_age_days", "median_age_days", "oldest_age_days")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEWEST_AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    outcome: str
    entries: int
    items: int
    newest_age_days: float
    median_age_days: float
    oldest_age_days: float
    def __init__(self, corpus: _Optional[str] = ..., outcome: _Optional[str] = ..., entries: _Optional[int] = ..., items: _Optional[int] = ..., newest_age_days: _Optional[float] = ..., median_age_days: _Optional[float] = ..., oldest_age_days: _Optional[float] = ...) -> None: ...

class PlaybookStats(_message.Message):
    __slots__ = ("entries", "counts")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    entries: int
    counts: _containers.RepeatedCompositeFieldContainer[PlaybookCount]
    def __init__(self, entries: _Optional[int] = ..., counts: _Optional[_Iterable[_Union[PlaybookCount, _Mapping]]] = ...) -> None: ...

class ImportPlaybookRequest(_message.Message):
    __slots__ = ("dataset", "query_column", "item_id_column", "corpus_column", "corpus", "outcome_column", "score_column", "reason_column", "time_column", "id_column", "metadata_columns", "source")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    QUERY_COLUMN_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    CORPUS_COLUMN_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    SCORE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    REASON_COLUMN_FIELD_NUMBER: _ClassVar[int]
    TIME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    METADATA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    query_column: str
    item_id_column: str
    corpus_column: str
    corpus: str
    outcome_column: str
    score_column: str
    reason_column: str
    time_column: str
    id_column: str
    metadata_columns: _containers.RepeatedScalarFieldContainer[str]
    source: str
    def __init__(self, dataset: _Optional[str] = ..., query_column: _Optional[str] = ..., item_id_column: _Optional[str] = ..., corpus_column: _Optional[str] = ..., corpus: _Optional[str] = ..., outcome_column: _Optional[str] = ..., score_column: _Optional[str] = ..., reason_column: _Optional[str] = ..., time_column: _Optional[str] = ..., id_column: _Optional[str] = ..., metadata_columns: _Optional[_Iterable[str]] = ..., source: _Optional[str] = ...) -> None: ...
