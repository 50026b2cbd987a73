"""The MCP server over streamable HTTP: under ``/mcp`` through Envoy (component ``mcp`` of
``--services all``) or on its own port (``lakehouse mcp --http``).

With auth on, every HTTP request carries its caller's key (``Authorization: Bearer``, as
REST does). A request without one, or with a key the services refuse, is answered here
with the services' own refusal as JSON (401, 429), like REST through Envoy; the MCP session
never sees it. Each tool call goes through its caller's client (``ClientPool``), so the
services scope what each agent sees, and record its ops under its principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from lakehouse.api.auth import AUTHORIZATION_HEADER, KEY_MISSING, bearer
from lakehouse.api.errors import LakehouseError, Unauthenticated
from lakehouse.api.status import http_status, status_json
from lakehouse.client.pool import ClientPool
from lakehouse.servers.http_server import ForwardEndUser
from lakehouse.servers.mcp.server import MCP_METADATA, build_server
from lakehouse.servers.settings import Settings

# Sent with a 401, as RFC 6750 asks of a bearer-token endpoint.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lakehouse"'}


class PooledClients:
    """A tool call's client: its request's key's (auth on), or the shared one."""

    def __init__(self, pool: ClientPool) -> None:
        self.pool = pool

    def for_headers(self, headers: Mapping[str, str] | None) -> Any:
        return self.pool.for_key(_key_of(headers))

    def refused(self, headers: Mapping[str, str] | None) -> None:
        """A key the services refused mid-session (revoked, expired) is checked again next time."""
        if key := _key_of(headers):
            self.pool.forget(key)


def _key_of(headers: Mapping[str, str] | None) -> str:
    return bearer(headers.get(AUTHORIZATION_HEADER, "")) if headers is not None else ""


class RequireKey:
    """ASGI middleware: an HTTP request passes only with a key the services accept (checked
    once per key with WhoAmI, then kept with its client)."""

    def __init__(self, app: Any, pool: ClientPool) -> None:
        self.app = app
        self.pool = pool

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = await self._refusal(_key_of(Headers(scope=scope)))
            if refusal is not None:
                headers = CHALLENGE if isinstance(refusal, Unauthenticated) else None
                response = JSONResponse(status_json(refusal), status_code=http_status(refusal), headers=headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, key: str) -> LakehouseError | None:
        if not key:
            message = "an API key is required: send Authorization: Bearer <key>"
            return Unauthenticated(message, reason=KEY_MISSING)
        if self.pool.knows(key):
            return None
        try:
            await run_in_threadpool(self.pool.check_key, key)
        except LakehouseError as exc:
            return exc
        return None


class McpHttpApp:
    """The ASGI app, and ``close`` for the clients it opened."""

    def __init__(self, app: Any, pool: ClientPool) -> None:
        self._app = app
        self.pool = pool

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    def close(self) -> None:
        self.pool.close()


def create_app(settings: Settings) -> McpHttpApp:
    m = settings.mcp
    pool = ClientPool(
        m.upstream or f"{settings.host}:{settings.port}",
        m.timeout_s,
        metadata=MCP_METADATA,
        auth_enabled=settings.auth.enabled,
        max_clients=m.max_sessions,
        channel=None if m.upstream else settings.gateway_channel,
        shared_key=m.api_key.get_secret_value() or None,
    )
    server = build_server(PooledClients(pool), m)
    app = server.streamable_http_app(streamable_http_path=m.http_path, transport_security=_transport_security(settings))
    return McpHttpApp(ForwardEndUser(RequireKey(app, pool) if settings.auth.enabled else app), pool)


def _transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection (a browser page must not drive a local MCP server): only the
    hosts it is reached by: the gateway's and its own listen address, and loopback names."""
    hosts = {settings.host, settings.mcp.http_host, "127.0.0.1", "localhost", "[::1]"}
    allowed = sorted(f"{h}:*" for h in hosts)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed,
        allowed_origins=[f"http://{h}" for h in allowed] + [f"https://{h}" for h in allowed],
    )
