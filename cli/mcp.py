"""`lakehouse mcp`: the MCP server for AI agents (servers/mcp/), on stdio by default (an
agent starts it as a subprocess) or on streamable HTTP with --http. It calls the running
system through the gateway, so `lakehouse up` (or serve) must be running."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehouse.cli.common import load_settings


def mcp(
    http: Annotated[bool, typer.Option("--http", help="serve streamable HTTP instead of stdio")] = False,
    host: Annotated[str, typer.Option(help="--http: listen address (default: mcp.http_host)")] = "",
    port: Annotated[int, typer.Option(help="--http: port (default: mcp.http_port)")] = 0,
) -> None:
    """Serve Lakehouse's tools (sql, search, ask, ingest_text, run_workflow ...) and resources
    (dataset://NAME/schema, workflow://NAME) over MCP: stdio, or HTTP at mcp.http_path."""
    from lakehouse.servers.mcp.server import serve_http, serve_stdio

    settings = load_settings()
    if http:
        serve_http(settings, host, port)
    else:
        serve_stdio(settings)
