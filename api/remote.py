"""The base of every remote API: one generated stub over a runtime channel, every call
through ``Channel`` (deadline, retries, tracing, domain errors restored).

A new service's remote subclasses ``Remote``, names its stub and writes one line per
method: build the request, ``self._call(name, request)``, convert the reply. The
conversions live beside the domain types in the service's API module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import grpc

from lakehouse.api.channel import Channel


class Remote:
    """A service API implemented over its generated stub."""

    stub_type: ClassVar[Callable[[grpc.Channel], Any]]

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._stub = self.stub_type(channel.grpc)

    def _call(self, method: str, request: Any, timeout_s: float | None = None) -> Any:
        """A unary (or client-streaming, given an iterator) call by method name."""
        return self._channel.call(getattr(self._stub, method), request, timeout_s)

    def _stream(self, method: str, request: Any, timeout_s: float | None = None) -> Iterator[Any]:
        """The messages of a server-streaming call; a failure mid-stream raises the domain error."""
        return self._channel.stream(getattr(self._stub, method), request, timeout_s)

    def close(self) -> None:
        """Nothing to release: the channel belongs to whoever opened it."""
        return None
