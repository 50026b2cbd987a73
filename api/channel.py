"""The one gRPC channel factory: every remote between services and the Python client.

A channel built here has the message limits, the keepalive the servers accept, gRPC's
own retry policy for idempotent reads (a service config naming the read methods of
every ``lakehouse.v1`` service), trace context propagation (``api/tracing.py``), and ``call``:
the default deadline and the one error mapping (``lakehouse.api.status``).
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

from lakehouse.api import errors
from lakehouse.api.call_metadata import Metadata, MetadataInterceptor
from lakehouse.api.config import ChannelSettings
from lakehouse.api.errors import Cancelled, LakehouseError, Unavailable
from lakehouse.api.status import from_rpc_error
from lakehouse.api.tracing import TracingInterceptor, tracing_configured

# Method-name prefixes of the reads that are safe to retry (no side effects).
IDEMPOTENT_PREFIXES = ("Get", "List", "Find", "Search", "Embed", "Verify", "Describe")
RETRYABLE_CODES = ("UNAVAILABLE",)
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
CALL_CANCELLED = "CALL_CANCELLED"
INVALID_TLS_FILE = "INVALID_TLS_FILE"  # a certificate or key file that cannot be read
# How the gateway names the component it could not reach (gateway_envoy/config.py UPSTREAM_REPLY_TEXT).
_UPSTREAM_RE = re.compile(r"\(upstream: ([a-z_]+)\)")


def _service_modules() -> list[Any]:
    """Every generated lakehouse.v1 message module: a new service is found, not listed."""
    import lakehouse.v1 as package

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.endswith("_pb2"))
    return [importlib.import_module(f"lakehouse.v1.{name}") for name in names]


@functools.cache
def _idempotent_methods() -> tuple[tuple[str, str], ...]:
    return tuple(
        (service.full_name, m.name)
        for module in _service_modules()
        for service in module.DESCRIPTOR.services_by_name.values()
        for m in service.methods
        if m.name.startswith(IDEMPOTENT_PREFIXES)
    )


def idempotent_methods() -> list[dict[str, str]]:
    """Every read method of every lakehouse.v1 service, as service-config names (read from
    the descriptors once per process, not once per channel)."""
    return [{"service": service, "method": method} for service, method in _idempotent_methods()]


def service_config(settings: ChannelSettings) -> str:
    """The gRPC service config: retry idempotent reads on UNAVAILABLE."""
    if settings.retry_max_attempts < 2:
        return json.dumps({"methodConfig": []})
    policy = {
        "maxAttempts": settings.retry_max_attempts,
        "initialBackoff": f"{settings.retry_initial_backoff_s}s",
        "maxBackoff": f"{settings.retry_max_backoff_s}s",
        "backoffMultiplier": settings.retry_backoff_multiplier,
        "retryableStatusCodes": list(RETRYABLE_CODES),
    }
    return json.dumps({"methodConfig": [{"name": idempotent_methods(), "retryPolicy": policy}]})


def channel_options(settings: ChannelSettings) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
        # Keep pinging through a long quiet call (a stream waiting for data), not just twice.
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(settings)),
    ]


def server_keepalive_options(settings: ChannelSettings) -> list[tuple[str, Any]]:
    """What a server needs to accept the pings of channels built here."""
    interval_ms = int(settings.keepalive_time_s * 1000)
    return [
        ("grpc.http2.min_recv_ping_interval_without_data_ms", interval_ms),
        ("grpc.http2.min_ping_interval_without_data_ms", interval_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_ping_strikes", 0),
    ]


# A call's timeout_s meaning "no deadline" (None means the channel's default).
NO_DEADLINE = float("inf")


class Channel:
    """A channel and the call helper: ``channel.call(stub.Method, request)`` raises the
    domain exception the server raised, and applies the default deadline."""

    def __init__(
        self,
        address: str,
        settings: ChannelSettings,
        default_timeout_s: float | None,
        component: str = "",
        metadata: Metadata = (),
        delegate: bool = False,
    ) -> None:
        self.address = address
        self.component = component
        self.settings = settings
        self.default_timeout_s = default_timeout_s
        raw = _raw_channel(address, settings)
        self._raw = raw
        self.grpc = _traced(raw) if settings.tracing and tracing_configured() else raw
        if metadata:  # sent on every call (e.g. x-lakehouse-source)
            self.grpc = grpc.intercept_channel(self.grpc, MetadataInterceptor(metadata, delegate))

    def _timeout(self, timeout_s: float | None) -> float | None:
        if timeout_s is None:
            return self.default_timeout_s
        return None if timeout_s == NO_DEADLINE else timeout_s

    def call(
        self,
        method: Callable[..., Any],
        request: Any,
        timeout_s: float | None = None,
        cancelled: Callable[[], bool] | None = None,
        **kw: Any,
    ) -> Any:
        """One call; with ``cancelled``, the call is cancelled once it returns True."""
        if cancelled is not None:
            return self.wait(self.start(method, request, timeout_s, **kw), cancelled)
        try:
            return method(request, timeout=self._timeout(timeout_s), **kw)
        except grpc.RpcError as err:
            raise self.error(err) from None

    def start(self, method: Callable[..., Any], request: Any, timeout_s: float | None = None, **kw: Any) -> Any:
        """The call under way, as a future (see ``wait``)."""
        return method.future(request, timeout=self._timeout(timeout_s), **kw)

    def wait(self, future: Any, cancelled: Callable[[], bool]) -> Any:
        """The reply of a started call, checking ``cancelled`` every ``cancel_poll_s``."""
        while True:
            try:
                return future.result(timeout=self.settings.cancel_poll_s)
            except grpc.FutureTimeoutError:
                if cancelled():
                    future.cancel()
            except grpc.FutureCancelledError:
                raise _cancelled() from None
            except grpc.RpcError as err:
                if err.code() == grpc.StatusCode.CANCELLED and cancelled():
                    raise _cancelled() from None
                raise self.error(err) from None

    def stream(
        self, method: Callable[..., Any], request: Any, timeout_s: float | None = None, **kw: Any
    ) -> Iterator[Any]:
        """The responses of a server-streaming call, with the same deadline and error mapping."""
        return self.read(method(request, timeout=self._timeout(timeout_s), **kw))

    def read(self, call: Any) -> Iterator[Any]:
        """The responses of a streaming call already started, failures as domain errors."""
        try:
            yield from call
        except grpc.RpcError as err:
            raise self.error(err) from None
        finally:
            call.cancel()  # a caller that stops reading ends the call (no-op once it completed)

    def error(self, err: grpc.RpcError) -> LakehouseError:
        """The domain exception for a failed call on this channel. A transport failure
        (UNAVAILABLE with no status details: nothing answered) names what is down: the
        component behind the gateway when Envoy says which, else this channel's peer."""
        exc = from_rpc_error(err)
        if not isinstance(exc, Unavailable) or exc.reason != "UNAVAILABLE":
            return exc
        said = _UPSTREAM_RE.search(exc.message)
        component = said.group(1) if said else self.component
        where = f"{component} ({self.address})" if component else self.address
        return Unavailable(
            f"{where} is unavailable: {exc.message}",
            reason=UPSTREAM_UNAVAILABLE,
            metadata={"component": component, "address": self.address},
        )

    def close(self) -> None:
        self._raw.close()


def _cancelled() -> Cancelled:
    return Cancelled("the call was cancelled by its caller", reason=CALL_CANCELLED)


_UNSET: Any = object()


def open_channel(
    address: str,
    settings: ChannelSettings | None = None,
    *,
    default_timeout_s: float | None = _UNSET,
    component: str = "",
    metadata: Metadata = (),
    delegate: bool = False,
) -> Channel:
    """The channel to ``address`` (host:port). ``default_timeout_s`` overrides the settings'
    default deadline (None: calls without a deadline); ``component`` names what it reaches
    (in UPSTREAM_UNAVAILABLE errors); ``metadata`` goes with every call; ``delegate``: calls
    made while serving one carry that call's authorization (lakehouse.api.call_metadata)."""
    chosen = settings or ChannelSettings()
    timeout = chosen.default_timeout_s if default_timeout_s is _UNSET else default_timeout_s
    return Channel(address, chosen, timeout, component, metadata, delegate)


def _raw_channel(address: str, settings: ChannelSettings) -> grpc.Channel:
    options = channel_options(settings)
    if not (settings.tls or settings.tls_root_cert):
        return grpc.insecure_channel(address, options=options)
    roots = None
    if settings.tls_root_cert:
        try:
            roots = Path(settings.tls_root_cert).expanduser().read_bytes()
        except OSError as exc:
            raise errors.invalid_field(
                "channel.tls_root_cert", f"cannot read {settings.tls_root_cert}: {exc.strerror}", INVALID_TLS_FILE
            ) from exc
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=roots), options=options)


def _traced(channel: grpc.Channel) -> grpc.Channel:
    return grpc.intercept_channel(channel, TracingInterceptor())
