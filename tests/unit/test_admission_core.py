"""Admission control pieces, in-process: the method table, the pool check, the gate,
the upload pump (stall, maximum duration, clean exit) and the untouched light path."""

from __future__ import annotations

import importlib
import threading
import time

import grpc
import pytest
from google.protobuf import empty_pb2

from lakehouse.api.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted
from lakehouse.servers.admission import KINDS, AdmissionInterceptor, Gate, PumpedRequests, check_pool
from lakehouse.servers.services import LONG_CALLS, SERVICES
from lakehouse.servers.settings import Settings
from lakehouse.v1 import ingest_pb2

# Bounds for waits in these tests (never assertions about speed).
WAIT_S = 5.0


def _methods() -> set[str]:
    names = set()
    for spec in SERVICES:
        service = importlib.import_module(spec.pb2_module).DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[1]]
        names |= {f"/{spec.full_name}/{m.name}" for m in service.methods}
    return names


def test_every_long_call_is_a_real_method_of_a_known_kind():
    assert set(LONG_CALLS) <= _methods(), set(LONG_CALLS) - _methods()
    assert set(LONG_CALLS.values()) == set(KINDS)
    uploads = {m.rsplit("/", 1)[1] for m, k in LONG_CALLS.items() if k == "uploads"}
    assert uploads == {"Ingest", "IngestWithProgress", "PutObject"}


def test_pool_must_hold_every_cap_plus_the_light_reserve(tmp_path):
    fits = Settings(
        home=tmp_path,
        server={"max_workers": 10},
        admission={"uploads": 3, "queries": 3, "builds": 1, "light_reserve": 3},
    )
    check_pool(fits)
    short = Settings(
        home=tmp_path,
        server={"max_workers": 9},
        admission={"uploads": 3, "queries": 3, "builds": 1, "light_reserve": 3},
    )
    with pytest.raises(ValueError, match="max_workers"):
        check_pool(short)


def test_gate_refuses_past_its_cap_and_frees_on_leave():
    gate = Gate("queries", 2)
    gate.enter()
    gate.enter()
    with pytest.raises(ResourceExhausted) as exc:
        gate.enter()
    assert exc.value.reason == "TOO_MANY_CONCURRENT_QUERIES"
    assert exc.value.metadata == {"limit": "2", "setting": "admission.queries"}
    gate.leave()
    gate.enter()
    assert gate.active == 2


class _Source:
    """Like gRPC's request iterator: ``next`` blocks until a message is fed, the client
    half-closes, or the call ends (after which it raises StopIteration)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list = []
        self._ended = False

    def feed(self, message) -> None:
        with self._cond:
            self._items.append(message)
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def __iter__(self):
        return self

    def __next__(self):
        with self._cond:
            while not self._items and not self._ended:
                self._cond.wait()
            if self._items:
                return self._items.pop(0)
            raise StopIteration


def _chunk(data: bytes = b"x") -> ingest_pb2.IngestRequest:
    return ingest_pb2.IngestRequest(body={"data": data})


def test_pump_passes_messages_through_and_ends_with_the_source():
    source = _Source()
    pumped = PumpedRequests(source, stall_s=WAIT_S, max_s=WAIT_S * 2)
    source.feed(_chunk(b"a"))
    source.feed(_chunk(b"b"))
    source.end()
    assert [m.body.data for m in pumped] == [b"a", b"b"]
    pumped.thread.join(WAIT_S)
    assert not pumped.thread.is_alive()


def test_an_upload_that_sends_nothing_is_stalled_and_the_pump_exits_when_the_call_ends():
    source = _Source()
    pumped = PumpedRequests(source, stall_s=0.3, max_s=WAIT_S)
    source.feed(_chunk())
    assert next(pumped).body.data == b"x"
    with pytest.raises(DeadlineExceeded) as exc:
        next(pumped)
    assert exc.value.reason == "UPLOAD_STALLED"
    assert exc.value.metadata["setting"] == "admission.upload_stall_s"
    with pytest.raises(DeadlineExceeded):  # stays failed
        next(pumped)
    # The handler has returned and the call ends: gRPC's iterator stops, so does the pump.
    source.end()
    pumped.thread.join(WAIT_S)
    assert not pumped.thread.is_alive()


def test_empty_messages_are_not_progress():
    source = _Source()
    pumped = PumpedRequests(source, stall_s=0.5, max_s=WAIT_S)
    stop = threading.Event()

    def keepalive() -> None:
        while not stop.wait(0.1):
            source.feed(ingest_pb2.IngestRequest())

    feeder = threading.Thread(target=keepalive, daemon=True)
    feeder.start()
    try:
        with pytest.raises(DeadlineExceeded) as exc:
            for _ in pumped:
                pass
        assert exc.value.reason == "UPLOAD_STALLED"
    finally:
        stop.set()
        feeder.join(WAIT_S)
        source.end()


def test_an_upload_that_trickles_past_the_maximum_duration_is_too_slow():
    source = _Source()
    pumped = PumpedRequests(source, stall_s=WAIT_S, max_s=0.6)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.1):
            source.feed(_chunk(b"1234"))

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    started = time.monotonic()
    try:
        with pytest.raises(DeadlineExceeded) as exc:
            for _ in pumped:
                assert time.monotonic() - started < WAIT_S
        assert exc.value.reason == "UPLOAD_TOO_SLOW"
        assert exc.value.metadata["setting"] == "admission.upload_max_s"
    finally:
        stop.set()
        feeder.join(WAIT_S)
        source.end()
    pumped.thread.join(WAIT_S)
    assert not pumped.thread.is_alive()


def test_a_pump_blocked_on_a_full_queue_is_released_by_close():
    source = _Source()
    pumped = PumpedRequests(source, stall_s=WAIT_S, max_s=WAIT_S)
    for _ in range(10):  # more than the read-ahead holds
        source.feed(_chunk())
    next(pumped)  # starts the pump; the handler then stops reading (e.g. it failed)
    pumped.close()
    source.end()
    pumped.thread.join(WAIT_S)
    assert not pumped.thread.is_alive()


def test_errors_from_the_source_reach_the_handler():
    def source():
        yield _chunk()
        raise InvalidArgument("bad", reason="INVALID_REQUEST_ENCODING")

    pumped = PumpedRequests(source(), stall_s=WAIT_S, max_s=WAIT_S)
    next(pumped)
    with pytest.raises(InvalidArgument):
        next(pumped)


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


def test_light_calls_pass_through_untouched(tmp_path):
    interceptor = AdmissionInterceptor(Settings(home=tmp_path))
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: empty_pb2.Empty())
    light = interceptor.intercept_service(lambda _: handler, _Details("/lakehouse.v1.CatalogService/ListDatasets"))
    assert light is handler  # no wrapper, no lock: one dict lookup
    heavy = interceptor.intercept_service(lambda _: handler, _Details("/lakehouse.v1.QueryService/Sql"))
    assert heavy is not handler


def test_a_refused_long_call_leaves_the_slot_count_alone(tmp_path):
    settings = Settings(home=tmp_path, admission={"queries": 1})
    interceptor = AdmissionInterceptor(settings)
    inside = threading.Event()
    release = threading.Event()

    def slow(request, context):
        inside.set()
        release.wait(WAIT_S)
        return empty_pb2.Empty()

    handler = interceptor.intercept_service(
        lambda _: grpc.unary_unary_rpc_method_handler(slow), _Details("/lakehouse.v1.QueryService/Sql")
    )
    worker = threading.Thread(target=handler.unary_unary, args=(None, None), daemon=True)
    worker.start()
    assert inside.wait(WAIT_S)
    with pytest.raises(ResourceExhausted):
        handler.unary_unary(None, None)
    release.set()
    worker.join(WAIT_S)
    assert handler.unary_unary(None, None) == empty_pb2.Empty()  # the slot came back
