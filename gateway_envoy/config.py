"""Render the Envoy config from gateway_envoy/envoy.yaml.tmpl.

Routes are by gRPC service prefix (the transcoder rewrites REST requests to
their gRPC path before routing), one cluster per distinct upstream address, so
the same template serves one process hosting everything or one per service.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from lakehouse.gateway.descriptor import descriptor_set
from lakehouse.gateway.json_guard import GUARD_HEADER, lua_code
from lakehouse.servers.services import SERVICES

TEMPLATE = Path(__file__).with_name("envoy.yaml.tmpl")
# Services every server process hosts, routed to the first upstream.
SHARED_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")
UPSTREAM_CONNECT_TIMEOUT = "2s"
STREAM_IDLE_TIMEOUT = "300s"
# Transcoder buffers non-streamed JSON bodies; streamed HttpBody uploads are not buffered.
MAX_JSON_BODY_BYTES = 64 * 1024 * 1024
CONNECTION_BUFFER_BYTES = 16 * 1024 * 1024
# HTTP/2 flow-control windows, sized for multi-megabyte Arrow messages.
STREAM_WINDOW_BYTES = 16 * 1024 * 1024
CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024
# HTTP status of a reply Envoy makes itself -> google.rpc.Code in its JSON body.
LOCAL_REPLY_CODES = {400: 3, 404: 5, 413: 8, 429: 8, 503: 14, 504: 4}


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    admin_port: int
    upstreams: dict[str, str]  # component -> "host:port"


def _cluster_name(address: str) -> str:
    return "upstream_" + address.replace(".", "_").replace(":", "_")


def render(cfg: GatewayConfig) -> str:
    missing = [s.component for s in SERVICES if s.component != "system" and s.component not in cfg.upstreams]
    if missing:
        raise ValueError(f"no upstream for components {missing}")
    addresses = list(dict.fromkeys(cfg.upstreams.values()))
    routes = []
    for spec in SERVICES:
        address = cfg.upstreams.get(spec.component, addresses[0])
        routes.append(_route(f"/{spec.full_name}/", _cluster_name(address)))
    for name in SHARED_SERVICES:
        routes.append(_route(f"/{name}/", _cluster_name(addresses[0])))
    # Anything else (unknown REST paths reach here only if the transcoder let them through).
    routes.append(
        {
            "match": {"prefix": "/"},
            "direct_response": {"status": 404, "body": {"inline_string": "no such route"}},
        }
    )
    clusters = [_cluster(address) for address in addresses]
    values = {
        "host": cfg.host,
        "port": cfg.port,
        "admin_port": cfg.admin_port,
        "stream_idle_timeout": STREAM_IDLE_TIMEOUT,
        "routes": json.dumps(routes),
        "clusters": json.dumps(clusters),
        "local_reply_mappers": json.dumps(_local_reply_mappers()),
        "json_guard_lua": json.dumps(lua_code()),
        "services": json.dumps([s.full_name for s in SERVICES]),
        "descriptor_b64": base64.b64encode(descriptor_set().SerializeToString()).decode(),
        "max_request_body_bytes": MAX_JSON_BODY_BYTES,
        "connection_buffer_bytes": CONNECTION_BUFFER_BYTES,
        "max_response_body_bytes": MAX_JSON_BODY_BYTES,
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def _local_reply_mappers() -> list[dict]:
    # The JSON guard writes a complete google.rpc.Status body itself: keep it.
    mappers = [
        {
            "filter": {"header_filter": {"header": {"name": GUARD_HEADER, "present_match": True}}},
            "body_format_override": {
                "text_format_source": {"inline_string": "%LOCAL_REPLY_BODY%"},
                "content_type": "application/json",
            },
        }
    ]
    for http_status, grpc_code in LOCAL_REPLY_CODES.items():
        mappers.append(
            {
                "filter": {
                    "status_code_filter": {
                        "comparison": {
                            "op": "EQ",
                            "value": {"default_value": http_status, "runtime_key": f"lh_{http_status}"},
                        }
                    }
                },
                "body_format_override": {
                    "json_format": {"code": grpc_code, "message": "%LOCAL_REPLY_BODY%"},
                    "content_type": "application/json",
                },
            }
        )
    return mappers


def _route(prefix: str, cluster: str) -> dict:
    return {"match": {"prefix": prefix}, "route": {"cluster": cluster, "timeout": "0s"}}


def _cluster(address: str) -> dict:
    host, port = address.rsplit(":", 1)
    return {
        "name": _cluster_name(address),
        "type": "STATIC",
        "connect_timeout": UPSTREAM_CONNECT_TIMEOUT,
        "per_connection_buffer_limit_bytes": CONNECTION_BUFFER_BYTES,
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {
                    "http2_protocol_options": {
                        "initial_stream_window_size": STREAM_WINDOW_BYTES,
                        "initial_connection_window_size": CONNECTION_WINDOW_BYTES,
                    }
                },
            }
        },
        "load_assignment": {
            "cluster_name": _cluster_name(address),
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": int(port)}}}}
                    ]
                }
            ],
        },
    }
