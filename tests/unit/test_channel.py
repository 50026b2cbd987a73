"""The one channel factory: keepalive the servers accept, retries of idempotent reads by
service config, the error mapping, and a client that stands without the servers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from lakehouse.api.channel import channel_options, idempotent_methods, open_channel, server_keepalive_options
from lakehouse.api.config import ChannelSettings
from lakehouse.api.errors import InvalidArgument, Unavailable
from lakehouse.api.status import to_status
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import Settings
from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
# gRPC clients ping at most once a second; three unanswered-by-data pings draw a default server's GOAWAY.
PING_S = 1.0
QUIET_S = 5.5


def _health_server(options: list) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=options)
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def _quiet_stream_survives(server_options: list, idle_s: float) -> tuple[bool, list[grpc.ChannelConnectivity]]:
    """Hold a call open with no data flowing (health Watch) while the channel pings;
    whether it was still open at the end, and the channel's states meanwhile."""
    server, port = _health_server(server_options)
    settings = ChannelSettings(keepalive_time_s=PING_S, keepalive_timeout_s=1.0)
    channel = open_channel(f"127.0.0.1:{port}", settings)
    states: list[grpc.ChannelConnectivity] = []
    failure: list[BaseException] = []
    try:
        stub = health_pb2_grpc.HealthStub(channel.grpc)
        stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        channel._raw.subscribe(states.append)
        watch = stub.Watch(health_pb2.HealthCheckRequest())

        def drain() -> None:
            try:
                for _ in watch:
                    pass
            except grpc.RpcError as exc:
                failure.append(exc)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        time.sleep(idle_s)
        survived = not failure
        watch.cancel()
        reader.join(5)
        return survived, states
    finally:
        channel.close()
        server.stop(0)


def test_a_quiet_call_held_open_past_many_pings_is_never_sent_away():
    """The server accepts the factory's pings: the stream and the connection stay up."""
    options = server_keepalive_options(ChannelSettings(keepalive_time_s=PING_S))
    survived, states = _quiet_stream_survives(options, idle_s=QUIET_S)
    assert survived and set(states) == {grpc.ChannelConnectivity.READY}, states


def test_a_server_with_default_keepalive_would_send_the_same_channel_away():
    """The check above can fail: gRPC's default server answers these pings with GOAWAY."""
    survived, states = _quiet_stream_survives([], idle_s=QUIET_S)
    assert not survived or set(states) - {grpc.ChannelConnectivity.READY}, states


def test_reads_are_retried_by_service_config_and_writes_are_not():
    names = {(m["service"], m["method"]) for m in idempotent_methods()}
    assert ("lakehouse.v1.CatalogService", "GetDataset") in names
    assert ("lakehouse.v1.VectorService", "Search") in names
    assert ("lakehouse.v1.CatalogService", "CommitVersion") not in names
    assert ("lakehouse.v1.IngestService", "Ingest") not in names
    config = json.loads(dict(channel_options(ChannelSettings()))["grpc.service_config"])
    policy = config["methodConfig"][0]["retryPolicy"]
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE"] and policy["maxAttempts"] == 4


class _Flaky(catalog_pb2_grpc.CatalogServiceServicer):
    """Unavailable twice, then answers; counts every attempt."""

    def __init__(self) -> None:
        self.attempts = 0
        self.lock = threading.Lock()

    def GetDataset(self, request, context):
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        if attempt <= 2:
            context.abort_with_status(to_status(Unavailable("warming up", reason="WARMING_UP")))
        return catalog_pb2.Dataset(name=request.dataset)

    def DeleteDataset(self, request, context):
        with self.lock:
            self.attempts += 1
        context.abort_with_status(to_status(Unavailable("warming up", reason="WARMING_UP")))


def test_an_unavailable_read_is_retried_and_a_write_surfaces_once():
    flaky = _Flaky()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(flaky, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    try:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel.grpc)
        assert channel.call(stub.GetDataset, catalog_pb2.GetDatasetRequest(dataset="d")).name == "d"
        assert flaky.attempts == 3
        flaky.attempts = 0
        with pytest.raises(Unavailable) as info:
            channel.call(stub.DeleteDataset, catalog_pb2.DeleteDatasetRequest(dataset="d"))
        assert flaky.attempts == 1 and info.value.reason == "WARMING_UP"
    finally:
        channel.close()
        server.stop(0)


def test_errors_come_back_with_reason_metadata_and_field_violations(tmp_path):
    lh = build_server(Settings(home=tmp_path), services="catalog")
    channel = open_channel(lh.address)
    try:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel.grpc)
        with pytest.raises(InvalidArgument) as info:
            channel.call(stub.GetDataset, catalog_pb2.GetDatasetRequest(dataset="Bad Name!"))
        assert info.value.reason and info.value.violations and info.value.violations[0].field == "dataset"
    finally:
        channel.close()
        lh.stop(0)


def test_a_component_neither_hosted_nor_upstream_is_unavailable_by_name(tmp_path):
    from lakehouse.client import LakehouseClient

    lh = build_server(Settings(home=tmp_path), services="query")
    try:
        with LakehouseClient(lh.address) as c, pytest.raises(Unavailable) as info:
            c.sql("SELECT * FROM anything")
        assert info.value.reason == "UPSTREAM_NOT_CONFIGURED" and info.value.metadata["component"] == "catalog"
        assert "LAKEHOUSE_UPSTREAMS__CATALOG" in info.value.message
    finally:
        lh.stop(0)


def test_upstreams_are_checked():
    assert Settings(upstreams={"Catalog": "10.0.0.1:7001", "vector": "local"}).upstreams == {
        "catalog": "10.0.0.1:7001",
        "vector": "local",
    }
    with pytest.raises(ValueError, match="unknown component"):
        Settings(upstreams={"catalogue": "10.0.0.1:7001"})
    with pytest.raises(ValueError, match="host:port"):
        Settings(upstreams={"catalog": "10.0.0.1"})


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", ["clients/python", "api"])
def test_the_client_and_the_shared_package_never_import_the_servers(package):
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith("lakehouse.servers"))
        for p in (ROOT / package).rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_the_client_loads_without_the_servers():
    probe = (
        "import sys, lakehouse.client;"
        "loaded = sorted(m for m in sys.modules if m.startswith('lakehouse.servers'));"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
