"""`lakehouse ui`: where the web UI is (Envoy's port, path /), and open it in a browser."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from lakehouse.cli.common import load_settings

ui = typer.Typer(help="The web UI: print its URL (--open: open it in a browser).")


def ui_url(host: str, port: int) -> str:
    # A wildcard listener is reached on loopback from this machine.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}/"


@ui.callback(invoke_without_command=True)
def show(
    open_browser: Annotated[bool, typer.Option("--open", help="open the URL in the default browser")] = False,
) -> None:
    """Print the UI's URL (served by `lakehouse up` with the `ui` component)."""
    s = load_settings()
    url = ui_url(s.host, s.port)
    typer.echo(url)
    if open_browser and not webbrowser.open(url):
        typer.echo("no browser could be opened; visit the URL above", err=True)
