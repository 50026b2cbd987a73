"""The two implementations a contract test runs against (D23): the core in-process, and the
remote over a real channel to the same server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lakehouse.api.channel import Channel, open_channel

IMPLEMENTATIONS = ("local", "remote")


def implementation(
    kind: str, address: str, local: Callable[[], Any], remote: Callable[[Channel], Any]
) -> Iterator[Any]:
    """Yield the core (``kind == "local"``) or a remote on a channel to ``address``, closed after."""
    if kind == "local":
        yield local()
        return
    channel = open_channel(address)
    try:
        yield remote(channel)
    finally:
        channel.close()
