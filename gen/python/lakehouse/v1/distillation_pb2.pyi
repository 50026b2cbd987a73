import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvidenceCheck(_message.Message):
    __slots__ = ("name", "passed", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class EvidenceRecord(_message.Message):
    __slots__ = ("id", "source", "query", "context", "answer", "citations", "outcome", "checks", "time", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    source: str
    query: str
    context: _containers.RepeatedScalarFieldContainer[str]
    answer: str
    citations: _containers.RepeatedScalarFieldContainer[str]
    outcome: str
    checks: _containers.RepeatedCompositeFieldContainer[EvidenceCheck]
    time: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., source: _Optional[str] = ..., query: _Optional[str] = ..., context: _Optional[_Iterable[str]] = ..., answer: _Optional[str] = ..., citations: _Optional[_Iterable[str]] = ..., outcome: _Optional[str] = ..., checks: _Optional[_Iterable[_Union[EvidenceCheck, _Mapping]]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RecordScore(_message.Message):
    __slots__ = ("record_id", "category", "score", "reasons", "scorer_version")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    category: str
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    scorer_version: str
    def __init__(self, record_id: _Optional[str] = ..., category: _Optional[str] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., scorer_version: _Optional[str] = ...) -> None: ...

class ScoreRecordsRequest(_message.Message):
    __slots__ = ("records", "scorer_version")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[EvidenceRecord]
    scorer_version: str
    def __init__(self, records: _Optional[_Iterable[_Union[EvidenceRecord, _Mapping]]] = ..., scorer_version: _Optional[str] = ...) -> None: ...

class ScoreRecordsResponse(_message.Message):
    __slots__ = ("scores", "scorer_version")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[RecordScore]
    scorer_version: str
    def __init__(self, scores: _Optional[_Iterable[_Union[RecordScore, _Mapping]]] = ..., scorer_version: _Optional[str] = ...) -> None: ...

class RunDistillationRequest(_message.Message):
    __slots__ = ("sources", "max_records")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    MAX_RECORDS_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedScalarFieldContainer[str]
    max_records: int
    def __init__(self, sources: _Optional[_Iterable[str]] = ..., max_records: _Optional[int] = ...) -> None: ...

class CategoryCount(_message.Message):
    __slots__ = ("category", "count")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    category: str
    count: int
    def __init__(self, category: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class SourceSummary(_message.Message):
    __slots__ = ("source", "scored", "categories", "watermark_before", "watermark_after", "truncated", "note")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SCORED_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_BEFORE_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_AFTER_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    source: str
    scored: int
    categories: _containers.RepeatedCompositeFieldContainer[CategoryCount]
    watermark_before: _timestamp_pb2.Timestamp
    watermark_after: _timestamp_pb2.Timestamp
    truncated: bool
    note: str
    def __init__(self, source: _Optional[str] = ..., scored: _Optional[int] = ..., categories: _Optional[_Iterable[_Union[CategoryCount, _Mapping]]] = ..., watermark_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., watermark_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., truncated: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class DistillationRun(_message.Message):
    __slots__ = ("run_id", "scorer_version", "dataset", "version", "scored", "categories", "sources")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCORED_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    scorer_version: str
    dataset: str
    version: int
    scored: int
    categories: _containers.RepeatedCompositeFieldContainer[CategoryCount]
    sources: _containers.RepeatedCompositeFieldContainer[SourceSummary]
    def __init__(self, run_id: _Optional[str] = ..., scorer_version: _Optional[str] = ..., dataset: _Optional[str] = ..., version: _Optional[int] = ..., scored: _Optional[int] = ..., categories: _Optional[_Iterable[_Union[CategoryCount, _Mapping]]] = ..., sources: _Optional[_Iterable[_Union[SourceSummary, _Mapping]]] = ...) -> None: ...

class EvalItem(_message.Message):
    __slots__ = ("id", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ExportSftRequest(_message.Message):
    __slots__ = ("min_category", "scorer_version", "eval_items", "eval_dataset", "eval_text_column", "eval_id_column")
    MIN_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    EVAL_DATASET_FIELD_NUMBER: _ClassVar[int]
    EVAL_TEXT_COLUMN_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    min_category: str
    scorer_version: str
    eval_items: _containers.RepeatedCompositeFieldContainer[EvalItem]
    eval_dataset: str
    eval_text_column: str
    eval_id_column: str
    def __init__(self, min_category: _Optional[str] = ..., scorer_version: _Optional[str] = ..., eval_items: _Optional[_Iterable[_Union[EvalItem, _Mapping]]] = ..., eval_dataset: _Optional[str] = ..., eval_text_column: _Optional[str] = ..., eval_id_column: _Optional[str] = ...) -> None: ...

class ExcludedRecord(_message.Message):
    __slots__ = ("record_id", "field", "eval_id", "containment", "jaccard")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    EVAL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_FIELD_NUMBER: _ClassVar[int]
    JACCARD_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    field: str
    eval_id: str
    containment: float
    jaccard: float
    def __init__(self, record_id: _Optional[str] = ..., field: _Optional[str] = ..., eval_id: _Optional[str] = ..., containment: _Optional[float] = ..., jaccard: _Optional[float] = ...) -> None: ...

class ExportSftResponse(_message.Message):
    __slots__ = ("jsonl", "key", "sha256", "exported", "record_ids", "scorer_versions", "excluded", "considered", "min_category", "ngram", "containment_threshold", "jaccard_threshold", "eval_items")
    JSONL_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_FIELD_NUMBER: _ClassVar[int]
    RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    CONSIDERED_FIELD_NUMBER: _ClassVar[int]
    MIN_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    NGRAM_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    JACCARD_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    EVAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    jsonl: bytes
    key: str
    sha256: str
    exported: int
    record_ids: _containers.RepeatedScalarFieldContainer[str]
    scorer_versions: _containers.RepeatedScalarFieldContainer[str]
    excluded: _containers.RepeatedCompositeFieldContainer[ExcludedRecord]
    considered: int
    min_category: str
    ngram: int
    containment_threshold: float
    jaccard_threshold: float
    eval_items: int
    def __init__(self, jsonl: _Optional[bytes] = ..., key: _Optional[str] = ..., sha256: _Optional[str] = ..., exported: _Optional[int] = ..., record_ids: _Optional[_Iterable[str]] = ..., scorer_versions: _Optional[_Iterable[str]] = ..., excluded: _Optional[_Iterable[_Union[ExcludedRecord, _Mapping]]] = ..., considered: _Optional[int] = ..., min_category: _Optional[str] = ..., ngram: _Optional[int] = ..., containment_threshold: _Optional[float] = ..., jaccard_threshold: _Optional[float] = ..., eval_items: _Optional[int] = ...) -> None: ...

class ScoredPair(_message.Message):
    __slots__ = ("record", "category", "scorer_version")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    record: EvidenceRecord
    category: str
    scorer_version: str
    def __init__(self, record: _Optional[_Union[EvidenceRecord, _Mapping]] = ..., category: _Optional[str] = ..., scorer_version: _Optional[str] = ...) -> None: ...

class ScorerDriftRequest(_message.Message):
    __slots__ = ("pairs", "scorer_version", "include_entries")
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[ScoredPair]
    scorer_version: str
    include_entries: bool
    def __init__(self, pairs: _Optional[_Iterable[_Union[ScoredPair, _Mapping]]] = ..., scorer_version: _Optional[str] = ..., include_entries: _Optional[bool] = ...) -> None: ...

class CategoryShift(_message.Message):
    __slots__ = ("from_category", "to_category", "count")
    FROM_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TO_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    from_category: str
    to_category: str
    count: int
    def __init__(self, from_category: _Optional[str] = ..., to_category: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class DriftEntry(_message.Message):
    __slots__ = ("record_id", "from_category", "to_category", "score", "reasons", "persisted_version")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TO_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    PERSISTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    from_category: str
    to_category: str
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    persisted_version: str
    def __init__(self, record_id: _Optional[str] = ..., from_category: _Optional[str] = ..., to_category: _Optional[str] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., persisted_version: _Optional[str] = ...) -> None: ...

class ScorerDriftReport(_message.Message):
    __slots__ = ("report_id", "scorer_version", "total", "drifted", "drift_rate", "shifts", "entries", "persisted_versions", "truncated")
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    DRIFT_RATE_FIELD_NUMBER: _ClassVar[int]
    SHIFTS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PERSISTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    scorer_version: str
    total: int
    drifted: int
    drift_rate: float
    shifts: _containers.RepeatedCompositeFieldContainer[CategoryShift]
    entries: _containers.RepeatedCompositeFieldContainer[DriftEntry]
    persisted_versions: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    def __init__(self, report_id: _Optional[str] = ..., scorer_version: _Optional[str] = ..., total: _Optional[int] = ..., drifted: _Optional[int] = ..., drift_rate: _Optional[float] = ..., shifts: _Optional[_Iterable[_Union[CategoryShift, _Mapping]]] = ..., entries: _Optional[_Iterable[_Union[DriftEntry, _Mapping]]] = ..., persisted_versions: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ...) -> None: ...
