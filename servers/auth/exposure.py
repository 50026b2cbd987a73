"""No listener on a non-loopback address without auth, unless the operator says so."""

from __future__ import annotations

import ipaddress

from lakehouse.servers.settings import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_exposure(settings: Settings, host: str) -> None:
    """Raise (refusing to start) when ``host`` is reachable from elsewhere, auth is off and
    ``auth.insecure`` (``--insecure``) is not set."""
    if settings.auth.enabled or settings.auth.insecure or is_loopback(host):
        return
    raise RuntimeError(
        f"refusing to listen on {host} with auth off: anyone who reaches it could read and change"
        " everything. Set LAKEHOUSE_AUTH__ENABLED=true, listen on 127.0.0.1, or pass --insecure"
        " (LAKEHOUSE_AUTH__INSECURE=true)"
    )
