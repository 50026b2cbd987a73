"""Fixed request metadata on every call of a channel built by ``lakehouse.api.channel``.

A caller that speaks for someone else (the MCP server: ``x-lakehouse-source: mcp``) says
so on each call, streamed or not, without every client method passing ``metadata=``.
Written on gRPC's own client-interceptor interfaces, as ``lakehouse.api.tracing`` is.

A delegating channel (a server's channel to the query service) sends, while a call is being
served, the ``authorization`` that call arrived with instead of its own: SQL a core runs for
a caller is then scoped by that caller's profiles in the query process exactly as it is by
an in-process query core. Outside a served call (start-up, background work, the service's
own bookkeeping) it sends its own key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import grpc

from lakehouse.api.tracing import _Details

Metadata = Sequence[tuple[str, str]]
AUTHORIZATION = "authorization"
# The authorization metadata of the call being served (set by the server's auth interceptor).
CALLER_AUTHORIZATION: ContextVar[str | None] = ContextVar("lakehouse_caller_authorization", default=None)
FORWARDED_FOR = "x-forwarded-for"
# A front end's (UI, MCP over HTTP) end user's address chain, sent with the calls it makes for
# them, so the services' failure limiter counts that user, not the front end's own address.
END_USER_ADDRESS: ContextVar[str | None] = ContextVar("lakehouse_end_user_address", default=None)
# Addresses of an x-forwarded-for chain passed on to the services (the nearest ones).
MAX_FORWARDED_HOPS = 8


def end_user_chain(forwarded: str, client: str) -> str:
    """The address chain of a request's end user: the ``x-forwarded-for`` Envoy gave it (only
    well-formed addresses, the nearest few) and then the peer itself."""
    hops = []
    for hop in forwarded.split(","):
        try:
            hops.append(str(ipaddress.ip_address(hop.strip().strip("[]"))))
        except ValueError:
            continue  # a client may send anything here: only addresses go on
    if client:
        hops.append(client)
    return ", ".join(hops[-MAX_FORWARDED_HOPS:])


class MetadataInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Appends ``metadata`` (lower-case keys, as gRPC requires) to each call's own; with
    ``delegate``, the served caller's authorization replaces the channel's own."""

    def __init__(self, metadata: Metadata, delegate: bool = False) -> None:
        self._metadata = tuple((key.lower(), value) for key, value in metadata)
        self._delegate = delegate

    def _fixed(self) -> Metadata:
        fixed = self._metadata
        served = CALLER_AUTHORIZATION.get() if self._delegate else None
        if served:
            fixed = (*((k, v) for k, v in fixed if k != AUTHORIZATION), (AUTHORIZATION, served))
        if end_user := END_USER_ADDRESS.get():
            fixed = (*fixed, (FORWARDED_FOR, end_user))
        return fixed

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _Details(
            details.method,
            details.timeout,
            [*(details.metadata or ()), *self._fixed()],
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)
