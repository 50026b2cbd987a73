"""The one enforcement point: every call of every service, in every process, when auth is on.

``AuthInterceptor`` reads ``authorization: Bearer <key>`` (the HTTP header, which Envoy's
transcoder forwards as metadata), resolves it to an ``Identity`` through ``Authenticator``
(a short-TTL cache over AuthCore in the catalog's process, over RemoteAuth elsewhere),
checks the method's role (``rules.required_role``) and runs the handler with the caller in
``context.CALLER``, so cores can scope what they return.

* no key: UNAUTHENTICATED (KEY_MISSING); an unknown, revoked or expired key: UNAUTHENTICATED
  (KEY_UNKNOWN, KEY_REVOKED, KEY_EXPIRED), counted against the source;
* a role below the method's: PERMISSION_DENIED (ROLE_REQUIRED);
* a source with ``auth.max_failures`` failures in ``auth.failure_window_s``: RESOURCE_EXHAUSTED
  (TOO_MANY_AUTH_FAILURES, with retry_after_s) for every call until the window passes.

The source is the peer's address; when the peer is on loopback (the gateway) the last
``x-forwarded-for`` entry, which Envoy sets from the client's real address
(``use_remote_address``). Open methods (health, reflection) keep their
handlers as they are; the others are wrapped once per method.

It sits inside the error interceptor (its refusals are mapped like any domain error) and
outside admission (a refused caller never takes a slot).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import grpc

from lakehouse.api import errors
from lakehouse.api.auth import (
    AUTHORIZATION_HEADER,
    KEY_EXPIRED,
    KEY_MISSING,
    ROLE_REQUIRED,
    TOO_MANY_AUTH_FAILURES,
    Identity,
    bearer,
)
from lakehouse.servers.auth.context import acting_as, hidden_corpus, hidden_dataset
from lakehouse.servers.auth.exposure import is_loopback, is_this_host
from lakehouse.servers.auth.limiter import FailureLimiter
from lakehouse.servers.auth.rules import OPEN, required_role
from lakehouse.servers.interceptors import WrappedHandlers, rewrapped
from lakehouse.servers.observer.attribution import attribute
from lakehouse.servers.settings import AuthSettings

FORWARDED_HEADER = "x-forwarded-for"
# Resolved keys kept at most; past it the cache starts afresh (keys are few; a flood of
# valid keys is no attack worth more code).
CACHE_MAX_ENTRIES = 10000


class Authenticator:
    """``resolve(secret) -> Identity`` behind a cache of ``ttl_s`` (0: no cache). Failures are
    never cached; ``clear`` (on revoke and profile changes in this process) drops everything."""

    def __init__(
        self, resolve: Callable[[str], Identity], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._resolve = resolve
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def identify(self, secret: str) -> Identity:
        hit = self._cache.get(secret)
        now = self._clock()
        if hit is not None and hit[0] > now:
            identity = hit[1]
            expires = identity.key.expires_at if identity.key is not None else None
            if expires is None or expires > datetime.now(expires.tzinfo):
                return identity
            with self._lock:
                self._cache.pop(secret, None)
            raise errors.Unauthenticated(
                "the API key has expired", reason=KEY_EXPIRED, metadata={"key_id": identity.key.key_id}
            )
        identity = self._resolve(secret)
        if self._ttl_s > 0:
            with self._lock:
                if len(self._cache) >= CACHE_MAX_ENTRIES:
                    self._cache.clear()
                self._cache[secret] = (now + self._ttl_s, identity)
        return identity

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def peer_host(peer: str) -> str:
    """The address part of a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``, ``unix:...``)."""
    kind, _, rest = (peer or "").partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer or ""


def _credentials(metadata) -> tuple[str | None, str]:
    """(the ``authorization`` value, the ``x-forwarded-for`` value) of a call's metadata."""
    authorization, forwarded = None, ""
    for key, value in metadata or ():
        if key == AUTHORIZATION_HEADER:
            authorization = value
        elif key == FORWARDED_HEADER:
            forwarded = value
    return authorization, forwarded


def source_of(peer: str, forwarded: str) -> str:
    """Who is calling, for the failure limiter. A peer on this host (the gateway, a front end)
    is trusted to say for whom: the nearest address in ``x-forwarded-for`` that is not this
    host's (those are our own hops: Envoy, the UI, the MCP server)."""
    host = peer_host(peer)
    if forwarded and (is_loopback(host) or peer.startswith("unix:")):
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        outside = [hop for hop in hops if not is_this_host(hop)]
        return (outside or hops or [host])[-1]
    return host


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, authenticator: Authenticator, settings: AuthSettings, clock=time.monotonic) -> None:
        self.authenticator = authenticator
        self.limiter = FailureLimiter(
            settings.max_failures, settings.failure_window_s, settings.max_tracked_sources, clock
        )
        self._handlers = WrappedHandlers(self._wrap)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if required_role(method) == OPEN:
            return handler
        return self._handlers.get(method, handler)

    def check(self, method: str, role: str, metadata, peer: str) -> Identity:
        """The caller of a call to ``method`` needing ``role``, or the refusal."""
        authorization, forwarded = _credentials(metadata)
        return self._check(method, role, bearer(authorization or ""), forwarded, peer)

    def _check(self, method: str, role: str, secret: str, forwarded: str, peer: str) -> Identity:
        source = source_of(peer, forwarded)
        wait = self.limiter.retry_after(source)
        if wait:
            raise errors.ResourceExhausted(
                f"too many failed key checks from {source}; retry in {wait:.0f} s",
                reason=TOO_MANY_AUTH_FAILURES,
                metadata={"retry_after_s": f"{wait:.0f}", "setting": "auth.max_failures"},
            )
        if not secret:
            raise errors.Unauthenticated(
                "an API key is required: send 'authorization: Bearer <key>'", reason=KEY_MISSING
            )
        try:
            identity = self.authenticator.identify(secret)
        except errors.Unauthenticated:
            self.limiter.failed(source)
            raise
        attribute(identity.principal.name)  # the recorded op's profile, refused or not
        if not identity.allows(role):
            raise errors.PermissionDenied(
                f"{method.rsplit('/', 1)[-1]} needs the {role} role; {identity.principal.name} has"
                f" {identity.role or 'no profile'}",
                reason=ROLE_REQUIRED,
                metadata={"required_role": role, "role": identity.role, "principal": identity.principal.name},
            )
        return identity

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        role = required_role(method)
        check = self._check
        names = _scoped_fields(handler)

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                authorization, forwarded = _credentials(context.invocation_metadata())
                identity = check(method, role, bearer(authorization or ""), forwarded, context.peer())
                if names:
                    check_names(identity, request, names)
                with acting_as(identity, authorization):
                    return fn(request, context)

            return call

        def wrap_stream(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
            def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                authorization, forwarded = _credentials(context.invocation_metadata())
                identity = check(method, role, bearer(authorization or ""), forwarded, context.peer())
                with acting_as(identity, authorization):
                    yield from fn(request, context)

            return call

        return rewrapped(handler, wrap_unary, wrap_stream)


# Request fields naming one dataset or corpus: a name outside the caller's profiles is
# NOT_FOUND before the handler runs, in every service (Get, List versions, Search ...).
DATASET_FIELD = "dataset"
CORPUS_FIELD = "corpus"


def _scoped_fields(handler: grpc.RpcMethodHandler) -> tuple[str, ...]:
    """Which of those fields the method's (unary) request message has."""
    if handler.request_streaming:
        return ()
    owner = getattr(handler.request_deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    if descriptor is None:
        return ()
    fields = descriptor.fields_by_name
    return tuple(
        name
        for name in (DATASET_FIELD, CORPUS_FIELD)
        if name in fields and fields[name].type == fields[name].TYPE_STRING and not fields[name].is_repeated
    )


def check_names(identity: Identity, request: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(request, name, "")
        if not value or not isinstance(value, str):
            continue
        if name == DATASET_FIELD and not identity.sees_dataset(value):
            raise hidden_dataset(value)
        if name == CORPUS_FIELD and not identity.sees_corpus(value):
            raise hidden_corpus(value)
