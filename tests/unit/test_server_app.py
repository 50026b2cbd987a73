"""The server process wiring: error mapping, health, reflection and tracing, in-process."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lakehouse.api.errors import NotFound, Unimplemented
from lakehouse.client import LakehouseClient
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import Settings

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    lh = build_server(Settings(home=tmp_path_factory.mktemp("home")), services="all")
    yield lh
    lh.stop(0)


def test_every_rpc_gets_a_server_span(server):
    EXPORTER.clear()
    with LakehouseClient(server.address) as c:
        c.health()
        with pytest.raises(NotFound):
            c.get_dataset("missing")
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    assert "/lakehouse.v1.SystemService/GetHealth" in spans
    failed = spans["/lakehouse.v1.CatalogService/GetDataset"]
    assert failed.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]


def test_health_reports_each_hosted_service(server):
    with grpc.insecure_channel(server.address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for name in ("", "lakehouse.v1.StorageService", "lakehouse.v1.IngestService"):
            status = stub.Check(health_pb2.HealthCheckRequest(service=name)).status
            assert status == health_pb2.HealthCheckResponse.SERVING


def test_subset_of_services(tmp_path):
    lh = build_server(Settings(home=tmp_path), services="catalog")
    try:
        assert lh.hosted == ["lakehouse.v1.SystemService", "lakehouse.v1.CatalogService", "lakehouse.v1.AuthService"]
        with LakehouseClient(lh.address) as c:
            assert c.list_datasets() == []
            with pytest.raises(Unimplemented) as exc:
                c.sql("SELECT 1")
            assert exc.value.code == "UNIMPLEMENTED"
    finally:
        lh.stop(0)


def test_unknown_service_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown services"):
        build_server(Settings(home=tmp_path), services="catalog,nonsense")


def test_interceptors_wrap_a_method_once_and_trace_only_with_a_provider(tmp_path):
    from lakehouse.servers.app import server_interceptors

    settings = Settings(home=tmp_path)
    plain = server_interceptors(settings, traced=False)
    assert [type(i).__name__ for i in plain] == ["ErrorInterceptor", "AdmissionInterceptor"]
    assert len(server_interceptors(settings, traced=True)) == 3

    inner = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    details = type("Details", (grpc.HandlerCallDetails,), {"method": "/x.Y/Get", "invocation_metadata": ()})()
    error_mapping = plain[0]
    first = error_mapping.intercept_service(lambda _: inner, details)
    assert first is not inner and error_mapping.intercept_service(lambda _: inner, details) is first
    other = grpc.unary_unary_rpc_method_handler(lambda request, context: None)
    assert error_mapping.intercept_service(lambda _: other, details) is not first  # a new inner handler is rewrapped
