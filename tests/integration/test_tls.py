"""TLS at the gateway: Envoy terminates it with a self-signed pair made here. REST is https,
gRPC works over TLS with the certificate as root, plaintext and an untrusting client are
refused, and the UI (whose backend calls go through the gateway) still works."""

from __future__ import annotations

import ssl

import grpc
import httpx
import pytest

from lakehouse.api import errors
from lakehouse.api.config import ChannelSettings
from lakehouse.client import LakehouseClient
from tests.support.system import System
from tests.support.tls import self_signed_pair


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    cert, key = self_signed_pair(certs)
    other, _ = self_signed_pair(certs, "untrusted")
    system = System.start(
        tmp_path_factory.mktemp("tls-home"),
        {"LAKEHOUSE_GATEWAY_TLS_CERT": str(cert), "LAKEHOUSE_GATEWAY_TLS_KEY": str(key)},
    )
    system.cert, system.other = cert, other
    yield system
    system.stop()


def _trusting(cert) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _https(system: System) -> str:
    return f"https://127.0.0.1:{system.settings.port}"


def test_grpc_over_tls_with_the_certificate_as_root(tls):
    with tls.client(settings=ChannelSettings(tls_root_cert=str(tls.cert))) as lh:
        assert lh.ingest("secure", b"id,v\n1,a\n2,b\n", format="csv").rows == 2
        assert lh.sql("SELECT count(*) FROM secure").rows == [[2]]


def test_rest_is_https(tls):
    with httpx.Client(base_url=_https(tls), verify=_trusting(tls.cert), timeout=30) as web:
        assert web.get("/v1/health").status_code == 200
        listed = web.get("/v1/datasets")
        assert listed.status_code == 200 and "datasets" in listed.json()
        bad = web.post("/v1/sql", json={"sql": "SELEC 1"})
        assert bad.status_code == 400 and bad.json()["details"]


def test_plaintext_and_untrusting_clients_are_refused(tls):
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls.settings.port}/v1/health", timeout=10)
    with pytest.raises(httpx.ConnectError):  # an https client that does not trust the certificate
        httpx.get(f"{_https(tls)}/v1/health", verify=_trusting(tls.other), timeout=10)
    settings = ChannelSettings(tls_root_cert=str(tls.other), retry_max_attempts=1, default_timeout_s=5)
    with LakehouseClient(tls.grpc_address, settings=settings) as lh, pytest.raises(errors.Unavailable):
        lh.list_datasets()
    with grpc.insecure_channel(tls.grpc_address) as plain:
        with pytest.raises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(plain).result(timeout=3)


def test_an_unreadable_root_certificate_is_a_clear_error(tls, tmp_path):
    with pytest.raises(errors.InvalidArgument) as info:
        LakehouseClient(tls.grpc_address, settings=ChannelSettings(tls_root_cert=str(tmp_path / "none.pem")))
    assert info.value.reason == "INVALID_TLS_FILE" and "none.pem" in str(info.value)


def test_the_ui_works_behind_tls(tls):
    with httpx.Client(base_url=_https(tls), verify=_trusting(tls.cert), timeout=60) as web:
        page = web.get("/sql")
        assert page.status_code == 200 and 'id="sql-q"' in page.text
        result = web.post("/sql/run", data={"q": "SELECT 41 + 1 AS answer"})
        assert result.status_code == 200 and "42" in result.text
