"""The HTTP components (``ui``, ``mcp``): an ASGI app served by uvicorn on a thread of the
server process, on a socket bound before ``start_http`` returns, so the ready file can name
its address and Envoy can route to it at once.

A component whose imports are slow (the MCP SDK) has its app made on that thread
(``background``), so it does not hold up the process's start; requests that arrive
meanwhile wait in the socket's backlog. Otherwise the app is made before ``start_http``
returns, and a component that cannot start fails the process's start.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, Literal

import uvicorn
from starlette.datastructures import Headers

from lakehouse.api.call_metadata import END_USER_ADDRESS, FORWARDED_FOR, end_user_chain

log = logging.getLogger(__name__)
# How long stop() lets open requests (an Ask stream) finish before closing them.
GRACEFUL_STOP_S = 1
# How long stop() waits for an app still being made.
MAKE_APP_WAIT_S = 30
LISTEN_BACKLOG = 128


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a response written in two sends (head,
    # body) waits ~40 ms for the peer's delayed ACK (Nagle), on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    return sock


class HttpServer:
    def __init__(
        self,
        name: str,
        sock: socket.socket,
        make_app: Callable[[], Any],
        lifespan: Literal["on", "off"],
        on_stop: Callable[[Any], None] | None,
        background: bool,
    ) -> None:
        self.name = name
        self.app: Any = None if background else make_app()
        self._sock = sock
        self._make_app = make_app
        self._lifespan = lifespan
        self._on_stop = on_stop
        self._server: uvicorn.Server | None = None
        self._made = threading.Event()
        self._stopping = False
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._thread = threading.Thread(target=self._run, name=f"lakehouse-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            if self.app is None:
                self.app = self._make_app()
            config = uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=False,
                lifespan=self._lifespan,
                timeout_graceful_shutdown=GRACEFUL_STOP_S,
            )
            self._server = uvicorn.Server(config)
        except Exception:
            log.exception("the %s component cannot start", self.name)
            self._sock.close()  # callers get a refused connection (Envoy: 503), not a hang
            return
        finally:
            self._made.set()
        if not self._stopping:
            self._server.run(sockets=[self._sock])

    def stop(self) -> None:
        self._stopping = True
        self._made.wait(MAKE_APP_WAIT_S)
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(GRACEFUL_STOP_S + 5)
        self._sock.close()
        if self._on_stop is not None and self.app is not None:
            self._on_stop(self.app)


def start_http(
    name: str,
    host: str,
    port: int,
    make_app: Callable[[], Any],
    *,
    lifespan: Literal["on", "off"] = "off",
    on_stop: Callable[[Any], None] | None = None,
    background: bool = False,
) -> HttpServer:
    """Serve ``make_app()`` on ``host:port`` (0: a free port) until stop(); uvicorn skips its
    signal handlers off the main thread, so the server process's own SIGTERM handling stays
    in charge."""
    sock = bind(host, port)
    try:
        return HttpServer(name, sock, make_app, lifespan, on_stop, background)
    except BaseException:
        sock.close()
        raise


class ForwardEndUser:
    """ASGI middleware of the HTTP components: the calls a request makes to the services say
    whose they are (``x-forwarded-for``), so a failed key check counts against that user's
    address, not the front end's (one user guessing keys must not lock everyone out)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("", 0)
        token = END_USER_ADDRESS.set(end_user_chain(Headers(scope=scope).get(FORWARDED_FOR, ""), client[0]))
        try:
            await self.app(scope, receive, send)
        finally:
            END_USER_ADDRESS.reset(token)
