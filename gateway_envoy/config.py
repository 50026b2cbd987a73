"""Render the Envoy config from gateway_envoy/envoy.yaml.tmpl.

Routes are by gRPC service prefix (the transcoder rewrites REST requests to
their gRPC path before routing), one cluster per distinct upstream address, so
the same template serves one process hosting everything or one per service.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from lakehouse.api.errors import ERROR_DOMAIN
from lakehouse.gateway.descriptor import descriptor_set
from lakehouse.gateway.json_guard import GUARD_HEADER, lua_code
from lakehouse.servers.services import SERVICES

if TYPE_CHECKING:
    from lakehouse.servers.settings import Settings

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
# HTTP status of a reply Envoy makes itself -> google.rpc.Code in its JSON body. A body
# over the limit is INVALID_ARGUMENT, not RESOURCE_EXHAUSTED: resending it cannot succeed.
LOCAL_REPLY_CODES = {400: 3, 404: 5, 413: 3, 429: 8, 503: 14, 504: 4}
# Envoy's reply when it cannot reach a service's process names the service's cluster.
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
UPSTREAM_REPLY_TEXT = "%LOCAL_REPLY_BODY% (upstream: %ROUTE_NAME%)"
# Response flags of a request the upstream never answered: connect failure, reset, none healthy, overflow.
UPSTREAM_FAILURE_FLAGS = ("UF", "UH", "UR", "UC", "UO", "URX")
# A native gRPC request: gRPC content type, and not a REST request the transcoder has
# already rewritten (it adds the original path).
GRPC = "application/grpc"
# Envoy worker threads when gateway_workers is 0: one per CPU, up to this many.
MAX_DEFAULT_WORKERS = 4
LUA_FILTER = "envoy.filters.http.lua"
LUA_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute"
TRANSCODED_HEADER = "x-envoy-original-path"
# Envoy's admin interface (it can stop the gateway: POST /quitquitquit) listens on no
# port, only on a unix socket that only the owner can open, in a directory only the
# owner can enter (so no one connects between bind and chmod).
ADMIN_DIR = "admin"
ADMIN_DIR_MODE = 0o700
ADMIN_SOCKET_MODE = 0o600
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
# With Settings.tracing.otlp_endpoint set, Envoy's OpenTelemetry tracer sends a span per
# request (the parent of the upstream's server span) to the collector through this cluster;
# its resource carries the same service.name as the servers, and this as lakehouse.components.
OTLP_CLUSTER = "otlp_collector"
OTLP_EXPORT_TIMEOUT = "5s"
GATEWAY_COMPONENT = "gateway"
# The web UI (component ``ui``, an HTTP/1.1 app): every path not claimed above goes to it,
# except REST paths, which stay with the transcoder (an unknown one is still a JSON 404).
UI_COMPONENT = "ui"
UI_CLUSTER = "upstream_ui"
# The MCP server over streamable HTTP (component ``mcp``) under its path: its streams may
# idle for long between server messages, so the route has no idle timeout.
MCP_COMPONENT = "mcp"
MCP_CLUSTER = "upstream_mcp"
REST_PREFIX = "/v1/"
TRANSCODER_FILTER = "envoy.filters.http.grpc_json_transcoder"
FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"


def admin_socket_path(run_dir: Path, name: str) -> Path:
    """Where the Envoy started as ``name`` serves its admin interface."""
    path = run_dir / ADMIN_DIR / f"{name}.sock"
    if len(str(path).encode()) > MAX_SOCKET_PATH_BYTES:
        raise ValueError(
            f"the Envoy admin socket path {str(path)!r} is longer than a unix socket allows"
            f" ({MAX_SOCKET_PATH_BYTES} bytes); use a shorter LAKEHOUSE_HOME"
        )
    return path


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    upstreams: dict[str, str]  # component -> "host:port"
    admin_socket: Path  # admin_socket_path(run_dir, name)
    max_json_depth: int  # Settings.max_json_depth
    otlp_endpoint: str = ""  # Settings.tracing.otlp_endpoint; empty: Envoy makes no spans
    service_name: str = "lakehouse"  # Settings.tracing.service_name
    workers: int = 0  # Settings.gateway_workers; 0: one per CPU, at most MAX_DEFAULT_WORKERS
    ui_upstream: str = ""  # the web UI's HTTP "host:port"; empty: no UI, `/` is a 404
    mcp_upstream: str = ""  # the MCP server's HTTP "host:port"; empty: no MCP route
    mcp_path: str = "/mcp"  # Settings.mcp.http_path
    # PEM certificate chain and private key: the listener terminates TLS (h2 and http/1.1
    # by ALPN, so gRPC and REST both work); empty: plaintext.
    tls_cert: str = ""
    tls_key: str = ""

    def worker_threads(self) -> int:
        return self.workers or max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        upstreams: dict[str, str],
        name: str = "envoy",
        port: int | None = None,
        ui_upstream: str = "",
        mcp_upstream: str = "",
    ) -> GatewayConfig:
        """The gateway of ``settings`` (listener host and port, run directory, JSON limits)."""
        return cls(
            settings.host,
            settings.port if port is None else port,
            upstreams,
            admin_socket_path(settings.run_dir, name),
            settings.max_json_depth,
            settings.tracing.otlp_endpoint,
            settings.tracing.service_name,
            settings.gateway_workers,
            ui_upstream=ui_upstream,
            mcp_upstream=mcp_upstream,
            mcp_path=settings.mcp.http_path,
            tls_cert=str(settings.gateway_tls_cert or ""),
            tls_key=str(settings.gateway_tls_key or ""),
        )


def _cluster_name(address: str) -> str:
    return "upstream_" + address.replace(".", "_").replace(":", "_")


def route_table(cfg: GatewayConfig) -> list[dict]:
    """One route per gRPC service to its upstream's cluster, then a 404 for anything else."""
    addresses = list(dict.fromkeys(cfg.upstreams.values()))
    routes = []
    for spec in SERVICES:
        address = cfg.upstreams.get(spec.component, addresses[0])
        routes.append(_route(f"/{spec.full_name}/", _cluster_name(address), spec.component))
    for name in SHARED_SERVICES:
        routes.append(_route(f"/{name}/", _cluster_name(addresses[0]), "system"))
    if cfg.mcp_upstream:
        routes.append(_http_route(MCP_COMPONENT, {"path_separated_prefix": cfg.mcp_path}, MCP_CLUSTER, idle=False))
    # Anything else (unknown REST paths reach here only if the transcoder let them through).
    not_found = {"direct_response": {"status": 404, "body": {"inline_string": "no such route"}}}
    if not cfg.ui_upstream:
        routes.append({"match": {"prefix": "/"}, **not_found})
        return routes
    routes.append({"match": {"prefix": REST_PREFIX}, **not_found})
    routes.append(_http_route(UI_COMPONENT, {"prefix": "/"}, UI_CLUSTER))
    return routes


def _http_route(name: str, match: dict, cluster: str, idle: bool = True) -> dict:
    """A path to an HTTP component (UI, MCP): plain HTTP, so neither the JSON guard nor the
    transcoder runs; ``idle=False`` lifts the stream idle timeout (long-lived event streams)."""
    route: dict = {"cluster": cluster, "timeout": "0s"}
    if not idle:
        route["idle_timeout"] = "0s"
    return {
        "name": name,
        "match": match,
        "route": route,
        "typed_per_filter_config": {
            LUA_FILTER: {"@type": LUA_PER_ROUTE, "disabled": True},
            TRANSCODER_FILTER: {"@type": FILTER_CONFIG, "disabled": True},
        },
    }


def render(cfg: GatewayConfig) -> str:
    missing = [s.component for s in SERVICES if s.component != "system" and s.component not in cfg.upstreams]
    if missing:
        raise ValueError(f"no upstream for components {missing}")
    addresses = list(dict.fromkeys(cfg.upstreams.values()))
    routes = route_table(cfg)
    clusters = [_cluster(address) for address in addresses]
    if cfg.ui_upstream:
        clusters.append(_http_cluster(UI_CLUSTER, cfg.ui_upstream))
    if cfg.mcp_upstream:
        clusters.append(_http_cluster(MCP_CLUSTER, cfg.mcp_upstream))
    if cfg.otlp_endpoint:
        clusters.append(_otlp_cluster(cfg.otlp_endpoint))
    values = {
        "host": cfg.host,
        "port": cfg.port,
        "admin_socket": json.dumps(str(cfg.admin_socket)),
        "admin_socket_mode": ADMIN_SOCKET_MODE,
        "stream_idle_timeout": STREAM_IDLE_TIMEOUT,
        "routes": json.dumps(routes),
        "clusters": json.dumps(clusters),
        "tracing": json.dumps(_tracing(cfg)),
        "transport_socket": json.dumps(_tls_socket(cfg)),
        "local_reply_mappers": json.dumps(_local_reply_mappers()),
        "json_guard_lua": json.dumps(lua_code(cfg.max_json_depth)),
        "services": json.dumps([s.full_name for s in SERVICES]),
        "descriptor_b64": base64.b64encode(descriptor_set().SerializeToString()).decode(),
        "max_request_body_bytes": MAX_JSON_BODY_BYTES,
        "connection_buffer_bytes": CONNECTION_BUFFER_BYTES,
        "max_response_body_bytes": MAX_JSON_BODY_BYTES,
        "stream_window_bytes": STREAM_WINDOW_BYTES,
        "connection_window_bytes": CONNECTION_WINDOW_BYTES,
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def _tls_socket(cfg: GatewayConfig) -> dict | None:
    """The listener's TLS (None: plaintext). Unreadable files fail here, with their path,
    rather than as an Envoy that exits at start."""
    if not cfg.tls_cert and not cfg.tls_key:
        return None
    for what, path in (("certificate", cfg.tls_cert), ("private key", cfg.tls_key)):
        if not path:
            raise ValueError(f"TLS needs a certificate and a private key; the {what} is missing")
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the gateway's TLS {what} {path}: {exc.strerror}") from exc
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [
                    {"certificate_chain": {"filename": cfg.tls_cert}, "private_key": {"filename": cfg.tls_key}}
                ],
            },
        },
    }


def _local_reply_mappers() -> list[dict]:
    mappers = [
        # gRPC callers get Envoy's own replies as grpc-status + a plain grpc-message (the
        # status follows the HTTP code: 503 -> UNAVAILABLE); the JSON shape is for REST only.
        {
            "filter": {
                "and_filter": {
                    "filters": [
                        {"header_filter": {"header": {"name": "content-type", "string_match": {"prefix": GRPC}}}},
                        {
                            "header_filter": {
                                "header": {"name": TRANSCODED_HEADER, "invert_match": True, "present_match": True}
                            }
                        },
                    ]
                }
            },
            # Name the upstream: the caller learns which service is down (UPSTREAM_UNAVAILABLE).
            "body_format_override": {"text_format_source": {"inline_string": UPSTREAM_REPLY_TEXT}},
        },
        # The JSON guard writes a complete google.rpc.Status body itself: keep it.
        {
            "filter": {"header_filter": {"header": {"name": GUARD_HEADER, "present_match": True}}},
            "body_format_override": {
                "text_format_source": {"inline_string": "%LOCAL_REPLY_BODY%"},
                "content_type": "application/json",
            },
        },
    ]
    mappers.append(
        {
            # An upstream that cannot be reached (REST): a google.rpc.Status naming it.
            "filter": {
                "and_filter": {
                    "filters": [
                        {
                            "status_code_filter": {
                                "comparison": {"op": "EQ", "value": {"default_value": 503, "runtime_key": "lh_503_up"}}
                            }
                        },
                        {"response_flag_filter": {"flags": list(UPSTREAM_FAILURE_FLAGS)}},
                    ]
                }
            },
            "body_format_override": {
                "json_format": {
                    "code": 14,
                    "message": UPSTREAM_REPLY_TEXT,
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": UPSTREAM_UNAVAILABLE,
                            "domain": ERROR_DOMAIN,
                            "metadata": {"component": "%ROUTE_NAME%"},
                        }
                    ],
                },
                "content_type": "application/json",
            },
        }
    )
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


def _tracing(cfg: GatewayConfig) -> dict | None:
    """The connection manager's tracing block (None: no tracing)."""
    if not cfg.otlp_endpoint:
        return None
    static = "envoy.tracers.opentelemetry.resource_detectors.static_config"
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": OTLP_CLUSTER}, "timeout": OTLP_EXPORT_TIMEOUT},
                "service_name": cfg.service_name,
                "resource_detectors": [
                    {
                        "name": static,
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.tracers.opentelemetry"
                            ".resource_detectors.v3.StaticConfigResourceDetectorConfig",
                            "attributes": {"lakehouse.components": GATEWAY_COMPONENT},
                        },
                    }
                ],
            },
        }
    }


def _otlp_cluster(endpoint: str) -> dict:
    """The collector, by name or address (resolved by DNS), over HTTP/2."""
    cluster = _cluster(endpoint)
    cluster["name"] = cluster["load_assignment"]["cluster_name"] = OTLP_CLUSTER
    cluster["type"] = "STRICT_DNS"
    return cluster


def _route(prefix: str, cluster: str, component: str) -> dict:
    """A route named after its component, so a reply about an unreachable upstream can say which.

    These routes match gRPC paths, so a request that matches one on arrival is gRPC (REST
    paths reach them only after the transcoder rewrote them): the Lua JSON guard, which
    only reads REST bodies, is switched off for them instead of running per call."""
    return {
        "name": component,
        "match": {"prefix": prefix},
        "route": {"cluster": cluster, "timeout": "0s"},
        "typed_per_filter_config": {LUA_FILTER: {"@type": LUA_PER_ROUTE, "disabled": True}},
    }


def _http_cluster(name: str, address: str) -> dict:
    """An HTTP component's HTTP/1.1 upstream (the gRPC clusters speak HTTP/2)."""
    host, port = address.rsplit(":", 1)
    endpoint = {"address": {"socket_address": {"address": host, "port_value": int(port)}}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": UPSTREAM_CONNECT_TIMEOUT,
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}]},
    }


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
