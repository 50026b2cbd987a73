"""Which addresses are this host's: no listener on a non-loopback address without auth,
unless the operator says so; and the hops of our own the auth failure limiter looks past."""

from __future__ import annotations

import functools
import ipaddress
import socket

import psutil

from lakehouse.servers.settings import Settings

# Distinct x-forwarded-for hops whose verdict is kept: every authenticated call asks.
HOP_CACHE = 4096


@functools.cache
def host_addresses() -> frozenset[str]:
    """This host's own interface addresses (read once). Envoy, given a loopback client, puts
    the host's address in x-forwarded-for rather than 127.0.0.1."""
    found = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                found.add(addr.address.split("%", 1)[0])
    return frozenset(found)


@functools.lru_cache(maxsize=HOP_CACHE)
def is_this_host(host: str) -> bool:
    """A loopback address or one of this host's own: a hop of ours, not a user's."""
    if is_loopback(host):
        return True
    try:
        return str(ipaddress.ip_address(host.strip("[]"))) in host_addresses()
    except ValueError:
        return False


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
