"""The UI's HTTP server (component ``ui``): its Starlette app on a thread of the server process."""

from __future__ import annotations

from lakehouse.servers.http_server import HttpServer, start_http
from lakehouse.servers.settings import Settings


def start_ui(settings: Settings) -> HttpServer:
    from lakehouse.servers.ui.app import create_app

    return start_http(
        "ui",
        settings.ui.host,
        settings.ui.port,
        lambda: create_app(settings),
        on_stop=lambda app: app.state.backend.close(),
    )
