"""Workflows' API (served by ObserverService): the definition of a workflow, the results of
its runs, their events, the conversions to and from the contract, the ``WorkflowsApi``
protocol and its remote implementation.

A workflow is a nodes-only DAG in Archon's YAML shape (``servers/workflows/schema.py``
reads and validates it). Each node is a ``prompt`` (ModelService Chat) or a ``mode`` called
``with`` arguments (the mode catalog, ``servers/workflows/modes.py``). A run executes the
nodes in topological layers and records every node execution as an ``ObservedOp`` with
source ``workflow`` (``lakehouse.api.observer``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf import json_format, struct_pb2

from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.observer import ObservedOp, op_from_pb, op_to_pb
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import observer_pb2, observer_pb2_grpc

# Node kinds (NodeResult.kind is the mode's name for a mode node).
PROMPT = "prompt"

# NodeResult.status
PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
NODE_TERMINAL = (SUCCEEDED, FAILED, SKIPPED, CANCELLED)
# WorkflowRun.status: RUNNING, SUCCEEDED, FAILED or CANCELLED.

# trigger_rule values (Archon's): when a node runs, given how its depends_on ended.
ALL_SUCCESS = "all_success"  # every upstream succeeded (the default)
ONE_SUCCESS = "one_success"  # at least one succeeded
ALL_DONE = "all_done"  # every upstream is over, however it ended
NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"  # none failed, at least one succeeded
TRIGGER_RULES = (ALL_SUCCESS, ONE_SUCCESS, NONE_FAILED_MIN_ONE_SUCCESS, ALL_DONE)

# WorkflowInfo.origin
ORIGIN_HOME = "home"  # LAKEHOUSE_HOME/workflows/*.yaml
ORIGIN_EXAMPLE = "example"  # shipped with the project (servers/workflows/examples/)

# Stable error reasons (ErrorInfo.reason) of a workflow that is refused before it runs
# (INVALID_ARGUMENT unless noted).
WORKFLOW_YAML_SYNTAX = "WORKFLOW_YAML_SYNTAX"  # with line and column
WORKFLOW_TOO_LARGE = "WORKFLOW_TOO_LARGE"
WORKFLOW_INVALID = "WORKFLOW_INVALID"  # a field of the wrong shape or type
WORKFLOW_UNKNOWN_KEYS = "WORKFLOW_UNKNOWN_KEYS"
WORKFLOW_DUPLICATE_ID = "WORKFLOW_DUPLICATE_ID"
WORKFLOW_UNKNOWN_DEPENDENCY = "WORKFLOW_UNKNOWN_DEPENDENCY"
WORKFLOW_CYCLE = "WORKFLOW_CYCLE"
WORKFLOW_BAD_REFERENCE = "WORKFLOW_BAD_REFERENCE"  # $id.output of a node not upstream, $INPUTS of none
WORKFLOW_BAD_CONDITION = "WORKFLOW_BAD_CONDITION"  # a `when` that does not parse
WORKFLOW_UNKNOWN_MODE = "WORKFLOW_UNKNOWN_MODE"
WORKFLOW_INVALID_WITH = "WORKFLOW_INVALID_WITH"  # `with` values the mode's input schema refuses
WORKFLOW_TOO_MANY_NODES = "WORKFLOW_TOO_MANY_NODES"
WORKFLOW_MISSING_INPUT = "WORKFLOW_MISSING_INPUT"  # a required input was not given
WORKFLOW_UNKNOWN_INPUT = "WORKFLOW_UNKNOWN_INPUT"  # an input the workflow does not declare
WORKFLOW_NOT_FOUND = "WORKFLOW_NOT_FOUND"  # NOT_FOUND: no known workflow has the name
WORKFLOW_SOURCE_REQUIRED = "WORKFLOW_SOURCE_REQUIRED"  # neither yaml nor name (or both)
WORKFLOW_RUN_NOT_FOUND = "WORKFLOW_RUN_NOT_FOUND"  # NOT_FOUND
TOO_MANY_WORKFLOW_RUNS = "TOO_MANY_WORKFLOW_RUNS"  # RESOURCE_EXHAUSTED: workflows.max_running_runs

# NodeResult.reason of a node that failed, was skipped or cancelled while the run went on.
NODE_TIMEOUT = "NODE_TIMEOUT"  # no progress for idle_timeout ms
OUTPUT_MISSING = "OUTPUT_MISSING"  # a referenced output (or field) is not there at run time
OUTPUT_FORMAT_MISMATCH = "OUTPUT_FORMAT_MISMATCH"  # the output fails its output_format
INVALID_MODE_INPUT = "INVALID_MODE_INPUT"  # substituted `with` values the mode's schema refuses
MODE_FAILED = "MODE_FAILED"  # the mode raised something that is not a LakehouseError
SKIPPED_TRIGGER_RULE = "TRIGGER_RULE"  # the trigger rule said no, given the upstream outcomes
SKIPPED_WHEN = "WHEN_FALSE"  # the `when` condition was false
RUN_CANCELLED = "RUN_CANCELLED"


# Definition ------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    name: str
    required: bool = False
    default: Any = None
    has_default: bool = False
    description: str = ""


@dataclass(frozen=True)
class Retry:
    """Archon's shape: ``max_attempts`` retries after the first attempt, the first after
    ``delay_ms``, each later one after twice the previous delay."""

    max_attempts: int
    delay_ms: int = 0


@dataclass(frozen=True)
class Node:
    id: str
    depends_on: tuple[str, ...] = ()
    prompt: str | None = None
    mode: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)  # the YAML's `with`
    when: str | None = None
    trigger_rule: str = ALL_SUCCESS
    retry: Retry | None = None
    idle_timeout_ms: int | None = None  # None: workflows.default_idle_timeout_ms
    output_format: Mapping[str, Any] | None = None  # a JSON Schema the output must satisfy
    provider: str = ""
    model: str = ""
    effort: str = ""  # accepted and recorded
    allowed_tools: tuple[str, ...] = ()  # accepted and recorded
    description: str = ""

    @property
    def kind(self) -> str:
        return PROMPT if self.prompt is not None else str(self.mode)


@dataclass(frozen=True)
class Workflow:
    """A validated workflow; ``nodes`` in topological order, ``layers`` the node ids that
    may run together (each layer depends only on earlier ones)."""

    name: str
    description: str
    nodes: tuple[Node, ...]
    layers: tuple[tuple[str, ...], ...]
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    provider: str = ""
    model: str = ""
    source: str = ""  # the file it was read from ("" for YAML text)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


# Results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeResult:
    node_id: str
    status: str
    kind: str
    output: Mapping[str, Any] | None = None
    error: str = ""
    reason: str = ""
    attempts: int = 0
    latency_ms: float = 0.0
    started: datetime | None = None
    finished: datetime | None = None
    output_summary: str = ""  # as the node's last ObservedOp records it


@dataclass(frozen=True)
class WorkflowRun:
    run_id: str
    workflow: str
    status: str
    started: datetime
    nodes: tuple[NodeResult, ...]
    ops: tuple[ObservedOp, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    finished: datetime | None = None

    def node(self, node_id: str) -> NodeResult:
        return next(n for n in self.nodes if n.node_id == node_id)


@dataclass(frozen=True)
class NodeEvent:
    """A node started (status running), finished, failed, was skipped or cancelled."""

    run_id: str
    node: NodeResult


@dataclass(frozen=True)
class RunFinished:
    """The last event of a run."""

    run: WorkflowRun

    @property
    def run_id(self) -> str:
        return self.run.run_id


WorkflowEvent = NodeEvent | RunFinished


@dataclass(frozen=True)
class RunRequest:
    """Exactly one of ``yaml`` (the text) and ``name`` (a known workflow)."""

    yaml: str = ""
    name: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowInfo:
    name: str
    description: str
    origin: str
    nodes: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowListing:
    workflows: list[WorkflowInfo]
    invalid: list[str]  # "<file>: <why>" for each file that does not load


class WorkflowsApi(Protocol):
    """Met in-process by WorkflowsCore and across processes by RemoteWorkflows."""

    def run(self, request: RunRequest) -> WorkflowRun:
        """Validate, then run to the end (a node failure is a result, not an exception)."""
        ...

    def stream(self, request: RunRequest) -> Iterator[WorkflowEvent]:
        """``run``'s node events as they happen, the finished run last. Closing the
        iterator early cancels the run."""
        ...

    def list(self) -> WorkflowListing: ...

    def get_run(self, run_id: str) -> WorkflowRun: ...

    def cancel(self, run_id: str) -> WorkflowRun: ...


# Conversions ---------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as JSON holds it: integral doubles back to ints (protobuf's Struct has only
    doubles, and a mode's ``k: 5`` must stay an integer through a remote call)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    """What a Struct can hold: tuples as lists, datetimes as ISO text, other objects as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def struct_of(values: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if values is None:
        return None
    out = struct_pb2.Struct()
    out.update(_jsonable(values))
    return out


def dict_of(message: struct_pb2.Struct) -> dict[str, Any]:
    return _plain(json_format.MessageToDict(message))


def _time(m: Any, name: str) -> datetime | None:
    return getattr(m, name).ToDatetime(tzinfo=UTC) if m.HasField(name) else None


def request_to_pb(r: RunRequest) -> observer_pb2.RunWorkflowRequest:
    return observer_pb2.RunWorkflowRequest(yaml=r.yaml, name=r.name, inputs=struct_of(dict(r.inputs)))


def request_from_pb(m: observer_pb2.RunWorkflowRequest) -> RunRequest:
    return RunRequest(yaml=m.yaml, name=m.name, inputs=dict_of(m.inputs))


def node_result_to_pb(n: NodeResult) -> observer_pb2.NodeResult:
    return observer_pb2.NodeResult(
        node_id=n.node_id,
        status=n.status,
        kind=n.kind,
        output=struct_of(n.output),
        error=n.error,
        reason=n.reason,
        attempts=n.attempts,
        latency_ms=n.latency_ms,
        started=timestamp(n.started) if n.started else None,
        finished=timestamp(n.finished) if n.finished else None,
        output_summary=n.output_summary,
    )


def node_result_from_pb(m: observer_pb2.NodeResult) -> NodeResult:
    return NodeResult(
        node_id=m.node_id,
        status=m.status,
        kind=m.kind,
        output=dict_of(m.output) if m.HasField("output") else None,
        error=m.error,
        reason=m.reason,
        attempts=m.attempts,
        latency_ms=m.latency_ms,
        started=_time(m, "started"),
        finished=_time(m, "finished"),
        output_summary=m.output_summary,
    )


def run_to_pb(r: WorkflowRun) -> observer_pb2.WorkflowRun:
    return observer_pb2.WorkflowRun(
        run_id=r.run_id,
        workflow=r.workflow,
        status=r.status,
        started=timestamp(r.started),
        finished=timestamp(r.finished) if r.finished else None,
        nodes=[node_result_to_pb(n) for n in r.nodes],
        ops=[op_to_pb(op) for op in r.ops],
        inputs=struct_of(dict(r.inputs)),
        error=r.error,
    )


def run_from_pb(m: observer_pb2.WorkflowRun) -> WorkflowRun:
    return WorkflowRun(
        run_id=m.run_id,
        workflow=m.workflow,
        status=m.status,
        started=m.started.ToDatetime(tzinfo=UTC),
        finished=_time(m, "finished"),
        nodes=tuple(node_result_from_pb(n) for n in m.nodes),
        ops=tuple(op_from_pb(op) for op in m.ops),
        inputs=dict_of(m.inputs),
        error=m.error,
    )


def event_to_pb(e: WorkflowEvent) -> observer_pb2.WorkflowEvent:
    if isinstance(e, NodeEvent):
        return observer_pb2.WorkflowEvent(node=node_result_to_pb(e.node), run_id=e.run_id)
    return observer_pb2.WorkflowEvent(run=run_to_pb(e.run), run_id=e.run_id)


def event_from_pb(m: observer_pb2.WorkflowEvent) -> WorkflowEvent:
    if m.WhichOneof("event") == "run":
        return RunFinished(run_from_pb(m.run))
    return NodeEvent(m.run_id, node_result_from_pb(m.node))


def info_to_pb(i: WorkflowInfo) -> observer_pb2.WorkflowInfo:
    return observer_pb2.WorkflowInfo(
        name=i.name, description=i.description, origin=i.origin, nodes=list(i.nodes), inputs=list(i.inputs)
    )


def listing_to_pb(listing: WorkflowListing) -> observer_pb2.ListWorkflowsResponse:
    return observer_pb2.ListWorkflowsResponse(
        workflows=[info_to_pb(i) for i in listing.workflows], invalid=list(listing.invalid)
    )


def listing_from_pb(m: observer_pb2.ListWorkflowsResponse) -> WorkflowListing:
    return WorkflowListing(
        workflows=[WorkflowInfo(i.name, i.description, i.origin, tuple(i.nodes), tuple(i.inputs)) for i in m.workflows],
        invalid=list(m.invalid),
    )


# Remote ----------------------------------------------------------------------------


class RemoteWorkflows(Remote):
    """WorkflowsApi over a channel from ``lakehouse.api.channel.open_channel``. Runs have
    no deadline: a run lasts as long as its nodes (each bounded by its idle timeout)."""

    stub_type = observer_pb2_grpc.ObserverServiceStub

    def run(self, request: RunRequest) -> WorkflowRun:
        return run_from_pb(self._call("RunWorkflow", request_to_pb(request), NO_DEADLINE))

    def stream(self, request: RunRequest) -> Iterator[WorkflowEvent]:
        for message in self._stream("RunWorkflowStream", request_to_pb(request), NO_DEADLINE):
            yield event_from_pb(message)

    def list(self) -> WorkflowListing:
        return listing_from_pb(self._call("ListWorkflows", observer_pb2.ListWorkflowsRequest()))

    def get_run(self, run_id: str) -> WorkflowRun:
        return run_from_pb(self._call("GetWorkflowRun", observer_pb2.GetWorkflowRunRequest(run_id=run_id)))

    def cancel(self, run_id: str) -> WorkflowRun:
        return run_from_pb(self._call("CancelWorkflowRun", observer_pb2.CancelWorkflowRunRequest(run_id=run_id)))
