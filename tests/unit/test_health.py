"""GetHealth across processes: a process lists its own services and those of its
host:port upstreams; an upstream that does not answer is UNREACHABLE within the deadline."""

from __future__ import annotations

import socket
import time

import pytest

from lakehouse.api.channel import open_channel
from lakehouse.api.system import NOT_SERVING, SERVING, UNREACHABLE, RemoteSystem, ServiceHealth
from lakehouse.client import LakehouseClient
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import ServerSettings, Settings

TIMEOUT_S = 1.0
# Room for scheduling on a loaded machine; well under a second deadline per upstream.
SLACK_S = 0.7


def _settings(home, **upstreams: str) -> Settings:
    return Settings(home=home, upstreams=upstreams, server=ServerSettings(upstream_health_timeout_s=TIMEOUT_S))


def _health(address: str, local_only: bool = False):
    channel = open_channel(address, default_timeout_s=10.0)
    try:
        return RemoteSystem(channel).health(local_only=local_only)
    finally:
        channel.close()


def _by_service(health) -> dict[str, ServiceHealth]:
    return {s.service: s for s in health.services}


@pytest.fixture()
def upstream(tmp_path):
    lh = build_server(_settings(tmp_path / "a"), services="catalog,storage")
    yield lh
    lh.stop(0)


@pytest.fixture()
def silent():
    """Addresses that accept TCP connections and never speak HTTP/2: a hung upstream."""
    socks = []

    def make() -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        socks.append(sock)
        return f"127.0.0.1:{sock.getsockname()[1]}"

    yield make
    for sock in socks:
        sock.close()


def test_lists_own_services_then_upstreams(tmp_path, upstream):
    lh = build_server(_settings(tmp_path / "b", catalog=upstream.address), services="query")
    try:
        health = _health(lh.address)
        assert health.status == SERVING
        assert health.services == (
            ServiceHealth("lakehouse.v1.SystemService", SERVING, "system"),
            ServiceHealth("lakehouse.v1.QueryService", SERVING, "query"),
            ServiceHealth("lakehouse.v1.ValidationService", SERVING, "query"),
            ServiceHealth("lakehouse.v1.CatalogService", SERVING, "catalog", upstream.address),
            ServiceHealth("lakehouse.v1.AuthService", SERVING, "catalog", upstream.address),
        )
        # Only what this process hosts, without asking the catalog's process.
        own = _health(lh.address, local_only=True)
        assert own.status == SERVING
        assert [(s.service, s.address) for s in own.services] == [
            ("lakehouse.v1.SystemService", ""),
            ("lakehouse.v1.QueryService", ""),
            ("lakehouse.v1.ValidationService", ""),
        ]
        # The client prints every field, as GET /v1/health does.
        with LakehouseClient(lh.address) as c:
            printed = c.health()["services"]
        assert printed[1] == {
            "service": "lakehouse.v1.QueryService",
            "status": "SERVING",
            "component": "query",
            "address": "",
            "detail": "",
        }
        assert printed[3]["address"] == upstream.address

        upstream.stop(0)
        started = time.monotonic()
        health = _health(lh.address)
        assert time.monotonic() - started < TIMEOUT_S + SLACK_S
        assert health.status == NOT_SERVING
        catalog = _by_service(health)["lakehouse.v1.CatalogService"]
        assert (catalog.status, catalog.component, catalog.address) == (UNREACHABLE, "catalog", upstream.address)
        assert catalog.detail.startswith("unreachable: UNAVAILABLE")
        # This process's own services still serve.
        assert _by_service(health)["lakehouse.v1.QueryService"].status == SERVING
    finally:
        lh.stop(0)


def test_one_call_per_upstream_address(tmp_path, upstream):
    """Components sharing an address are asked once; one the upstream does not host is NOT_SERVING."""
    settings = _settings(tmp_path / "b", catalog=upstream.address, storage=upstream.address, vector=upstream.address)
    lh = build_server(settings, services="query")
    try:
        health = _health(lh.address)
        services = _by_service(health)
        assert services["lakehouse.v1.CatalogService"].status == SERVING
        assert services["lakehouse.v1.StorageService"].status == SERVING
        vector = services["lakehouse.v1.VectorService"]
        assert (vector.status, vector.address) == (NOT_SERVING, upstream.address)
        assert vector.detail == f"{upstream.address} does not host vector"
        assert health.status == NOT_SERVING
    finally:
        lh.stop(0)


def test_hung_upstreams_are_unreachable_after_one_deadline(tmp_path, silent):
    """Upstreams are asked in parallel: two that never answer cost one deadline, not two."""
    catalog, vector = silent(), silent()
    lh = build_server(_settings(tmp_path / "b", catalog=catalog, vector=vector, models="local"), services="query")
    try:
        started = time.monotonic()
        health = _health(lh.address)
        elapsed = time.monotonic() - started
        assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + SLACK_S
        assert health.status == NOT_SERVING
        services = _by_service(health)
        # models is an in-process core (upstream "local"): no service to report.
        assert "lakehouse.v1.ModelService" not in services
        for name, address in (("lakehouse.v1.CatalogService", catalog), ("lakehouse.v1.VectorService", vector)):
            assert (services[name].status, services[name].address) == (UNREACHABLE, address)
            assert services[name].detail.startswith("unreachable: DEADLINE_EXCEEDED")
    finally:
        lh.stop(0)
