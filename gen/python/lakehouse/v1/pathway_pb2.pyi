import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PathwayStep(_message.Message):
    __slots__ = ("id", "mode", "args", "depends_on", "prompt", "when")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    mode: str
    args: _struct_pb2.Struct
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    prompt: str
    when: str
    def __init__(self, id: _Optional[str] = ..., mode: _Optional[str] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., depends_on: _Optional[_Iterable[str]] = ..., prompt: _Optional[str] = ..., when: _Optional[str] = ...) -> None: ...

class SemanticFlag(_message.Message):
    __slots__ = ("step", "kind", "detail")
    STEP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    step: str
    kind: str
    detail: str
    def __init__(self, step: _Optional[str] = ..., kind: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class BugFingerprint(_message.Message):
    __slots__ = ("mode", "code", "reason", "fingerprint", "count")
    MODE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    mode: str
    code: str
    reason: str
    fingerprint: str
    count: int
    def __init__(self, mode: _Optional[str] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ..., fingerprint: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class TypeHint(_message.Message):
    __slots__ = ("step", "field", "type")
    STEP_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    step: str
    field: str
    type: str
    def __init__(self, step: _Optional[str] = ..., field: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class Pathway(_message.Message):
    __slots__ = ("id", "task", "steps", "inputs", "workflow", "source_run_id", "vector", "record_time", "flags", "type_hints", "fingerprints", "replays", "replay_failures")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    SOURCE_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    TYPE_HINTS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    REPLAYS_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FAILURES_FIELD_NUMBER: _ClassVar[int]
    id: str
    task: str
    steps: _containers.RepeatedCompositeFieldContainer[PathwayStep]
    inputs: _struct_pb2.Struct
    workflow: str
    source_run_id: str
    vector: bytes
    record_time: _timestamp_pb2.Timestamp
    flags: _containers.RepeatedCompositeFieldContainer[SemanticFlag]
    type_hints: _containers.RepeatedCompositeFieldContainer[TypeHint]
    fingerprints: _containers.RepeatedCompositeFieldContainer[BugFingerprint]
    replays: int
    replay_failures: int
    def __init__(self, id: _Optional[str] = ..., task: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[PathwayStep, _Mapping]]] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., workflow: _Optional[str] = ..., source_run_id: _Optional[str] = ..., vector: _Optional[bytes] = ..., record_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., flags: _Optional[_Iterable[_Union[SemanticFlag, _Mapping]]] = ..., type_hints: _Optional[_Iterable[_Union[TypeHint, _Mapping]]] = ..., fingerprints: _Optional[_Iterable[_Union[BugFingerprint, _Mapping]]] = ..., replays: _Optional[int] = ..., replay_failures: _Optional[int] = ...) -> None: ...

class RecordPathwayRequest(_message.Message):
    __slots__ = ("task", "steps", "inputs", "workflow", "run_id", "yaml")
    TASK_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    YAML_FIELD_NUMBER: _ClassVar[int]
    task: str
    steps: _containers.RepeatedCompositeFieldContainer[PathwayStep]
    inputs: _struct_pb2.Struct
    workflow: str
    run_id: str
    yaml: str
    def __init__(self, task: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[PathwayStep, _Mapping]]] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., workflow: _Optional[str] = ..., run_id: _Optional[str] = ..., yaml: _Optional[str] = ...) -> None: ...

class NearestPathwaysRequest(_message.Message):
    __slots__ = ("task", "k", "min_score")
    TASK_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    task: str
    k: int
    min_score: float
    def __init__(self, task: _Optional[str] = ..., k: _Optional[int] = ..., min_score: _Optional[float] = ...) -> None: ...

class PathwayMatch(_message.Message):
    __slots__ = ("pathway", "score", "rank")
    PATHWAY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    pathway: Pathway
    score: float
    rank: int
    def __init__(self, pathway: _Optional[_Union[Pathway, _Mapping]] = ..., score: _Optional[float] = ..., rank: _Optional[int] = ...) -> None: ...

class NearestPathwaysResponse(_message.Message):
    __slots__ = ("matches", "searched")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    SEARCHED_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[PathwayMatch]
    searched: int
    def __init__(self, matches: _Optional[_Iterable[_Union[PathwayMatch, _Mapping]]] = ..., searched: _Optional[int] = ...) -> None: ...

class ReplayPathwayRequest(_message.Message):
    __slots__ = ("id", "inputs")
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    inputs: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StepReplay(_message.Message):
    __slots__ = ("step", "mode", "status", "reason", "error", "latency_ms")
    STEP_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    step: str
    mode: str
    status: str
    reason: str
    error: str
    latency_ms: float
    def __init__(self, step: _Optional[str] = ..., mode: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., error: _Optional[str] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class ReplayPathwayResponse(_message.Message):
    __slots__ = ("pathway_id", "run_id", "ok", "steps", "flags", "fingerprints")
    PATHWAY_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    pathway_id: str
    run_id: str
    ok: bool
    steps: _containers.RepeatedCompositeFieldContainer[StepReplay]
    flags: _containers.RepeatedCompositeFieldContainer[SemanticFlag]
    fingerprints: _containers.RepeatedCompositeFieldContainer[BugFingerprint]
    def __init__(self, pathway_id: _Optional[str] = ..., run_id: _Optional[str] = ..., ok: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[StepReplay, _Mapping]]] = ..., flags: _Optional[_Iterable[_Union[SemanticFlag, _Mapping]]] = ..., fingerprints: _Optional[_Iterable[_Union[BugFingerprint, _Mapping]]] = ...) -> None: ...

class GetPathwayRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListPathwaysRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPathwaysResponse(_message.Message):
    __slots__ = ("pathways", "next_page_token", "total")
    PATHWAYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    pathways: _containers.RepeatedCompositeFieldContainer[Pathway]
    next_page_token: str
    total: int
    def __init__(self, pathways: _Optional[_Iterable[_Union[Pathway, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class BucketVectorRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class BucketVectorResponse(_message.Message):
    __slots__ = ("vector", "hex", "values", "tokens", "algorithm")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    HEX_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    vector: bytes
    hex: str
    values: _containers.RepeatedScalarFieldContainer[float]
    tokens: int
    algorithm: str
    def __init__(self, vector: _Optional[bytes] = ..., hex: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., tokens: _Optional[int] = ..., algorithm: _Optional[str] = ...) -> None: ...
