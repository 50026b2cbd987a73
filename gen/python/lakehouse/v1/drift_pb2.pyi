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

class PlaybookDriftRequest(_message.Message):
    __slots__ = ("corpora", "k", "max_entries", "worst", "include_entries")
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    WORST_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    corpora: _containers.RepeatedScalarFieldContainer[str]
    k: int
    max_entries: int
    worst: int
    include_entries: bool
    def __init__(self, corpora: _Optional[_Iterable[str]] = ..., k: _Optional[int] = ..., max_entries: _Optional[int] = ..., worst: _Optional[int] = ..., include_entries: _Optional[bool] = ...) -> None: ...

class PlaybookDriftEntry(_message.Message):
    __slots__ = ("entry_id", "query", "corpus", "item_id", "score", "time", "rank", "drifted", "item_score", "top_item_id", "top_score")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    ITEM_SCORE_FIELD_NUMBER: _ClassVar[int]
    TOP_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_SCORE_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    query: str
    corpus: str
    item_id: str
    score: float
    time: _timestamp_pb2.Timestamp
    rank: int
    drifted: bool
    item_score: float
    top_item_id: str
    top_score: float
    def __init__(self, entry_id: _Optional[str] = ..., query: _Optional[str] = ..., corpus: _Optional[str] = ..., item_id: _Optional[str] = ..., score: _Optional[float] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rank: _Optional[int] = ..., drifted: _Optional[bool] = ..., item_score: _Optional[float] = ..., top_item_id: _Optional[str] = ..., top_score: _Optional[float] = ...) -> None: ...

class PlaybookCorpusDrift(_message.Message):
    __slots__ = ("corpus", "entries", "drifted", "rate", "skipped", "error_reason")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    entries: int
    drifted: int
    rate: float
    skipped: int
    error_reason: str
    def __init__(self, corpus: _Optional[str] = ..., entries: _Optional[int] = ..., drifted: _Optional[int] = ..., rate: _Optional[float] = ..., skipped: _Optional[int] = ..., error_reason: _Optional[str] = ...) -> None: ...

class PlaybookDriftReport(_message.Message):
    __slots__ = ("run_id", "time", "k", "entries", "drifted", "rate", "corpora", "worst", "entries_checked", "truncated", "dataset")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    CORPORA_FIELD_NUMBER: _ClassVar[int]
    WORST_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    time: _timestamp_pb2.Timestamp
    k: int
    entries: int
    drifted: int
    rate: float
    corpora: _containers.RepeatedCompositeFieldContainer[PlaybookCorpusDrift]
    worst: _containers.RepeatedCompositeFieldContainer[PlaybookDriftEntry]
    entries_checked: _containers.RepeatedCompositeFieldContainer[PlaybookDriftEntry]
    truncated: bool
    dataset: str
    def __init__(self, run_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., k: _Optional[int] = ..., entries: _Optional[int] = ..., drifted: _Optional[int] = ..., rate: _Optional[float] = ..., corpora: _Optional[_Iterable[_Union[PlaybookCorpusDrift, _Mapping]]] = ..., worst: _Optional[_Iterable[_Union[PlaybookDriftEntry, _Mapping]]] = ..., entries_checked: _Optional[_Iterable[_Union[PlaybookDriftEntry, _Mapping]]] = ..., truncated: _Optional[bool] = ..., dataset: _Optional[str] = ...) -> None: ...

class PlaybookDriftProgress(_message.Message):
    __slots__ = ("checked", "drifted")
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    checked: int
    drifted: int
    def __init__(self, checked: _Optional[int] = ..., drifted: _Optional[int] = ...) -> None: ...

class PlaybookDriftEvent(_message.Message):
    __slots__ = ("progress", "report")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    progress: PlaybookDriftProgress
    report: PlaybookDriftReport
    def __init__(self, progress: _Optional[_Union[PlaybookDriftProgress, _Mapping]] = ..., report: _Optional[_Union[PlaybookDriftReport, _Mapping]] = ...) -> None: ...

class GenerationSample(_message.Message):
    __slots__ = ("corpus", "generation")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    generation: int
    def __init__(self, corpus: _Optional[str] = ..., generation: _Optional[int] = ...) -> None: ...

class WindowSample(_message.Message):
    __slots__ = ("corpus", "time_field", "start", "end")
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    corpus: str
    time_field: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, corpus: _Optional[str] = ..., time_field: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DriftVector(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class VectorSample(_message.Message):
    __slots__ = ("vectors",)
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    vectors: _containers.RepeatedCompositeFieldContainer[DriftVector]
    def __init__(self, vectors: _Optional[_Iterable[_Union[DriftVector, _Mapping]]] = ...) -> None: ...

class EmbeddingSample(_message.Message):
    __slots__ = ("generation", "window", "vectors")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    generation: GenerationSample
    window: WindowSample
    vectors: VectorSample
    def __init__(self, generation: _Optional[_Union[GenerationSample, _Mapping]] = ..., window: _Optional[_Union[WindowSample, _Mapping]] = ..., vectors: _Optional[_Union[VectorSample, _Mapping]] = ...) -> None: ...

class EmbeddingDriftRequest(_message.Message):
    __slots__ = ("baseline", "current", "method", "projections", "alpha", "max_sample", "top_tests")
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PROJECTIONS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    TOP_TESTS_FIELD_NUMBER: _ClassVar[int]
    baseline: EmbeddingSample
    current: EmbeddingSample
    method: str
    projections: int
    alpha: float
    max_sample: int
    top_tests: int
    def __init__(self, baseline: _Optional[_Union[EmbeddingSample, _Mapping]] = ..., current: _Optional[_Union[EmbeddingSample, _Mapping]] = ..., method: _Optional[str] = ..., projections: _Optional[int] = ..., alpha: _Optional[float] = ..., max_sample: _Optional[int] = ..., top_tests: _Optional[int] = ...) -> None: ...

class KsTest(_message.Message):
    __slots__ = ("kind", "index", "statistic", "p_value", "adjusted_p", "rejected")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_P_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    index: int
    statistic: float
    p_value: float
    adjusted_p: float
    rejected: bool
    def __init__(self, kind: _Optional[str] = ..., index: _Optional[int] = ..., statistic: _Optional[float] = ..., p_value: _Optional[float] = ..., adjusted_p: _Optional[float] = ..., rejected: _Optional[bool] = ...) -> None: ...

class EmbeddingDriftReport(_message.Message):
    __slots__ = ("run_id", "time", "baseline", "current", "baseline_count", "current_count", "dimension", "method", "correction", "alpha", "tests", "rejected", "drifted", "max_statistic", "min_adjusted_p", "centroid_cosine", "centroid_l2", "top", "seed", "dataset")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CORRECTION_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    TESTS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    MAX_STATISTIC_FIELD_NUMBER: _ClassVar[int]
    MIN_ADJUSTED_P_FIELD_NUMBER: _ClassVar[int]
    CENTROID_COSINE_FIELD_NUMBER: _ClassVar[int]
    CENTROID_L2_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    time: _timestamp_pb2.Timestamp
    baseline: str
    current: str
    baseline_count: int
    current_count: int
    dimension: int
    method: str
    correction: str
    alpha: float
    tests: int
    rejected: int
    drifted: bool
    max_statistic: float
    min_adjusted_p: float
    centroid_cosine: float
    centroid_l2: float
    top: _containers.RepeatedCompositeFieldContainer[KsTest]
    seed: int
    dataset: str
    def __init__(self, run_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., baseline: _Optional[str] = ..., current: _Optional[str] = ..., baseline_count: _Optional[int] = ..., current_count: _Optional[int] = ..., dimension: _Optional[int] = ..., method: _Optional[str] = ..., correction: _Optional[str] = ..., alpha: _Optional[float] = ..., tests: _Optional[int] = ..., rejected: _Optional[int] = ..., drifted: _Optional[bool] = ..., max_statistic: _Optional[float] = ..., min_adjusted_p: _Optional[float] = ..., centroid_cosine: _Optional[float] = ..., centroid_l2: _Optional[float] = ..., top: _Optional[_Iterable[_Union[KsTest, _Mapping]]] = ..., seed: _Optional[int] = ..., dataset: _Optional[str] = ...) -> None: ...

class AuditSnapshot(_message.Message):
    __slots__ = ("timestamp", "subject", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    subject: str
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class AuditDriftRequest(_message.Message):
    __slots__ = ("subject", "metrics", "record", "timestamp", "window", "relative_tolerance", "absolute_tolerance", "tolerances")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TolerancesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    TOLERANCES_FIELD_NUMBER: _ClassVar[int]
    subject: str
    metrics: _containers.ScalarMap[str, float]
    record: bool
    timestamp: _timestamp_pb2.Timestamp
    window: int
    relative_tolerance: float
    absolute_tolerance: float
    tolerances: _containers.ScalarMap[str, float]
    def __init__(self, subject: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., record: _Optional[bool] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window: _Optional[int] = ..., relative_tolerance: _Optional[float] = ..., absolute_tolerance: _Optional[float] = ..., tolerances: _Optional[_Mapping[str, float]] = ...) -> None: ...

class AuditMetricDrift(_message.Message):
    __slots__ = ("name", "value", "baseline", "delta", "relative", "samples", "moved", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    baseline: float
    delta: float
    relative: float
    samples: int
    moved: bool
    status: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., baseline: _Optional[float] = ..., delta: _Optional[float] = ..., relative: _Optional[float] = ..., samples: _Optional[int] = ..., moved: _Optional[bool] = ..., status: _Optional[str] = ...) -> None: ...

class AuditDriftReport(_message.Message):
    __slots__ = ("run_id", "subject", "snapshot", "baseline_snapshots", "metrics", "moved", "recorded", "baseline_key", "dataset")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    BASELINE_KEY_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    subject: str
    snapshot: AuditSnapshot
    baseline_snapshots: int
    metrics: _containers.RepeatedCompositeFieldContainer[AuditMetricDrift]
    moved: int
    recorded: bool
    baseline_key: str
    dataset: str
    def __init__(self, run_id: _Optional[str] = ..., subject: _Optional[str] = ..., snapshot: _Optional[_Union[AuditSnapshot, _Mapping]] = ..., baseline_snapshots: _Optional[int] = ..., metrics: _Optional[_Iterable[_Union[AuditMetricDrift, _Mapping]]] = ..., moved: _Optional[int] = ..., recorded: _Optional[bool] = ..., baseline_key: _Optional[str] = ..., dataset: _Optional[str] = ...) -> None: ...

class ListAuditSnapshotsRequest(_message.Message):
    __slots__ = ("subject", "limit")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    limit: int
    def __init__(self, subject: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAuditSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[AuditSnapshot]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[AuditSnapshot, _Mapping]]] = ...) -> None: ...
