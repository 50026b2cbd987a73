"""One run of a validated workflow.

Nodes run in topological layers; the nodes of a layer run concurrently (at most
``workflows.max_concurrent_nodes`` at once), each node's attempt on a worker thread that its
supervisor watches:

* the trigger rule, then ``when``, decide whether the node runs (else it is skipped, with why);
* ``$id.output[.field]`` and ``$INPUTS.name`` are substituted into the prompt or ``with``; a
  reference with nothing behind it fails the node OUTPUT_MISSING (never an empty string);
* a mode's substituted input is checked against its schema (INVALID_MODE_INPUT);
* an attempt that makes no progress for the idle timeout is stopped (NODE_TIMEOUT); a
  transient failure is retried (``retry``: the first retry after ``delay_ms``, each next one
  after twice the delay); the output must satisfy ``output_format``;
* every attempt is an ObservedOp (source ``workflow``) handed to the recorder and kept in
  the run; every transition is an event (started, finished, failed, skipped, cancelled).

A cancelled run stops its running attempts (their ``ModeContext`` is cancelled: a chat stops
reading, a query is cancelled) and skips what has not started. An attempt that ignores the
signal is abandoned on its (daemon) thread, never waited for.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator

from lakehouse.api.errors import LakehouseError
from lakehouse.api.models import ChatMessage
from lakehouse.api.observer import OK, SOURCE_WORKFLOW, WORKFLOW_SERVICE, ObservedOp, Recorder
from lakehouse.api.workflows import (
    ALL_DONE,
    ALL_SUCCESS,
    CANCELLED,
    FAILED,
    INVALID_MODE_INPUT,
    MODE_FAILED,
    NODE_TIMEOUT,
    NONE_FAILED_MIN_ONE_SUCCESS,
    ONE_SUCCESS,
    OUTPUT_FORMAT_MISMATCH,
    OUTPUT_MISSING,
    PENDING,
    RUN_CANCELLED,
    RUNNING,
    SKIPPED,
    SKIPPED_TRIGGER_RULE,
    SKIPPED_WHEN,
    SUCCEEDED,
    Node,
    NodeEvent,
    NodeResult,
    Workflow,
    WorkflowEvent,
    WorkflowRun,
    _jsonable,
)
from lakehouse.servers.settings import Settings
from lakehouse.servers.workflows import conditions
from lakehouse.servers.workflows.builtin import chat_text
from lakehouse.servers.workflows.modes import ModeCatalog, ModeContext, Services, schema_errors
from lakehouse.servers.workflows.refs import MissingOutput, Ref, substitute, walk

log = logging.getLogger("lakehouse.workflows")

MS = 1000.0
# Failures worth another attempt (a provider or upstream that may answer next time).
TRANSIENT_CODES = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL", "UNKNOWN"}
)
# Argument fields recorded as an op's attributes (besides counts of the output's lists).
KEY_FIELDS = ("dataset", "corpus", "corpora", "k", "mode", "model", "provider", "outcome", "item_id", "max_rows")
_FENCED = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
SUMMARY_LIST_ITEMS = 3


def _now() -> datetime:
    return datetime.now(UTC)


# Workers -----------------------------------------------------------------------------


class _Workers:
    """Daemon threads reused across a run's attempts. A thread whose call never returns
    (a hung provider that ignored the stop) is simply never reused, and does not keep the
    process from exiting."""

    _STOP = object()

    def __init__(self, name: str) -> None:
        self._name = name
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle_count = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[[], Any]) -> Future:
        # The submitter's context goes with the call: the caller (auth scope) reaches the modes.
        fn = functools.partial(contextvars.copy_context().run, fn)
        future: Future = Future()
        with self._lock:
            reuse = self._idle_count > 0
            if reuse:
                self._idle_count -= 1
        if reuse:
            self._idle.put((fn, future))
        else:
            threading.Thread(target=self._work, args=(fn, future), name=self._name, daemon=True).start()
        return future

    def _work(self, fn: Callable[[], Any], future: Future) -> None:
        while True:
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the supervisor
                future.set_exception(exc)
            with self._lock:
                if self._closed:
                    return
                self._idle_count += 1
            task = self._idle.get()
            if task is self._STOP:
                return
            fn, future = task

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle_count = self._idle_count, 0
        for _ in range(idle):
            self._idle.put(self._STOP)


# Summaries ---------------------------------------------------------------------------


class _Full(Exception):
    pass


def summarize(value: Any, limit: int, secret: re.Pattern[str]) -> str:
    """A short JSON-like text of ``value``: at most ``limit`` characters, the first items of
    long lists with a count of the rest, and the values of secret-looking keys masked. It
    stops walking once full, so a large output costs no more than a small one."""
    parts: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size > limit:
            raise _Full

    def walk_(v: Any) -> None:
        if isinstance(v, Mapping):
            put("{")
            for i, (k, x) in enumerate(v.items()):
                put(f"{', ' if i else ''}{k}: ")
                if secret.search(str(k)):
                    put("***")
                else:
                    walk_(x)
            put("}")
        elif isinstance(v, (list, tuple)):
            put("[")
            for i, x in enumerate(v[:SUMMARY_LIST_ITEMS]):
                if i:
                    put(", ")
                walk_(x)
            if len(v) > SUMMARY_LIST_ITEMS:
                put(f", … +{len(v) - SUMMARY_LIST_ITEMS}")
            put("]")
        elif isinstance(v, str):
            put(json.dumps(v[: limit + 1], ensure_ascii=False))
        else:
            put(json.dumps(_jsonable(v)))

    try:
        walk_(value)
    except _Full:
        return "".join(parts)[: limit - 1] + "…"
    return "".join(parts)


def _trace_ids() -> tuple[str, str]:
    """The caller's trace and span (the RPC that started the run), when it is traced."""
    try:
        from opentelemetry import trace

        span = trace.get_current_span().get_span_context()
    except Exception:  # noqa: BLE001 - tracing is optional
        return "", ""
    if not span.is_valid:
        return "", ""
    return f"{span.trace_id:032x}", f"{span.span_id:016x}"


# Outcomes of one attempt ---------------------------------------------------------------


class _Failure(Exception):
    """A node attempt's failure: its reason, the op's status code, and whether to retry."""

    def __init__(self, message: str, reason: str, code: str, retry: bool) -> None:
        super().__init__(message)
        self.message, self.reason, self.code, self.retry = message, reason, code, retry


class _Stopped(Exception):
    """The run was cancelled while the attempt ran."""


# The runner ------------------------------------------------------------------------------


class Runner:
    def __init__(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any],
        *,
        run_id: str,
        services: Services,
        catalog: ModeCatalog,
        settings: Settings,
        recorder: Recorder | None = None,
        emit: Callable[[WorkflowEvent], None] | None = None,
    ) -> None:
        self.workflow = workflow
        self.inputs = dict(inputs)
        self.run_id = run_id
        self._services = services
        self._catalog = catalog
        self._settings = settings.workflows
        self._observer = settings.observer
        self._secret = re.compile(settings.observer.secret_fields, re.IGNORECASE)
        self._recorder = recorder
        self._emit = emit
        self._trace_id, self._span_id = _trace_ids()
        self._results: dict[str, NodeResult] = {n.id: NodeResult(n.id, PENDING, n.kind) for n in workflow.nodes}
        self._values: dict[str, Any] = {}  # what $id.output reads, per succeeded node
        self._summaries: dict[str, str] = {}  # the output summary of each node's last attempt
        self._ops: list[ObservedOp] = []
        self._formats = {n.id: Draft202012Validator(n.output_format) for n in workflow.nodes if n.output_format}
        self._conditions = {n.id: conditions.parse(n.when) for n in workflow.nodes if n.when}
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._cancelled = False
        self._running: set[ModeContext] = set()
        self._workers = _Workers(f"workflow-{run_id[:8]}")
        self.started = _now()
        self.finished: datetime | None = None
        self.status = RUNNING
        self.error = ""
        self.done = threading.Event()

    # Control -----------------------------------------------------------------------

    def cancel(self) -> None:
        with self._wake:
            self._cancelled = True
            running = list(self._running)
            self._wake.notify_all()
        for ctx in running:
            ctx.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def snapshot(self) -> WorkflowRun:
        with self._lock:
            nodes = tuple(self._results[n.id] for n in self.workflow.nodes)
            ops = tuple(self._ops)
        return WorkflowRun(
            run_id=self.run_id,
            workflow=self.workflow.name,
            status=self.status,
            started=self.started,
            finished=self.finished,
            nodes=nodes,
            ops=ops,
            inputs=self.inputs,
            error=self.error,
        )

    # The run ---------------------------------------------------------------------------

    def run(self) -> WorkflowRun:
        try:
            for layer in self.workflow.layers:
                if len(layer) == 1:
                    self._node(self.workflow.node(layer[0]))
                else:
                    self._layer(layer)
        finally:
            self._workers.close()
            self._finish()
        return self.snapshot()

    def _layer(self, layer: tuple[str, ...]) -> None:
        slots = threading.Semaphore(self._settings.max_concurrent_nodes)
        futures = []
        for node_id in layer:
            slots.acquire()

            def supervise(node: Node = self.workflow.node(node_id)) -> None:
                try:
                    self._node(node)
                finally:
                    slots.release()

            futures.append(self._workers.submit(supervise))
        for future in futures:
            future.result()

    def _finish(self) -> None:
        with self._lock:
            failed = [r for r in self._results.values() if r.status == FAILED]
            if self._cancelled:
                self.status, self.error = CANCELLED, "the run was cancelled"
            elif failed:
                self.status = FAILED
                self.error = "failed: " + ", ".join(f"{r.node_id} ({r.reason})" for r in failed)
            else:
                self.status = SUCCEEDED
            self.finished = _now()
        self.done.set()

    def _set(self, result: NodeResult) -> None:
        with self._lock:
            self._results[result.node_id] = result
        if self._emit is not None:
            try:
                self._emit(NodeEvent(self.run_id, result))
            except Exception:  # noqa: BLE001 - a listener never fails the run
                log.exception("workflow event listener failed")

    # One node ------------------------------------------------------------------------------

    def _skip(self, node: Node, reason: str, why: str) -> None:
        now = _now()
        self._set(NodeResult(node.id, SKIPPED, node.kind, error=why, reason=reason, started=now, finished=now))

    def _node(self, node: Node) -> None:
        if self._cancelled:
            return self._skip(node, RUN_CANCELLED, "the run was cancelled before the node started")
        why_not = self._trigger(node)
        if why_not:
            return self._skip(node, SKIPPED_TRIGGER_RULE, why_not)
        started = _now()
        t0 = time.perf_counter()
        if node.id in self._conditions:
            try:
                holds = self._conditions[node.id].holds(self._resolve)
            except MissingOutput as exc:
                return self._fail(node, started, t0, 0, f"when: {exc}", OUTPUT_MISSING)
            if not holds:
                return self._skip(node, SKIPPED_WHEN, f"when {node.when!r} is false")
        self._set(NodeResult(node.id, RUNNING, node.kind, started=started))
        try:
            payload = self._payload(node)
        except _Failure as exc:
            return self._fail(node, started, t0, 0, exc.message, exc.reason)
        retries = node.retry.max_attempts if node.retry else 0
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    output, value = self._attempt(node, payload, attempt)
                except _Failure as exc:
                    if not (exc.retry and attempt <= retries):
                        return self._fail(node, started, t0, attempt, exc.message, exc.reason)
                    self._pause(node, attempt)  # raises _Stopped when the run is cancelled meanwhile
                    continue
            except _Stopped:
                self._set(
                    NodeResult(
                        node.id,
                        CANCELLED,
                        node.kind,
                        error="the run was cancelled while the node ran",
                        reason=RUN_CANCELLED,
                        attempts=attempt,
                        latency_ms=(time.perf_counter() - t0) * MS,
                        started=started,
                        finished=_now(),
                    )
                )
                return None
            with self._lock:
                self._values[node.id] = value
            self._set(
                NodeResult(
                    node.id,
                    SUCCEEDED,
                    node.kind,
                    output=output,
                    attempts=attempt,
                    latency_ms=(time.perf_counter() - t0) * MS,
                    started=started,
                    finished=_now(),
                    output_summary=self._summaries.get(node.id, ""),
                )
            )
            return None

    def _fail(self, node: Node, started: datetime, t0: float, attempts: int, error: str, reason: str) -> None:
        self._set(
            NodeResult(
                node.id,
                FAILED,
                node.kind,
                error=error,
                reason=reason,
                attempts=attempts,
                latency_ms=(time.perf_counter() - t0) * MS,
                started=started,
                finished=_now(),
            )
        )

    def _trigger(self, node: Node) -> str:
        """Why the trigger rule keeps the node from running ("" when it runs)."""
        if not node.depends_on:
            return ""
        with self._lock:
            states = {d: self._results[d].status for d in node.depends_on}
        ok = [d for d, s in states.items() if s == SUCCEEDED]
        failed = [d for d, s in states.items() if s in (FAILED, CANCELLED)]
        rule = node.trigger_rule
        if rule == ALL_SUCCESS and len(ok) == len(states):
            return ""
        if rule == ONE_SUCCESS and ok:
            return ""
        if rule == ALL_DONE:
            return ""  # every upstream is over by the time its layer is done
        if rule == NONE_FAILED_MIN_ONE_SUCCESS and ok and not failed:
            return ""
        ended = ", ".join(f"{d} {s}" for d, s in states.items())
        return f"trigger_rule {rule}: {ended}"

    def _resolve(self, ref: Ref) -> Any:
        if ref.input is not None:
            if ref.input not in self.inputs:
                raise MissingOutput(f"{ref.text}: the input {ref.input!r} was not given and has no default")
            return self.inputs[ref.input]
        with self._lock:
            result = self._results[ref.node]
            if ref.node not in self._values:
                why = f": {result.error}" if result.error else ""
                raise MissingOutput(f"{ref.text}: node {ref.node!r} {result.status}{why}; it has no output")
            value = self._values[ref.node]
        return walk(value, ref)

    def _payload(self, node: Node) -> Any:
        """The prompt's text or the mode's arguments, references substituted and checked."""
        try:
            if node.prompt is not None:
                return substitute(node.prompt, self._resolve)
            args = substitute(dict(node.args), self._resolve)
        except MissingOutput as exc:
            raise _Failure(str(exc), OUTPUT_MISSING, "FAILED_PRECONDITION", retry=False) from None
        mode = self._catalog.get(str(node.mode))
        assert mode is not None  # checked at load time
        errors = schema_errors(mode.validator, args)
        if errors:
            shown = "; ".join(f"{'.'.join(map(str, path)) or 'with'}: {message}" for path, message in errors[:3])
            raise _Failure(f"{node.mode} refuses its input: {shown}", INVALID_MODE_INPUT, "INVALID_ARGUMENT", False)
        return args

    def _pause(self, node: Node, attempt: int) -> None:
        """Wait before the next attempt (Archon: the delay doubles each time)."""
        assert node.retry is not None
        deadline = time.monotonic() + node.retry.delay_ms * (2 ** (attempt - 1)) / MS
        with self._wake:
            while True:
                if self._cancelled:
                    raise _Stopped
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._wake.wait(remaining)

    # One attempt -----------------------------------------------------------------------------

    def _call(self, node: Node, ctx: ModeContext, payload: Any) -> Mapping[str, Any]:
        if node.prompt is not None:
            reply = chat_text(ctx, [ChatMessage("user", payload)], ctx.provider, ctx.model)
            return {"text": reply["text"]}
        mode = self._catalog.get(str(node.mode))
        assert mode is not None
        return mode.fn(ctx, payload)

    def _attempt(self, node: Node, payload: Any, attempt: int) -> tuple[dict[str, Any], Any]:
        ctx = ModeContext(
            self._services,
            workflow=self.workflow.name,
            run_id=self.run_id,
            node_id=node.id,
            attempt=attempt,
            provider=node.provider or self.workflow.provider,
            model=node.model or self.workflow.model,
        )
        with self._wake:
            if self._cancelled:
                raise _Stopped
            self._running.add(ctx)
        started, t0 = _now(), time.perf_counter()
        raw: Any = None
        try:
            future = self._workers.submit(lambda: self._call(node, ctx, payload))
            future.add_done_callback(self._notify)
            raw = self._wait(node, ctx, future)
            output, value = self._checked(node, raw)
        except _Failure as exc:
            self._record(node, ctx, payload, raw, started, t0, exc.code, exc.reason)
            raise
        except _Stopped:
            self._record(node, ctx, payload, None, started, t0, "CANCELLED", RUN_CANCELLED)
            raise
        finally:
            with self._wake:
                self._running.discard(ctx)
        self._record(node, ctx, payload, output, started, t0, OK, "")
        return output, value

    def _notify(self, _: Future) -> None:
        with self._wake:
            self._wake.notify_all()

    def _wait(self, node: Node, ctx: ModeContext, future: Future) -> Any:
        idle_s = (node.idle_timeout_ms or self._settings.default_idle_timeout_ms) / MS
        with self._wake:
            while not future.done():
                if self._cancelled:
                    ctx.cancel()
                    raise _Stopped
                remaining = ctx.last_progress + idle_s - time.monotonic()
                if remaining <= 0:
                    ctx.cancel()
                    raise _Failure(
                        f"no progress for {idle_s * MS:.0f} ms (idle_timeout); the node was stopped",
                        NODE_TIMEOUT,
                        "DEADLINE_EXCEEDED",
                        retry=True,
                    )
                self._wake.wait(remaining)
            if self._cancelled and ctx.cancelled:
                raise _Stopped  # it returned because it was told to stop: not a result
        try:
            return future.result()
        except LakehouseError as exc:
            if self._cancelled:
                raise _Stopped from None
            raise _Failure(
                f"{exc.code} {exc.reason}: {exc.message}", exc.reason, exc.code, retry=exc.code in TRANSIENT_CODES
            ) from None
        except Exception as exc:  # noqa: BLE001 - a mode's defect fails its node, not the run
            log.exception("workflow %s node %s: mode %s raised", self.workflow.name, node.id, node.kind)
            raise _Failure(f"{type(exc).__name__}: {exc}", MODE_FAILED, "INTERNAL", retry=False) from None

    def _checked(self, node: Node, output: Any) -> tuple[dict[str, Any], Any]:
        """The node's output as recorded, and what ``$id.output`` reads: a plain prompt's text,
        a prompt with an output_format its reply parsed as JSON, a mode's output object."""
        if not isinstance(output, Mapping):
            raise _Failure(
                f"{node.kind} returned {type(output).__name__}, not an object", MODE_FAILED, "INTERNAL", False
            )
        output = _jsonable(output)
        value: Any = output
        if node.prompt is not None:
            value = output["text"]
            if node.output_format is not None:
                value = output = self._parsed(output["text"])
        validator = self._formats.get(node.id)
        if validator is not None:
            errors = list(validator.iter_errors(output))
            if errors:
                shown = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'output'}: {e.message}" for e in errors[:3])
                raise _Failure(
                    f"the output fails its output_format: {shown}",
                    OUTPUT_FORMAT_MISMATCH,
                    "FAILED_PRECONDITION",
                    retry=node.prompt is not None,  # a model may answer better next time; a mode would not
                )
        return output, value

    @staticmethod
    def _parsed(text: str) -> dict[str, Any]:
        fenced = _FENCED.match(text)
        try:
            value = json.loads(fenced.group(1) if fenced else text)
        except ValueError as exc:
            raise _Failure(
                f"the output fails its output_format: the reply is not JSON ({exc})",
                OUTPUT_FORMAT_MISMATCH,
                "FAILED_PRECONDITION",
                retry=True,
            ) from None
        if not isinstance(value, dict):
            raise _Failure(
                "the output fails its output_format: the reply is JSON but not an object",
                OUTPUT_FORMAT_MISMATCH,
                "FAILED_PRECONDITION",
                retry=True,
            )
        return value

    # Provenance ------------------------------------------------------------------------------

    def _attributes(self, node: Node, ctx: ModeContext, payload: Any, output: Any) -> dict[str, str]:
        attrs = {"attempt": str(ctx.attempt), "node_kind": "prompt" if node.prompt is not None else "mode"}
        if node.prompt is not None:
            attrs.update({"provider": ctx.provider, "model": ctx.model})
        if node.effort:
            attrs["effort"] = node.effort
        if node.allowed_tools:
            attrs["allowed_tools"] = ",".join(node.allowed_tools)
        if isinstance(payload, Mapping):
            for key in KEY_FIELDS:
                value = payload.get(key)
                if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    attrs[key] = str(value)
                elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                    attrs[key] = ",".join(value)
        if isinstance(output, Mapping):
            for key, value in output.items():
                if isinstance(value, list):
                    attrs[f"output.{key}"] = str(len(value))
        limit, chars = self._observer.attribute_max_count, self._observer.attribute_max_chars
        return {k: v[:chars] for k, v in list(attrs.items())[:limit] if v and not self._secret.search(k)}

    def _record(
        self,
        node: Node,
        ctx: ModeContext,
        payload: Any,
        output: Any,
        started: datetime,
        t0: float,
        code: str,
        reason: str,
    ) -> None:
        limit = self._settings.summary_chars
        op = ObservedOp(
            id=uuid.uuid4().hex,
            time=started,
            service=WORKFLOW_SERVICE,
            method=node.kind,
            source=SOURCE_WORKFLOW,
            code=code,
            reason=reason,
            latency_ms=(time.perf_counter() - t0) * MS,
            attributes=self._attributes(node, ctx, payload, output),
            trace_id=self._trace_id,
            span_id=self._span_id,
            workflow=self.workflow.name,
            run_id=self.run_id,
            node_id=node.id,
            input_summary=summarize(payload, limit, self._secret),
            output_summary=summarize(output, limit, self._secret) if output is not None else "",
        )
        with self._lock:
            self._ops.append(op)
            self._summaries[node.id] = op.output_summary
        if self._recorder is not None:
            try:
                self._recorder.record(op)
            except Exception:  # noqa: BLE001 - recording never fails the node it records
                log.exception("recording workflow op failed")
