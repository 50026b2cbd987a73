"""The UI's HTTP server: uvicorn on a thread of the server process (``--services`` with
``ui``), on a socket bound before it returns, so the ready file can name its address."""

from __future__ import annotations

import socket
import threading

import uvicorn

from lakehouse.servers.settings import Settings
from lakehouse.servers.ui.app import create_app

# How long stop() lets open requests (an Ask stream) finish before closing them.
GRACEFUL_STOP_S = 1


class UiServer:
    def __init__(self, server: uvicorn.Server, sock: socket.socket, thread: threading.Thread, app) -> None:
        self._app = app
        self._server = server
        self._sock = sock
        self._thread = thread
        host, port = sock.getsockname()[:2]
        self.address = f"{host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(GRACEFUL_STOP_S + 5)
        self._sock.close()
        self._app.state.backend.close()


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a response written in two sends (head,
    # body) waits ~40 ms for the peer's delayed ACK (Nagle), on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def start_ui(settings: Settings) -> UiServer:
    """Serve the UI of ``settings`` until stop(); uvicorn skips its signal handlers off
    the main thread, so the server process's own SIGTERM handling stays in charge."""
    sock = bind(settings.ui.host, settings.ui.port)
    app = create_app(settings)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=GRACEFUL_STOP_S
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="lakehouse-ui", daemon=True)
    thread.start()
    return UiServer(server, sock, thread, app)
