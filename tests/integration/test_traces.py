"""One trace across processes: Envoy -> ingest process -> catalog process, exported over
OTLP/gRPC (settings.tracing) to a collector stand-in running in the test process."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2
from pydantic import ValidationError

from lakehouse.client import LakehouseClient
from lakehouse.gateway.config import GATEWAY_COMPONENT, GatewayConfig
from lakehouse.gateway.process import free_port, start_envoy, stop_process_group
from lakehouse.servers.settings import Settings
from lakehouse.servers.supervisor import start_server_process
from lakehouse.servers.tracing import COMPONENTS_ATTRIBUTE

pytestmark = pytest.mark.integration

EXPORT_DELAY_MS = 100
# Longer than the test: only the flush on stop can deliver the spans.
HELD_EXPORT_DELAY_MS = 600_000
# Envoy's tracer flushes every 5 s (its tracing.opentelemetry.flush_interval_ms default).
TRACE_WAIT_S = 30.0
POLL_S = 0.2
COMMIT = "/lakehouse.v1.CatalogService/CommitVersion"
INGEST = "/lakehouse.v1.IngestService/Ingest"


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    components: str  # resource attribute lakehouse.components
    service: str  # resource attribute service.name


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """The OTLP trace collector's Export, keeping every span it is sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []

    def Export(self, request, context):  # noqa: N802 (the generated servicer's name)
        received = []
        for resource_spans in request.resource_spans:
            attrs = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            span.name,
                            span.kind,
                            attrs.get(COMPONENTS_ATTRIBUTE, ""),
                            attrs.get("service.name", ""),
                        )
                    )
        with self._lock:
            self._spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)


@pytest.fixture()
def receiver():
    servicer = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(0).wait()


@pytest.fixture()
def traced_cluster(tmp_path, receiver):
    servicer, endpoint = receiver
    tracing_env = {
        "LAKEHOUSE_TRACING__OTLP_ENDPOINT": endpoint,
        "LAKEHOUSE_TRACING__EXPORT_DELAY_MS": str(EXPORT_DELAY_MS),
    }
    settings = Settings(home=tmp_path / "home", tracing={"otlp_endpoint": endpoint})
    pids = []
    try:
        catalog_pid, catalog_addr = start_server_process(
            settings,
            "catalog,storage,models,vector,matrix",
            name="catalog",
            extra_env={**tracing_env, "LAKEHOUSE_UPSTREAMS__QUERY": "local"},
        )
        pids.append(catalog_pid)
        engine_pid, engine_addr = start_server_process(
            settings,
            "ingest,query",
            name="engines",
            extra_env={
                **tracing_env,
                "LAKEHOUSE_UPSTREAMS__CATALOG": catalog_addr,
                "LAKEHOUSE_UPSTREAMS__VECTOR": catalog_addr,
            },
        )
        pids.append(engine_pid)
        port = free_port()
        upstreams = {c: catalog_addr for c in ("catalog", "storage", "models", "vector", "matrix")}
        upstreams |= {"ingest": engine_addr, "query": engine_addr}
        envoy = start_envoy(GatewayConfig.from_settings(settings, upstreams, port=port), settings.run_dir)
        pids.append(envoy.pid)
        yield port, servicer
    finally:
        for pid in reversed(pids):
            stop_process_group(pid)


def _in(span: ReceivedSpan, component: str) -> bool:
    return component in span.components.split(",")


def _ingest_trace(spans: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
    """The spans of the trace holding the ingest's server span, once the catalog's commit
    and Envoy's span have arrived too."""
    ingest = [s for s in spans if s.name == INGEST and _in(s, "ingest")]
    if not ingest:
        return None
    trace = [s for s in spans if s.trace_id == ingest[0].trace_id]
    commits = [s for s in trace if s.name == COMMIT and _in(s, "catalog")]
    gateway = [s for s in trace if _in(s, GATEWAY_COMPONENT)]
    return trace if commits and gateway else None


def test_one_trace_spans_gateway_ingest_and_catalog_processes(traced_cluster):
    port, servicer = traced_cluster
    r = httpx.post(
        f"http://127.0.0.1:{port}/v1/datasets/traced:ingest",
        params={"format": "csv", "mode": "create"},
        content=b"id,v\n1,10\n2,20\n",
        timeout=60,
    )
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + TRACE_WAIT_S
    trace = _ingest_trace(servicer.spans())
    while trace is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
        trace = _ingest_trace(servicer.spans())
    assert trace is not None, f"no complete trace within {TRACE_WAIT_S}s: {servicer.spans()}"

    by_id = {s.span_id: s for s in trace}
    assert len({s.service for s in trace}) == 1  # one service, told apart by components
    # Envoy's span is the root; the ingest process's server span continues it.
    (ingest,) = [s for s in trace if s.name == INGEST]
    assert ingest.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert _in(by_id[ingest.parent_span_id], GATEWAY_COMPONENT)
    # The catalog process's server span is a child of a span in the ingest process (the
    # remote's client span), which descends from the ingest's server span.
    commit = next(s for s in trace if s.name == COMMIT and _in(s, "catalog"))
    assert commit.kind == trace_pb2.Span.SPAN_KIND_SERVER
    client = by_id[commit.parent_span_id]
    assert _in(client, "ingest") and client.kind == trace_pb2.Span.SPAN_KIND_CLIENT
    ancestor = client
    while ancestor.parent_span_id in by_id and ancestor.span_id != ingest.span_id:
        ancestor = by_id[ancestor.parent_span_id]
    assert ancestor.span_id == ingest.span_id


def test_a_stopping_server_flushes_its_spans(tmp_path, receiver):
    servicer, endpoint = receiver
    settings = Settings(home=tmp_path / "home")
    pid, address = start_server_process(
        settings,
        "catalog,storage",
        name="catalog",
        extra_env={
            "LAKEHOUSE_TRACING__OTLP_ENDPOINT": endpoint,
            "LAKEHOUSE_TRACING__EXPORT_DELAY_MS": str(HELD_EXPORT_DELAY_MS),
        },
    )
    try:
        with LakehouseClient(address) as lh:
            assert lh.list_datasets() == []
        assert not servicer.spans()  # still queued
    finally:
        stop_process_group(pid)
    assert "/lakehouse.v1.CatalogService/ListDatasets" in {s.name for s in servicer.spans()}


def test_otlp_endpoint_must_be_host_port():
    assert Settings(tracing={"otlp_endpoint": "collector:4317"}).tracing.otlp_endpoint == "collector:4317"
    with pytest.raises(ValidationError, match="otlp_endpoint"):
        Settings(tracing={"otlp_endpoint": "http://collector"})
