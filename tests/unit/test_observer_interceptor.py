"""The recording interceptor on a real gRPC server (catalog + storage hosted): what each
call records — source, code and reason, sizes, key fields — for unary, client-streamed and
server-streamed calls, cancelled streams, undecodable requests, and what it leaves out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lakehouse.api.errors import NotFound
from lakehouse.api.observer import SOURCE_HEADER, ObservedOp
from lakehouse.client import LakehouseClient
from lakehouse.servers.app import LakehouseServer, build_server
from lakehouse.servers.observer.interceptor import REST_HEADER
from lakehouse.servers.settings import Settings
from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc, system_pb2, system_pb2_grpc

CHUNK = 64 * 1024
WAIT_S = 10.0


def start(tmp_path, **observer) -> LakehouseServer:
    settings = Settings(
        home=tmp_path, storage={"chunk_bytes": CHUNK}, observer={"flush_interval_s": 3600.0, **observer}
    )
    return build_server(settings, services="catalog,storage")


@pytest.fixture
def server(tmp_path) -> Iterator[LakehouseServer]:
    lh = start(tmp_path)
    yield lh
    lh.stop(0)


def ops(lh: LakehouseServer) -> list[ObservedOp]:
    r = lh.runtime.recorder
    return [r.op(e) for e in r.entries()]


def last(lh: LakehouseServer, method: str, count: int = 1) -> ObservedOp:
    """The newest op of ``method``, once ``count`` of them are recorded (a stream is
    recorded when the server finishes it, just after the client saw its end)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = [o for o in ops(lh) if o.method == method]
        if len(found) >= count:
            return found[-1]
        assert time.monotonic() < deadline, f"{method} was not recorded: {ops(lh)}"
        time.sleep(0.01)


def test_a_unary_call_records_its_source_sizes_and_key_fields(server):
    with grpc.insecure_channel(server.address) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        stub.ListDatasets(catalog_pb2.ListDatasetsRequest(page_size=5, page_token=""))
    op = last(server, "ListDatasets")
    assert op.service == "lakehouse.v1.CatalogService" and op.source == "grpc" and op.code == "OK"
    assert op.latency_ms > 0 and op.request_bytes == 2 and op.response_bytes == 0  # an empty listing is 0 bytes
    assert op.attributes == {"page_size": "5"}


def test_a_failing_call_records_its_code_and_reason(server):
    with LakehouseClient(server.address) as c, pytest.raises(NotFound):
        c.get_dataset("missing")
    op = last(server, "GetDataset")
    assert (op.code, op.reason) == ("NOT_FOUND", "DATASET_NOT_FOUND") and op.attributes == {"dataset": "missing"}


def test_the_source_comes_from_the_gateway_header_or_the_callers_own(server):
    with grpc.insecure_channel(server.address) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        request = catalog_pb2.ListDatasetsRequest()
        stub.ListDatasets(request, metadata=[(REST_HEADER, "/v1/datasets")])
        assert last(server, "ListDatasets").source == "rest"
        stub.ListDatasets(request, metadata=[(SOURCE_HEADER, "workflow")])
        assert last(server, "ListDatasets", 2).source == "workflow"
        stub.ListDatasets(request, metadata=[(SOURCE_HEADER, "somebody")])  # not a source: ignored
        assert last(server, "ListDatasets", 3).source == "grpc"


def test_streams_record_their_summed_sizes_at_the_end(server):
    body = b"x" * (3 * CHUNK + 5)
    with LakehouseClient(server.address) as c:
        c.put_object("lake", "uploads/blob.bin", body)
        put = last(server, "PutObject")
        assert put.code == "OK" and put.request_bytes > len(body) and put.attributes["bucket"] == "lake"
        assert b"".join(c.get_object("lake", "uploads/blob.bin")) == body
        got = last(server, "GetObject")
        assert got.code == "OK" and got.response_bytes > len(body) and got.attributes["key"] == "uploads/blob.bin"


def test_a_stream_the_client_cancels_is_recorded_cancelled(server):
    body = b"y" * (64 * CHUNK)
    with LakehouseClient(server.address) as c:
        c.put_object("lake", "uploads/big.bin", body)
        stream = c.get_object("lake", "uploads/big.bin")
        next(stream)
        stream.close()
    assert last(server, "GetObject").code == "CANCELLED"


def test_an_undecodable_request_is_recorded_invalid_argument(server):
    with grpc.insecure_channel(server.address) as channel:
        raw = channel.unary_unary("/lakehouse.v1.CatalogService/GetDataset")
        with pytest.raises(grpc.RpcError) as exc:
            raw(b"\xff\xff\xff")
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    op = last(server, "GetDataset")
    assert (op.code, op.reason) == ("INVALID_ARGUMENT", "INVALID_REQUEST_ENCODING") and op.attributes == {}


def test_health_checks_are_not_recorded(server):
    with grpc.insecure_channel(server.address) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        system_pb2_grpc.SystemServiceStub(channel).GetHealth(system_pb2.GetHealthRequest(local_only=True))
        catalog_pb2_grpc.CatalogServiceStub(channel).ListDatasets(catalog_pb2.ListDatasetsRequest())
    last(server, "ListDatasets")
    assert [o.method for o in ops(server)] == ["ListDatasets"]


def test_recording_can_be_switched_off(tmp_path):
    lh = start(tmp_path, enabled=False)
    try:
        with LakehouseClient(lh.address) as c:
            c.list_datasets()
        assert ops(lh) == []
    finally:
        lh.stop(0)


def test_a_stopped_server_has_flushed_every_op(tmp_path):
    lh = start(tmp_path)
    with LakehouseClient(lh.address) as c:
        for _ in range(3):
            c.list_datasets()
    recorder = lh.runtime.recorder
    lh.stop(0)
    assert recorder.journaled == 3 and recorder.pending == 0


class _Context:
    """The ServicerContext methods the recording path reads, for calling a handler in-process."""

    def invocation_metadata(self):
        return ()

    def code(self):
        return None

    def trailing_metadata(self):
        return ()

    def is_active(self) -> bool:
        return True


def test_a_traced_call_carries_its_trace_and_span_ids(tmp_path):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from lakehouse.servers.observer.interceptor import RecordingInterceptor
    from lakehouse.servers.observer.recorder import RingRecorder
    from lakehouse.servers.storage.core import StorageCore

    settings = Settings(home=tmp_path)
    storage = StorageCore(settings)
    recorder = RingRecorder(storage.lake(), storage.journal, settings.observer, start=False)
    reply = catalog_pb2.Dataset(name="d")
    inner = grpc.unary_unary_rpc_method_handler(
        lambda request, context: reply,
        request_deserializer=catalog_pb2.GetDatasetRequest.FromString,
        response_serializer=catalog_pb2.Dataset.SerializeToString,
    )
    details = type("Details", (grpc.HandlerCallDetails,), {"method": "/x.Catalog/Get", "invocation_metadata": ()})()
    handler = RecordingInterceptor(recorder, settings.observer, traced=True).intercept_service(lambda _: inner, details)
    span = TracerProvider().get_tracer("test").start_span("call")  # a provider of its own, not the global one
    with trace.use_span(span, end_on_exit=True):
        request = handler.request_deserializer(catalog_pb2.GetDatasetRequest(dataset="d").SerializeToString())
        handler.response_serializer(handler.unary_unary(request, _Context()))
    (entry,) = recorder.entries()
    op = recorder.op(entry)
    ctx = span.get_span_context()
    assert (op.trace_id, op.span_id) == (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
    assert (op.service, op.method, op.request_bytes, op.attributes) == ("x.Catalog", "Get", 3, {"dataset": "d"})


def _in_process(tmp_path, handler_fn, *, streamed: bool = False):
    """A recorder and the recording interceptor's handler around ``handler_fn``."""
    from lakehouse.servers.observer.interceptor import RecordingInterceptor
    from lakehouse.servers.observer.recorder import RingRecorder
    from lakehouse.servers.storage.core import StorageCore

    settings = Settings(home=tmp_path)
    storage = StorageCore(settings)
    recorder = RingRecorder(storage.lake(), storage.journal, settings.observer, start=False)
    make = grpc.unary_stream_rpc_method_handler if streamed else grpc.unary_unary_rpc_method_handler
    inner = make(
        handler_fn,
        request_deserializer=catalog_pb2.GetDatasetRequest.FromString,
        response_serializer=catalog_pb2.Dataset.SerializeToString,
    )
    details = type("Details", (grpc.HandlerCallDetails,), {"method": "/x.Catalog/Get", "invocation_metadata": ()})()
    handler = RecordingInterceptor(recorder, settings.observer, traced=False).intercept_service(
        lambda _: inner, details
    )
    request = handler.request_deserializer(catalog_pb2.GetDatasetRequest(dataset="d").SerializeToString())
    return recorder, handler, request


def test_the_caller_an_inner_interceptor_names_is_the_ops_profile(tmp_path):
    from lakehouse.servers.observer.attribution import attribute

    def named(request, context):
        attribute("rita")
        return catalog_pb2.Dataset(name="d")

    recorder, handler, request = _in_process(tmp_path, named)
    handler.response_serializer(handler.unary_unary(request, _Context()))
    assert recorder.op(recorder.entries()[-1]).profile == "rita"

    def streamed(request, context):
        attribute("svc-etl")
        yield catalog_pb2.Dataset(name="d")

    recorder, handler, request = _in_process(tmp_path, streamed, streamed=True)
    for message in handler.unary_stream(request, _Context()):
        handler.response_serializer(message)
    assert recorder.op(recorder.entries()[-1]).profile == "svc-etl"


def test_an_unnamed_caller_records_no_profile_and_naming_outside_a_call_is_harmless(tmp_path):
    from lakehouse.servers.observer.attribution import attribute

    attribute("nobody")  # no call is being recorded: nothing to name
    recorder, handler, request = _in_process(tmp_path, lambda request, context: catalog_pb2.Dataset(name="d"))
    handler.response_serializer(handler.unary_unary(request, _Context()))
    assert recorder.op(recorder.entries()[-1]).profile == ""
