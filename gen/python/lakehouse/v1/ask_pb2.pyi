from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from lakehouse.v1 import matrix_pb2 as _matrix_pb2
from lakehouse.v1 import truth_pb2 as _truth_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AskRequest(_message.Message):
    __slots__ = ("question", "corpora", "filter", "sql", "sql_id_column", "k", "use_playbook", "provider", "model", "extractive", "max_tokens", "truth_rules")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    SQL_ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    USE_PLAYBOOK_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    EXTRACTIVE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRUTH_RULES_FIELD_NUMBER: _ClassVar[int]
    question: str
    corpora: _containers.RepeatedScalarFieldContainer[str]
    filter: _struct_pb2.Struct
    sql: str
    sql_id_column: str
    k: int
    use_playbook: bool
    provider: str
    model: str
    extractive: bool
    max_tokens: int
    truth_rules: str
    def __init__(self, question: _Optional[str] = ..., corpora: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sql: _Optional[str] = ..., sql_id_column: _Optional[str] = ..., k: _Optional[int] = ..., use_playbook: _Optional[bool] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., extractive: _Optional[bool] = ..., max_tokens: _Optional[int] = ..., truth_rules: _Optional[str] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("n", "corpus", "id", "doc_id", "page", "snippet", "score", "file_name", "violations")
    N_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    n: int
    corpus: str
    id: str
    doc_id: str
    page: int
    snippet: str
    score: float
    file_name: str
    violations: _containers.RepeatedCompositeFieldContainer[_truth_pb2.TruthViolation]
    def __init__(self, n: _Optional[int] = ..., corpus: _Optional[str] = ..., id: _Optional[str] = ..., doc_id: _Optional[str] = ..., page: _Optional[int] = ..., snippet: _Optional[str] = ..., score: _Optional[float] = ..., file_name: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[_truth_pb2.TruthViolation, _Mapping]]] = ...) -> None: ...

class AskCandidate(_message.Message):
    __slots__ = ("rank", "doc_id", "file_name", "score", "sentences", "citations", "metadata", "violations")
    RANK_FIELD_NUMBER: _ClassVar[int]
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    rank: int
    doc_id: str
    file_name: str
    score: float
    sentences: _containers.RepeatedScalarFieldContainer[str]
    citations: _containers.RepeatedScalarFieldContainer[int]
    metadata: _struct_pb2.Struct
    violations: _containers.RepeatedCompositeFieldContainer[_truth_pb2.TruthViolation]
    def __init__(self, rank: _Optional[int] = ..., doc_id: _Optional[str] = ..., file_name: _Optional[str] = ..., score: _Optional[float] = ..., sentences: _Optional[_Iterable[str]] = ..., citations: _Optional[_Iterable[int]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., violations: _Optional[_Iterable[_Union[_truth_pb2.TruthViolation, _Mapping]]] = ...) -> None: ...

class AskRetrieval(_message.Message):
    __slots__ = ("filter", "filter_source", "retrieved", "search_mode", "downgraded", "mode_reason", "relevance_dropped", "metadata_filter_dropped", "partial", "corpora", "latency_ms", "citations")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FILTER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    RETRIEVED_FIELD_NUMBER: _ClassVar[int]
    SEARCH_MODE_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADED_FIELD_NUMBER: _ClassVar[int]
    MODE_REASON_FIELD_NUMBER: _ClassVar[int]
    RELEVANCE_DROPPED_FIELD_NUMBER: _ClassVar[int]
    METADATA_FILTER_DROPPED_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    filter: _struct_pb2.Struct
    filter_source: str
    retrieved: int
    search_mode: str
    downgraded: bool
    mode_reason: str
    relevance_dropped: int
    metadata_filter_dropped: int
    partial: bool
    corpora: _containers.RepeatedCompositeFieldContainer[_matrix_pb2.CorpusSearchStats]
    latency_ms: float
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    def __init__(self, filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., filter_source: _Optional[str] = ..., retrieved: _Optional[int] = ..., search_mode: _Optional[str] = ..., downgraded: _Optional[bool] = ..., mode_reason: _Optional[str] = ..., relevance_dropped: _Optional[int] = ..., metadata_filter_dropped: _Optional[int] = ..., partial: _Optional[bool] = ..., corpora: _Optional[_Iterable[_Union[_matrix_pb2.CorpusSearchStats, _Mapping]]] = ..., latency_ms: _Optional[float] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ...) -> None: ...

class AskResponse(_message.Message):
    __slots__ = ("answer", "mode", "citations", "ungrounded_citations", "grounded", "retrieval", "candidates", "provider", "model", "generate_ms", "output_tokens")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    UNGROUNDED_CITATIONS_FIELD_NUMBER: _ClassVar[int]
    GROUNDED_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GENERATE_MS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    answer: str
    mode: str
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    ungrounded_citations: _containers.RepeatedScalarFieldContainer[int]
    grounded: bool
    retrieval: AskRetrieval
    candidates: _containers.RepeatedCompositeFieldContainer[AskCandidate]
    provider: str
    model: str
    generate_ms: float
    output_tokens: int
    def __init__(self, answer: _Optional[str] = ..., mode: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ..., ungrounded_citations: _Optional[_Iterable[int]] = ..., grounded: _Optional[bool] = ..., retrieval: _Optional[_Union[AskRetrieval, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[AskCandidate, _Mapping]]] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., generate_ms: _Optional[float] = ..., output_tokens: _Optional[int] = ...) -> None: ...

class AskEvent(_message.Message):
    __slots__ = ("retrieval", "token", "answer")
    RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    retrieval: AskRetrieval
    token: str
    answer: AskResponse
    def __init__(self, retrieval: _Optional[_Union[AskRetrieval, _Mapping]] = ..., token: _Optional[str] = ..., answer: _Optional[_Union[AskResponse, _Mapping]] = ...) -> None: ...
