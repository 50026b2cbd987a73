"""Where a server process's spans go: an OTLP/gRPC collector named by ``settings.tracing``.

The server interceptor (``server.tracing``) and the channel factory's client interceptor
(``lakehouse.api.tracing``) create spans through OpenTelemetry's global tracer provider,
which is a no-op until one is set. ``configure_tracing`` sets it once per process when
an endpoint is configured, naming the process by ``service.name`` plus the components it
hosts, so one trace shows which process did what. OpenTelemetry lets a process set its
provider only once, so ``shutdown_tracing`` flushes rather than removes it (a later
server in the same process keeps exporting); the SDK shuts it down at interpreter exit.
"""

from __future__ import annotations

import logging
import os
import threading

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import PROCESS_PID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lakehouse.servers.settings import Settings

log = logging.getLogger("lakehouse.tracing")

# Resource attribute: the components this process hosts, comma-separated ("ingest,query").
COMPONENTS_ATTRIBUTE = "lakehouse.components"

_lock = threading.Lock()
_provider: TracerProvider | None = None
_flush_timeout_s = 0.0


def configure_tracing(settings: Settings, components: list[str]) -> bool:
    """Export this process's spans to ``settings.tracing.otlp_endpoint``; True if they are.

    Without an endpoint nothing is installed (spans stay no-ops). Idempotent: the first
    configured call wins, later ones (another server in the same process) reuse it.
    """
    global _provider, _flush_timeout_s
    opts = settings.tracing
    if not opts.otlp_endpoint:
        return _provider is not None
    with _lock:
        if _provider is not None:
            return True
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            # Someone else (opentelemetry-instrument, an embedding application) owns it.
            log.warning("a tracer provider is already set; not exporting to %s", opts.otlp_endpoint)
            return False
        resource = Resource.create(
            {
                SERVICE_NAME: opts.service_name,
                COMPONENTS_ATTRIBUTE: ",".join(components),
                PROCESS_PID: os.getpid(),
            }
        )
        provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=opts.otlp_endpoint, insecure=True, timeout=opts.export_timeout_s)
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                schedule_delay_millis=opts.export_delay_ms,
                export_timeout_millis=opts.export_timeout_s * 1000,
            )
        )
        trace.set_tracer_provider(provider)
        _provider = provider
        _flush_timeout_s = opts.flush_timeout_s
        log.info("exporting spans to %s as %s (%s)", opts.otlp_endpoint, opts.service_name, ",".join(components))
        return True


def shutdown_tracing() -> None:
    """Send the spans still queued (a stopping server's last calls), waiting at most
    ``tracing.flush_timeout_s``. A no-op when tracing was not configured."""
    provider = _provider
    if provider is None:
        return
    if not provider.force_flush(timeout_millis=int(_flush_timeout_s * 1000)):
        log.warning("spans not flushed within %.1fs; some may be lost", _flush_timeout_s)
