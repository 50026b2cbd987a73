"""Defaults of every gRPC client channel, in one typed model.

The servers embed this model as ``Settings.channel`` (env ``LAKEHOUSE_CHANNEL__*``), so a
process's remotes and its server agree on keepalive; the Python client takes it directly.
"""

from __future__ import annotations

from pydantic import BaseModel

MiB = 1024 * 1024


class ChannelSettings(BaseModel):
    """How ``lakehouse.api.channel.open_channel`` builds a channel."""

    # Largest message either way (Arrow batches, upload chunks, corpus items).
    max_message_bytes: int = 256 * MiB
    # HTTP/2 keepalive: ping an idle connection after this long, and drop it when the ping
    # is not answered in keepalive_timeout_s. Servers accept pings this often (never
    # GOAWAY "too_many_pings" to a channel built here).
    keepalive_time_s: float = 30.0
    keepalive_timeout_s: float = 10.0
    # Deadline of a call whose caller gives none (None: no deadline). Remotes between
    # services pass their own; long calls (ingest, corpus builds) pass None.
    default_timeout_s: float | None = 30.0
    # Deadline of calls that embed texts first (vector writes and text searches, Embed): on
    # a CPU-only host a batch can take a while.
    embed_timeout_s: float = 300.0
    # Retries of idempotent reads (methods named Get*, List*, Find*, Search*, Embed*, Verify*,
    # Describe*) on UNAVAILABLE, by gRPC's own retry policy (a service config, not a loop).
    retry_max_attempts: int = 4
    retry_initial_backoff_s: float = 0.05
    retry_max_backoff_s: float = 1.0
    retry_backoff_multiplier: float = 2.0
    # How often a call that its caller may cancel (an upload, a compaction) checks.
    cancel_poll_s: float = 0.1
    # TLS to a gateway that terminates it (Settings.gateway_tls_cert): ``tls`` trusts the
    # system's roots, ``tls_root_cert`` (a PEM file; implies tls) the CA that signed the
    # gateway's certificate, e.g. a self-signed one. Off: plaintext (loopback, inside a host).
    tls: bool = False
    tls_root_cert: str = ""
    # OpenTelemetry client spans, so trace context crosses processes (a no-op without a
    # tracer provider).
    tracing: bool = True
