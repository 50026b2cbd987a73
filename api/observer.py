"""ObserverService's API: recorded operations, their statistics, and workflow runs.

``ObservedOp`` is one recorded operation (an RPC, or a workflow node's execution);
``Recorder`` is what records them (the server interceptor and the workflow runner both
hand ops to one). The conversions to and from the contract live here, beside the types.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import observer_pb2, observer_pb2_grpc

# ObservedOp.source
SOURCE_GRPC = "grpc"
SOURCE_REST = "rest"
SOURCE_WORKFLOW = "workflow"
SOURCE_MCP = "mcp"
SOURCE_UI = "ui"
SOURCES = (SOURCE_GRPC, SOURCE_REST, SOURCE_WORKFLOW, SOURCE_MCP, SOURCE_UI)
# ObservedOp.service of a workflow node's execution.
WORKFLOW_SERVICE = "workflow"
OK = "OK"
# A caller that is not a plain gRPC or REST client says what it is in this request
# metadata (HTTP header through the gateway): one of workflow, mcp, ui.
SOURCE_HEADER = "x-lakehouse-source"
# ListOpsRequest.status: every op whose code is not OK.
STATUS_ERROR = "error"
# gRPC status code names, the values of ObservedOp.code.
CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)

# Error reasons of ObserverService's reads.
INVALID_SOURCE = "INVALID_SOURCE"
INVALID_STATUS = "INVALID_STATUS"
INVALID_LIMIT = "INVALID_LIMIT"
INVALID_WINDOW = "INVALID_WINDOW"
TOO_MANY_TAILS = "TOO_MANY_TAILS"


@dataclass(frozen=True)
class ObservedOp:
    id: str
    time: datetime
    service: str
    method: str
    source: str
    code: str = OK
    reason: str = ""
    latency_ms: float = 0.0
    request_bytes: int = 0
    response_bytes: int = 0
    attributes: Mapping[str, str] = field(default_factory=dict)
    profile: str = ""
    trace_id: str = ""
    span_id: str = ""
    workflow: str = ""
    run_id: str = ""
    node_id: str = ""
    input_summary: str = ""
    output_summary: str = ""


class Recorder(Protocol):
    """Takes ops to record. ``record`` never blocks on I/O and never raises: recording
    must not slow or fail the operation it records."""

    def record(self, op: ObservedOp) -> None: ...


@dataclass(frozen=True)
class OpsFilter:
    """Which ops ListOps and TailOps return; empty fields do not filter. ``service`` is the
    full name or the short one (QueryService); ``status`` a code name or "error"."""

    service: str = ""
    method: str = ""
    source: str = ""
    status: str = ""
    since: datetime | None = None
    run_id: str = ""


@dataclass(frozen=True)
class MethodStats:
    """One method called from one source, over the window."""

    service: str
    method: str
    source: str
    count: int
    errors: Mapping[str, int]
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class OpStats:
    """GetStats: per method and source, and the recorder's own counters."""

    methods: tuple[MethodStats, ...]
    window_s: int
    recorded: int = 0
    journal_failures: int = 0
    pending: int = 0
    journaled: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class OpsPage:
    """ListOps: newest first; ``partial`` when the journal could not be read (only the
    answering process's recent ops are in it)."""

    ops: tuple[ObservedOp, ...]
    partial: bool = False


class ObserverApi(Protocol):
    """The recorded ops: the core (servers/observer/core.py) and RemoteObserver."""

    def list_ops(self, where: OpsFilter, limit: int = 0) -> OpsPage: ...

    def tail_ops(self, where: OpsFilter) -> Iterator[ObservedOp]:
        """New ops as they are recorded, until the iterator is closed."""
        ...

    def stats(self, window_s: int = 0, service: str = "", source: str = "") -> OpStats: ...


def op_to_pb(op: ObservedOp) -> observer_pb2.ObservedOp:
    return observer_pb2.ObservedOp(
        id=op.id,
        time=timestamp(op.time),
        service=op.service,
        method=op.method,
        source=op.source,
        profile=op.profile,
        code=op.code,
        reason=op.reason,
        latency_ms=op.latency_ms,
        request_bytes=op.request_bytes,
        response_bytes=op.response_bytes,
        attributes=dict(op.attributes),
        trace_id=op.trace_id,
        span_id=op.span_id,
        workflow=op.workflow,
        run_id=op.run_id,
        node_id=op.node_id,
        input_summary=op.input_summary,
        output_summary=op.output_summary,
    )


def op_from_pb(m: observer_pb2.ObservedOp) -> ObservedOp:
    return ObservedOp(
        id=m.id,
        time=m.time.ToDatetime(tzinfo=UTC),
        service=m.service,
        method=m.method,
        source=m.source,
        profile=m.profile,
        code=m.code,
        reason=m.reason,
        latency_ms=m.latency_ms,
        request_bytes=m.request_bytes,
        response_bytes=m.response_bytes,
        attributes=dict(m.attributes),
        trace_id=m.trace_id,
        span_id=m.span_id,
        workflow=m.workflow,
        run_id=m.run_id,
        node_id=m.node_id,
        input_summary=m.input_summary,
        output_summary=m.output_summary,
    )


def filter_to_pb(where: OpsFilter, limit: int = 0) -> observer_pb2.ListOpsRequest:
    out = observer_pb2.ListOpsRequest(
        service=where.service,
        method=where.method,
        source=where.source,
        status=where.status,
        limit=limit,
        run_id=where.run_id,
    )
    if where.since is not None:
        out.since.CopyFrom(timestamp(where.since))
    return out


def filter_from_pb(m: observer_pb2.ListOpsRequest) -> tuple[OpsFilter, int]:
    since = m.since.ToDatetime(tzinfo=UTC) if m.HasField("since") else None
    where = OpsFilter(
        service=m.service, method=m.method, source=m.source, status=m.status, since=since, run_id=m.run_id
    )
    return where, m.limit


def page_to_pb(page: OpsPage) -> observer_pb2.ListOpsResponse:
    return observer_pb2.ListOpsResponse(ops=[op_to_pb(op) for op in page.ops], partial=page.partial)


def page_from_pb(m: observer_pb2.ListOpsResponse) -> OpsPage:
    return OpsPage(ops=tuple(op_from_pb(op) for op in m.ops), partial=m.partial)


def stats_to_pb(stats: OpStats) -> observer_pb2.ObserverStats:
    return observer_pb2.ObserverStats(
        methods=[
            observer_pb2.MethodStats(
                service=s.service,
                method=s.method,
                source=s.source,
                count=s.count,
                errors=dict(s.errors),
                p50_ms=s.p50_ms,
                p95_ms=s.p95_ms,
                p99_ms=s.p99_ms,
            )
            for s in stats.methods
        ],
        window_s=stats.window_s,
        recorded=stats.recorded,
        journal_failures=stats.journal_failures,
        pending=stats.pending,
        journaled=stats.journaled,
        dropped=stats.dropped,
    )


def stats_from_pb(m: observer_pb2.ObserverStats) -> OpStats:
    return OpStats(
        methods=tuple(
            MethodStats(
                service=s.service,
                method=s.method,
                source=s.source,
                count=s.count,
                errors=dict(s.errors),
                p50_ms=s.p50_ms,
                p95_ms=s.p95_ms,
                p99_ms=s.p99_ms,
            )
            for s in m.methods
        ),
        window_s=m.window_s,
        recorded=m.recorded,
        journal_failures=m.journal_failures,
        pending=m.pending,
        journaled=m.journaled,
        dropped=m.dropped,
    )


class RemoteObserver(Remote):
    """ObserverService's reads over the generated stub (the workflow methods live in
    lakehouse.api.workflows)."""

    stub_type = observer_pb2_grpc.ObserverServiceStub

    def list_ops(self, where: OpsFilter, limit: int = 0) -> OpsPage:
        return page_from_pb(self._call("ListOps", filter_to_pb(where, limit)))

    def tail_ops(self, where: OpsFilter) -> Iterator[ObservedOp]:
        """Closing the iterator (or dropping it) cancels the call."""
        messages = self._stream("TailOps", observer_pb2.TailOpsRequest(filter=filter_to_pb(where)), NO_DEADLINE)
        try:
            for message in messages:
                yield op_from_pb(message)
        finally:
            messages.close()

    def stats(self, window_s: int = 0, service: str = "", source: str = "") -> OpStats:
        request = observer_pb2.GetStatsRequest(window_s=window_s, service=service, source=source)
        return stats_from_pb(self._call("GetStats", request))
