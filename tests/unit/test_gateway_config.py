"""What the rendered Envoy config says: worker threads from settings, and the JSON guard
switched off on the gRPC routes (it reads REST bodies only)."""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.gateway.config import LUA_FILTER, MAX_DEFAULT_WORKERS, GatewayConfig, render, route_table
from lakehouse.servers.services import COMPONENTS
from lakehouse.servers.settings import Settings


def _config(tmp_path: Path, **kw) -> GatewayConfig:
    upstreams = {component: "127.0.0.1:7001" for component in COMPONENTS}
    return GatewayConfig("127.0.0.1", 18080, upstreams, tmp_path / "admin.sock", 32, **kw)


def test_worker_threads_come_from_settings(tmp_path: Path) -> None:
    assert _config(tmp_path, workers=3).worker_threads() == 3
    assert _config(tmp_path).worker_threads() == max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))
    settings = Settings(home=tmp_path, gateway_workers=2)
    assert GatewayConfig.from_settings(settings, {}).worker_threads() == 2


def test_the_json_guard_is_off_on_grpc_routes_only(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    routes = route_table(cfg)
    assert LUA_FILTER in render(cfg)  # the guard is in the chain; the routes say where it runs
    grpc_routes = [r for r in routes if r["match"]["prefix"] != "/"]
    assert grpc_routes and all(r["typed_per_filter_config"][LUA_FILTER]["disabled"] for r in grpc_routes)
    catch_all = [r for r in routes if r["match"]["prefix"] == "/"]
    assert catch_all and all("typed_per_filter_config" not in r for r in catch_all)  # REST still guarded


def test_tls_needs_a_certificate_and_a_key(tmp_path: Path) -> None:
    import pydantic
    import pytest

    cert, key = tmp_path / "g.crt", tmp_path / "g.key"
    cert.write_text("PEM"), key.write_text("PEM")
    with pytest.raises(pydantic.ValidationError, match="go together"):
        Settings(home=tmp_path, gateway_tls_cert=cert)
    plain = render(_config(tmp_path))
    assert "DownstreamTlsContext" not in plain and "transport_socket: null" in plain
    secured = render(_config(tmp_path, tls_cert=str(cert), tls_key=str(key)))
    assert "DownstreamTlsContext" in secured and '"h2", "http/1.1"' in secured and str(key) in secured
    settings = Settings(home=tmp_path, gateway_tls_cert=cert, gateway_tls_key=key)
    assert GatewayConfig.from_settings(settings, {}).tls_cert == str(cert)
    assert settings.gateway_channel.tls_root_cert == str(cert)  # this host's own clients trust it
    with pytest.raises(ValueError, match=r"cannot read the gateway's TLS private key .*missing\.key"):
        render(_config(tmp_path, tls_cert=str(cert), tls_key=str(tmp_path / "missing.key")))
