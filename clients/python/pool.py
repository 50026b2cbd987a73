"""Clients of one address, one per API key: what a front end (the web UI, the MCP server
over HTTP) calls the services through on behalf of each of its users.

Each user's calls carry their own key, so the services scope what each one sees. Keys
are checked once (WhoAmI) before their client is kept; the least recently used client is
closed past ``max_clients``. With auth off every request shares one client.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from lakehouse.api.config import ChannelSettings
from lakehouse.api.errors import LakehouseError
from lakehouse.client import LakehouseClient


class ClientPool:
    """Made on first use (a front end starts before the gateway it calls through)."""

    def __init__(
        self,
        address: str,
        timeout_s: float,
        *,
        metadata: Iterable[tuple[str, str]] = (),
        auth_enabled: bool = False,
        max_clients: int = 1,
        channel: ChannelSettings | None = None,
        shared_key: str | None = None,
    ) -> None:
        """``shared_key``: the key of the shared client (None: the client's LAKEHOUSE_API_KEY)."""
        self.address = address
        self.channel = channel
        self.timeout_s = timeout_s
        self.metadata = tuple(metadata)
        self.auth_enabled = auth_enabled
        self.max_clients = max_clients
        self._shared_key = shared_key
        self._shared: LakehouseClient | None = None
        self._clients: OrderedDict[str, LakehouseClient] = OrderedDict()
        self._lock = threading.Lock()

    def _open(self, api_key: str | None) -> LakehouseClient:
        return LakehouseClient(
            self.address, timeout_s=self.timeout_s, settings=self.channel, metadata=self.metadata, api_key=api_key
        )

    @property
    def shared(self) -> LakehouseClient:
        """The client of callers with no key of their own (auth off, or stdio)."""
        with self._lock:
            if self._shared is None:
                self._shared = self._open(self._shared_key)
            return self._shared

    def with_key(self, api_key: str) -> LakehouseClient:
        """The client whose calls carry ``api_key``."""
        with self._lock:
            found = self._clients.get(api_key)
            if found is not None:
                self._clients.move_to_end(api_key)
                return found
            made = self._clients[api_key] = self._open(api_key)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)[1].close()
            return made

    def for_key(self, api_key: str) -> LakehouseClient:
        """The client a user's call goes through: with auth on, the one of their key (the
        shared one when they brought none: the services then refuse the call); else the shared."""
        return self.with_key(api_key) if self.auth_enabled and api_key else self.shared

    def knows(self, api_key: str) -> bool:
        """True when ``api_key`` passed ``check_key`` and its client is still kept."""
        with self._lock:
            return api_key in self._clients

    def check_key(self, api_key: str) -> str:
        """The principal ``api_key`` belongs to, or the services' refusal (401, 429)."""
        try:
            return self.with_key(api_key).auth.whoami().principal.name
        except LakehouseError:
            self.forget(api_key)  # refused keys do not hold a channel
            raise

    def forget(self, api_key: str) -> None:
        with self._lock:
            dropped = self._clients.pop(api_key, None)
        if dropped is not None:
            dropped.close()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
            shared, self._shared = self._shared, None
        for c in [*clients, *([shared] if shared else [])]:
            c.close()
