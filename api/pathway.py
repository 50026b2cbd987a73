"""PathwayService's API: the pathway and the matrix-correctness value types
(``SemanticFlag``, ``BugFingerprint``, ``TypeHint``), their conversions, the ``PathwayApi``
protocol and its remote implementation.

A pathway is the sequence of steps (workflow modes, as their nodes were written) a
successful run took, with the 32-bucket hash vector of its task (docs/pathway.md). The
value types are plain frozen dataclasses: the state file stores them as JSON
(``servers/pathway/types.py``), the contract as messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.api.workflows import dict_of, struct_of
from lakehouse.v1 import pathway_pb2, pathway_pb2_grpc

# Stable error reasons (ErrorInfo.reason) of PathwayService.
PATHWAY_NOT_FOUND = "PATHWAY_NOT_FOUND"  # NOT_FOUND
PATHWAY_INVALID = "PATHWAY_INVALID"  # INVALID_ARGUMENT: a malformed record (field named)
PATHWAY_TASK_NO_TOKENS = "PATHWAY_TASK_NO_TOKENS"  # INVALID_ARGUMENT: nothing to hash the task by
PATHWAY_TEXT_TOO_LARGE = "PATHWAY_TEXT_TOO_LARGE"  # INVALID_ARGUMENT: over pathway.max_text_bytes
PATHWAY_RUN_NOT_SUCCEEDED = "PATHWAY_RUN_NOT_SUCCEEDED"  # FAILED_PRECONDITION: only successes are pathways
PATHWAY_RUN_DEFINITION_UNKNOWN = "PATHWAY_RUN_DEFINITION_UNKNOWN"  # FAILED_PRECONDITION: give its yaml
PATHWAY_RUN_MISMATCH = "PATHWAY_RUN_MISMATCH"  # INVALID_ARGUMENT: the yaml is not the run's workflow
PATHWAY_LIMIT = "PATHWAY_LIMIT"  # RESOURCE_EXHAUSTED: pathway.max_pathways
PATHWAY_STATE_UNREADABLE = "PATHWAY_STATE_UNREADABLE"  # FAILED_PRECONDITION: the state file is damaged
# StepReplay.reason of a step whose mode is not in the catalog any more.
PATHWAY_MODE_UNKNOWN = "PATHWAY_MODE_UNKNOWN"

# PathwayStep.mode of a prompt node.
PROMPT_STEP = "prompt"

# SemanticFlag.kind
FLAG_PARTIAL = "PARTIAL"  # the step's output said partial: true (a corpus did not answer)
FLAG_DOWNGRADED = "DOWNGRADED"  # the search's downgrade gate switched its mode
FLAG_STEP_SKIPPED = "STEP_SKIPPED"  # a node of the recorded run was skipped (not a step)
FLAG_TYPE_CHANGED = "TYPE_CHANGED"  # a replayed output field has another JSON type
FLAG_FIELD_MISSING = "FIELD_MISSING"  # a replayed output lacks a recorded field
FLAG_KINDS = (FLAG_PARTIAL, FLAG_DOWNGRADED, FLAG_STEP_SKIPPED, FLAG_TYPE_CHANGED, FLAG_FIELD_MISSING)

# TypeHint.type: JSON's types (integers and floats are both numbers).
JSON_TYPES = ("object", "array", "string", "number", "boolean", "null")
# BugFingerprint.code of a node failure that carries no status code.
FAILED_CODE = "FAILED"
FINGERPRINT_HEX = 16


@dataclass(frozen=True)
class SemanticFlag:
    """A property of a step's result its success status does not show (see FLAG_KINDS).
    A flag never fails a step: it is what a reviewer of matrix results should look at."""

    step: str
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class BugFingerprint:
    """A failure reduced to what stays the same each time it happens (mode, code, reason),
    so repeated replays failing the same way are one fingerprint with a count."""

    mode: str
    code: str
    reason: str
    count: int = 1

    @property
    def fingerprint(self) -> str:
        key = "\x1f".join((self.mode, self.code, self.reason)).encode("utf-8")
        return hashlib.sha256(key).hexdigest()[:FINGERPRINT_HEX]


@dataclass(frozen=True)
class TypeHint:
    """The JSON type (JSON_TYPES) of one top-level field of a step's recorded output."""

    step: str
    field: str
    type: str


@dataclass(frozen=True)
class PathwayStep:
    """A workflow node as it was written: ``args`` is its ``with``, references included."""

    id: str
    mode: str
    args: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    prompt: str = ""
    when: str = ""


@dataclass(frozen=True)
class Pathway:
    id: str
    task: str
    steps: tuple[PathwayStep, ...]
    vector: bytes  # 32 little-endian float32
    recorded_at: datetime
    inputs: Mapping[str, Any] = field(default_factory=dict)
    workflow: str = ""
    source_run_id: str = ""
    flags: tuple[SemanticFlag, ...] = ()
    type_hints: tuple[TypeHint, ...] = ()
    fingerprints: tuple[BugFingerprint, ...] = ()
    replays: int = 0
    replay_failures: int = 0

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(s.mode for s in self.steps)


@dataclass(frozen=True)
class RecordRequest:
    """Steps (with a task), or ``run_id`` (a finished succeeded workflow run)."""

    task: str = ""
    steps: tuple[PathwayStep, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    workflow: str = ""
    run_id: str = ""
    yaml: str = ""


@dataclass(frozen=True)
class PathwayMatch:
    pathway: Pathway
    score: float
    rank: int


@dataclass(frozen=True)
class NearestResult:
    matches: tuple[PathwayMatch, ...]
    searched: int


@dataclass(frozen=True)
class StepReplay:
    step: str
    mode: str
    status: str  # lakehouse.api.workflows SUCCEEDED, FAILED, SKIPPED or CANCELLED
    reason: str = ""
    error: str = ""
    latency_ms: float = 0.0


@dataclass(frozen=True)
class ReplayResult:
    pathway_id: str
    run_id: str
    ok: bool
    steps: tuple[StepReplay, ...]
    flags: tuple[SemanticFlag, ...] = ()
    fingerprints: tuple[BugFingerprint, ...] = ()


@dataclass(frozen=True)
class BucketVector:
    vector: bytes
    values: tuple[float, ...]
    tokens: int
    algorithm: str

    @property
    def hex(self) -> str:
        return self.vector.hex()


class PathwayApi(Protocol):
    """Met in-process by PathwayCore and across processes by RemotePathway."""

    def record(self, request: RecordRequest) -> Pathway: ...

    def nearest(self, task: str, k: int = 0, min_score: float | None = None) -> NearestResult: ...

    def replay(self, pathway_id: str, inputs: Mapping[str, Any] | None = None) -> ReplayResult: ...

    def get(self, pathway_id: str) -> Pathway: ...

    def list(self, page_size: int = 0, page_token: str = "") -> tuple[list[Pathway], str, int]: ...

    def bucket_vector(self, text: str) -> BucketVector: ...


# Conversions ---------------------------------------------------------------------


def step_to_pb(s: PathwayStep) -> pathway_pb2.PathwayStep:
    return pathway_pb2.PathwayStep(
        id=s.id,
        mode=s.mode,
        args=struct_of(dict(s.args)),
        depends_on=list(s.depends_on),
        prompt=s.prompt,
        when=s.when,
    )


def step_from_pb(m: pathway_pb2.PathwayStep) -> PathwayStep:
    return PathwayStep(m.id, m.mode, dict_of(m.args), tuple(m.depends_on), m.prompt, m.when)


def flag_to_pb(f: SemanticFlag) -> pathway_pb2.SemanticFlag:
    return pathway_pb2.SemanticFlag(step=f.step, kind=f.kind, detail=f.detail)


def flag_from_pb(m: pathway_pb2.SemanticFlag) -> SemanticFlag:
    return SemanticFlag(m.step, m.kind, m.detail)


def fingerprint_to_pb(b: BugFingerprint) -> pathway_pb2.BugFingerprint:
    return pathway_pb2.BugFingerprint(
        mode=b.mode, code=b.code, reason=b.reason, fingerprint=b.fingerprint, count=b.count
    )


def fingerprint_from_pb(m: pathway_pb2.BugFingerprint) -> BugFingerprint:
    return BugFingerprint(m.mode, m.code, m.reason, m.count)


def hint_to_pb(h: TypeHint) -> pathway_pb2.TypeHint:
    return pathway_pb2.TypeHint(step=h.step, field=h.field, type=h.type)


def hint_from_pb(m: pathway_pb2.TypeHint) -> TypeHint:
    return TypeHint(m.step, m.field, m.type)


def pathway_to_pb(p: Pathway) -> pathway_pb2.Pathway:
    return pathway_pb2.Pathway(
        id=p.id,
        task=p.task,
        steps=[step_to_pb(s) for s in p.steps],
        inputs=struct_of(dict(p.inputs)),
        workflow=p.workflow,
        source_run_id=p.source_run_id,
        vector=p.vector,
        record_time=timestamp(p.recorded_at),
        flags=[flag_to_pb(f) for f in p.flags],
        type_hints=[hint_to_pb(h) for h in p.type_hints],
        fingerprints=[fingerprint_to_pb(b) for b in p.fingerprints],
        replays=p.replays,
        replay_failures=p.replay_failures,
    )


def pathway_from_pb(m: pathway_pb2.Pathway) -> Pathway:
    return Pathway(
        id=m.id,
        task=m.task,
        steps=tuple(step_from_pb(s) for s in m.steps),
        vector=m.vector,
        recorded_at=m.record_time.ToDatetime(tzinfo=UTC),
        inputs=dict_of(m.inputs),
        workflow=m.workflow,
        source_run_id=m.source_run_id,
        flags=tuple(flag_from_pb(f) for f in m.flags),
        type_hints=tuple(hint_from_pb(h) for h in m.type_hints),
        fingerprints=tuple(fingerprint_from_pb(b) for b in m.fingerprints),
        replays=m.replays,
        replay_failures=m.replay_failures,
    )


def record_to_pb(r: RecordRequest) -> pathway_pb2.RecordPathwayRequest:
    return pathway_pb2.RecordPathwayRequest(
        task=r.task,
        steps=[step_to_pb(s) for s in r.steps],
        inputs=struct_of(dict(r.inputs)),
        workflow=r.workflow,
        run_id=r.run_id,
        yaml=r.yaml,
    )


def record_from_pb(m: pathway_pb2.RecordPathwayRequest) -> RecordRequest:
    return RecordRequest(
        task=m.task,
        steps=tuple(step_from_pb(s) for s in m.steps),
        inputs=dict_of(m.inputs),
        workflow=m.workflow,
        run_id=m.run_id,
        yaml=m.yaml,
    )


def nearest_to_pb(r: NearestResult) -> pathway_pb2.NearestPathwaysResponse:
    return pathway_pb2.NearestPathwaysResponse(
        matches=[
            pathway_pb2.PathwayMatch(pathway=pathway_to_pb(m.pathway), score=m.score, rank=m.rank) for m in r.matches
        ],
        searched=r.searched,
    )


def nearest_from_pb(m: pathway_pb2.NearestPathwaysResponse) -> NearestResult:
    return NearestResult(
        tuple(PathwayMatch(pathway_from_pb(x.pathway), x.score, x.rank) for x in m.matches), m.searched
    )


def replay_to_pb(r: ReplayResult) -> pathway_pb2.ReplayPathwayResponse:
    return pathway_pb2.ReplayPathwayResponse(
        pathway_id=r.pathway_id,
        run_id=r.run_id,
        ok=r.ok,
        steps=[
            pathway_pb2.StepReplay(
                step=s.step, mode=s.mode, status=s.status, reason=s.reason, error=s.error, latency_ms=s.latency_ms
            )
            for s in r.steps
        ],
        flags=[flag_to_pb(f) for f in r.flags],
        fingerprints=[fingerprint_to_pb(b) for b in r.fingerprints],
    )


def replay_from_pb(m: pathway_pb2.ReplayPathwayResponse) -> ReplayResult:
    return ReplayResult(
        pathway_id=m.pathway_id,
        run_id=m.run_id,
        ok=m.ok,
        steps=tuple(StepReplay(s.step, s.mode, s.status, s.reason, s.error, s.latency_ms) for s in m.steps),
        flags=tuple(flag_from_pb(f) for f in m.flags),
        fingerprints=tuple(fingerprint_from_pb(b) for b in m.fingerprints),
    )


def bucket_vector_to_pb(v: BucketVector) -> pathway_pb2.BucketVectorResponse:
    return pathway_pb2.BucketVectorResponse(
        vector=v.vector, hex=v.hex, values=list(v.values), tokens=v.tokens, algorithm=v.algorithm
    )


def bucket_vector_from_pb(m: pathway_pb2.BucketVectorResponse) -> BucketVector:
    return BucketVector(m.vector, tuple(m.values), m.tokens, m.algorithm)


class RemotePathway(Remote):
    stub_type = pathway_pb2_grpc.PathwayServiceStub

    def record(self, request: RecordRequest) -> Pathway:
        return pathway_from_pb(self._call("RecordPathway", record_to_pb(request)))

    def nearest(self, task: str, k: int = 0, min_score: float | None = None) -> NearestResult:
        request = pathway_pb2.NearestPathwaysRequest(task=task, k=k)
        if min_score is not None:
            request.min_score = min_score
        return nearest_from_pb(self._call("NearestPathways", request))

    def replay(self, pathway_id: str, inputs: Mapping[str, Any] | None = None) -> ReplayResult:
        request = pathway_pb2.ReplayPathwayRequest(id=pathway_id, inputs=struct_of(dict(inputs or {})))
        return replay_from_pb(self._call("ReplayPathway", request))

    def get(self, pathway_id: str) -> Pathway:
        return pathway_from_pb(self._call("GetPathway", pathway_pb2.GetPathwayRequest(id=pathway_id)))

    def list(self, page_size: int = 0, page_token: str = "") -> tuple[list[Pathway], str, int]:
        reply = self._call("ListPathways", pathway_pb2.ListPathwaysRequest(page_size=page_size, page_token=page_token))
        return [pathway_from_pb(p) for p in reply.pathways], reply.next_page_token, reply.total

    def bucket_vector(self, text: str) -> BucketVector:
        return bucket_vector_from_pb(self._call("BucketVector", pathway_pb2.BucketVectorRequest(text=text)))
