"""Where the HTTP components sit: the web UI and the MCP server are components of
`--services all`, and Envoy routes `/` to the UI and the MCP path to the MCP server."""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.gateway.config import (
    LUA_FILTER,
    MCP_CLUSTER,
    REST_PREFIX,
    TRANSCODER_FILTER,
    UI_CLUSTER,
    GatewayConfig,
    render,
    route_table,
)
from lakehouse.servers.services import COMPONENTS, HTTP_COMPONENTS, parse_components
from lakehouse.servers.settings import Settings


def _config(tmp_path: Path, ui: str, mcp: str = "") -> GatewayConfig:
    upstreams = {component: "127.0.0.1:7001" for component in COMPONENTS}
    return GatewayConfig("127.0.0.1", 18080, upstreams, tmp_path / "admin.sock", 32, ui_upstream=ui, mcp_upstream=mcp)


def test_ui_is_hosted_by_all_but_is_no_grpc_upstream():
    assert "ui" in parse_components("all") and "ui" in HTTP_COMPONENTS and "ui" not in COMPONENTS
    assert parse_components("ui") == ["ui"]
    assert Settings().ui.sql_max_rows > 0


def test_everything_but_rest_and_grpc_goes_to_the_ui_untranscoded(tmp_path: Path):
    routes = route_table(_config(tmp_path, "127.0.0.1:7002"))
    rest, ui = routes[-2], routes[-1]
    assert rest["match"]["prefix"] == REST_PREFIX and rest["direct_response"]["status"] == 404
    assert "typed_per_filter_config" not in rest  # REST stays guarded and transcoded
    assert ui["match"]["prefix"] == "/" and ui["route"]["cluster"] == UI_CLUSTER
    assert ui["typed_per_filter_config"][LUA_FILTER]["disabled"]
    assert ui["typed_per_filter_config"][TRANSCODER_FILTER]["disabled"]
    rendered = render(_config(tmp_path, "127.0.0.1:7002"))
    clusters = json.loads(rendered.split("clusters: ", 1)[1].strip())
    (cluster,) = [c for c in clusters if c["name"] == UI_CLUSTER]
    assert "typed_extension_protocol_options" not in cluster  # HTTP/1.1, not the gRPC clusters' HTTP/2


def test_without_a_ui_the_root_is_a_404(tmp_path: Path):
    last = route_table(_config(tmp_path, ""))[-1]
    assert last["match"]["prefix"] == "/" and last["direct_response"]["status"] == 404


def test_the_mcp_path_goes_to_the_mcp_server_before_the_ui(tmp_path: Path):
    assert "mcp" in parse_components("all") and "mcp" in HTTP_COMPONENTS and "mcp" not in COMPONENTS
    routes = route_table(_config(tmp_path, "127.0.0.1:7002", "127.0.0.1:7003"))
    names = [r.get("name") for r in routes]
    assert names.index("mcp") < names.index("ui")
    mcp = routes[names.index("mcp")]
    assert mcp["match"] == {"path_separated_prefix": "/mcp"}  # /mcp and /mcp/..., not /mcpx
    assert mcp["route"] == {"cluster": MCP_CLUSTER, "timeout": "0s", "idle_timeout": "0s"}
    assert mcp["typed_per_filter_config"][TRANSCODER_FILTER]["disabled"]
    clusters = json.loads(render(_config(tmp_path, "", "127.0.0.1:7003")).split("clusters: ", 1)[1].strip())
    (cluster,) = [c for c in clusters if c["name"] == MCP_CLUSTER]
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1",
        "port_value": 7003,
    }
    assert "mcp" not in [r.get("name") for r in route_table(_config(tmp_path, "127.0.0.1:7002"))]
