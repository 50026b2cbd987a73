"""Admission control: long calls cannot take every worker, and no upload can hold one forever.

The sync gRPC server runs each call on one thread of a fixed pool. Left alone, a
few dozen slow uploads (a client trickling 4 bytes every 2 s resets every idle
timer on the way) or long queries occupy the whole pool, and health checks,
listings and every other call queue behind them with no upper bound.

``AdmissionInterceptor`` classifies each call by its full method name
(``services.LONG_CALLS``): a long call of kind *uploads*, *queries* or *builds*
takes a slot of its kind for as long as its handler runs, and past the kind's cap
it is refused at once with RESOURCE_EXHAUSTED (retryable: a slot frees when a call
ends). The pool is checked at start to hold every cap plus a reserve, so light
calls always find a thread; their path is one dict lookup, no lock.

Every client-streamed call also reads its requests through ``PumpedRequests``: a
thread pulls from gRPC's request iterator (whose ``next`` blocks with no timeout)
into a small queue that the handler reads with a timeout. An upload that sends
nothing for ``admission.upload_stall_s``, or still streams after
``admission.upload_max_s``, gets DEADLINE_EXCEEDED raised inside the handler, so
the core cleans up (spool file, no version) exactly as on any other failure.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from lakehouse.api.errors import (
    TOO_MANY_CONCURRENT_PREFIX,
    UPLOAD_STALLED,
    UPLOAD_TOO_SLOW,
    DeadlineExceeded,
    ResourceExhausted,
)
from lakehouse.servers.interceptors import WrappedHandlers, rewrapped
from lakehouse.servers.services import LONG_CALLS
from lakehouse.servers.settings import Settings

# Messages read ahead of the handler: bounds the memory one upload holds in the queue.
READ_AHEAD_MESSAGES = 2
KINDS = ("uploads", "queries", "builds")


def check_pool(settings: Settings) -> None:
    """Refuse to start with a pool that cannot hold every cap plus the light reserve."""
    adm = settings.admission
    needed = adm.uploads + adm.queries + adm.builds + adm.light_reserve
    if settings.server.max_workers < needed:
        raise ValueError(
            f"server.max_workers={settings.server.max_workers} is below admission.uploads + queries + builds"
            f" + light_reserve = {needed}: light calls could wait behind long ones; raise max_workers"
            " or lower the caps"
        )


class Gate:
    """A counting cap that refuses instead of waiting."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self.active = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self.active < self.limit:
                self.active += 1
                return
        raise ResourceExhausted(
            f"{self.limit} {self.kind} are already running, the most admission.{self.kind} allows; retry later",
            reason=f"{TOO_MANY_CONCURRENT_PREFIX}{self.kind.upper()}",
            metadata={"limit": str(self.limit), "setting": f"admission.{self.kind}"},
        )

    def leave(self) -> None:
        with self._lock:
            self.active -= 1


_MESSAGE, _END, _ERROR = range(3)


class PumpedRequests(Iterator[Any]):
    """A request iterator whose reads time out: stalled and endless uploads are ended.

    Progress is a non-empty message; empty ones do not restart the stall timer.
    ``close`` (called when the handler returns) lets the pump thread go: it exits
    as soon as gRPC's iterator returns, which it does once the call has ended.
    """

    def __init__(self, source: Iterator[Any], stall_s: float, max_s: float, clock=time.monotonic) -> None:
        self._source = source
        self._stall_s = stall_s
        self._max_s = max_s
        self._clock = clock
        self._deadline = clock() + max_s
        self._progress_at = clock()
        self._queue: queue.Queue = queue.Queue(maxsize=READ_AHEAD_MESSAGES)
        self._closed = threading.Event()
        self._failure: BaseException | None = None
        self._ended = False
        self.thread: threading.Thread | None = None

    def _pump(self) -> None:
        try:
            for message in self._source:
                if not self._put((_MESSAGE, message)):
                    return
            self._put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the handler's thread
            self._put((_ERROR, exc))

    def _put(self, item: tuple[int, Any]) -> bool:
        # One producer: after close() drains the queue, this put always finds room.
        if self._closed.is_set():
            return False
        self._queue.put(item)
        return not self._closed.is_set()

    def __next__(self) -> Any:
        if self._failure is not None:
            raise self._failure
        if self._ended:
            raise StopIteration
        if self.thread is None:
            self.thread = threading.Thread(target=self._pump, name="lakehouse-upload-pump", daemon=True)
            self.thread.start()
        wait = min(self._progress_at + self._stall_s, self._deadline) - self._clock()
        try:
            kind, value = self._queue.get(timeout=max(wait, 0.0))
        except queue.Empty:
            raise self._fail(self._timeout_error()) from None
        if kind == _END:
            self._ended = True
            raise StopIteration
        if kind == _ERROR:
            raise self._fail(value)
        if self._clock() > self._deadline:
            raise self._fail(self._too_slow())
        if value.ListFields():  # not ByteSize(): upb serializes the message to count it
            self._progress_at = self._clock()
        return value

    def _timeout_error(self) -> DeadlineExceeded:
        if self._clock() >= self._deadline:
            return self._too_slow()
        return DeadlineExceeded(
            f"the upload sent nothing for {self._stall_s:g} s (admission.upload_stall_s) and was cancelled",
            reason=UPLOAD_STALLED,
            metadata={"stall_s": f"{self._stall_s:g}", "setting": "admission.upload_stall_s"},
        )

    def _too_slow(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"the upload was still streaming after {self._max_s:g} s (admission.upload_max_s) and was cancelled",
            reason=UPLOAD_TOO_SLOW,
            metadata={"max_s": f"{self._max_s:g}", "setting": "admission.upload_max_s"},
        )

    def _fail(self, exc: BaseException) -> BaseException:
        self._failure = exc
        self.close()
        return exc

    def close(self) -> None:
        """Stop reading; unblocks a pump waiting for room in the queue."""
        self._closed.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


class AdmissionInterceptor(grpc.ServerInterceptor):
    """Caps long calls per kind and puts every client-streamed call behind ``PumpedRequests``.

    Register it inside the error interceptor, so the domain errors it raises are mapped.
    """

    def __init__(self, settings: Settings, long_calls: dict[str, str] = LONG_CALLS) -> None:
        adm = settings.admission
        gates = {kind: Gate(kind, getattr(adm, kind)) for kind in KINDS}
        self._gates = {method: gates[kind] for method, kind in long_calls.items()}
        self._stall_s = adm.upload_stall_s
        self._max_s = adm.upload_max_s
        self._handlers = WrappedHandlers(lambda method, handler: self._wrap(handler, self._gates.get(method)))

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        gate = self._gates.get(handler_call_details.method)
        if handler is None or (gate is None and not handler.request_streaming):
            return handler  # the light path
        return self._handlers.get(handler_call_details.method, handler)

    def _wrap(self, handler: grpc.RpcMethodHandler, gate: Gate | None) -> grpc.RpcMethodHandler:
        pump = handler.request_streaming
        stall_s, max_s = self._stall_s, self._max_s

        @contextlib.contextmanager
        def admitted(request):
            """Hold the kind's slot and, for client streams, the pump, for the whole call."""
            if gate is not None:
                gate.enter()
            requests = PumpedRequests(request, stall_s, max_s) if pump else None
            try:
                yield request if requests is None else requests
            finally:
                if requests is not None:
                    requests.close()
                if gate is not None:
                    gate.leave()

        def unary_response(fn):
            def call(request, context):
                with admitted(request) as requests:
                    return fn(requests, context)

            return call

        def stream_response(fn):
            def call(request, context):
                with admitted(request) as requests:
                    yield from fn(requests, context)

            return call

        return rewrapped(handler, unary_response, stream_response)
