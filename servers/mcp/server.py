"""The Lakehouse MCP server: the tools of ``tools.py`` and the resources of ``resources.py``
on one ``MCPServer`` (the ``mcp`` SDK 2.x), served over stdio or streamable HTTP.

Every Lakehouse call goes through one ``LakehouseClient`` whose channel sends
``x-lakehouse-source: mcp``, so the observer records the agent's ops as ``source: mcp``.
A refused call never ends the session: the tool answers an MCP tool error (``isError``)
whose text is ``CODE REASON: message`` and whose structured content holds the same
fields, so an agent can switch on the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from lakehouse.api.errors import LakehouseError
from lakehouse.api.observer import SOURCE_HEADER, SOURCE_MCP
from lakehouse.servers.mcp import resources
from lakehouse.servers.mcp.tools import LakehouseTools
from lakehouse.servers.settings import McpSettings, Settings

SERVER_NAME = "lakehouse"
INSTRUCTIONS = (
    "Lakehouse: a staffing company's data lake. Read dataset://{name}/schema before writing SQL; "
    "list_datasets names the datasets, workflow://{name} describes a workflow. Tool errors carry "
    "a gRPC code and a stable reason (e.g. PERMISSION_DENIED SANDBOX_VIOLATION)."
)
# Request metadata of every call the server makes.
MCP_METADATA = ((SOURCE_HEADER, SOURCE_MCP),)
# Tools that change nothing (the rest write a version, an entry, a run or a report).
READ_ONLY_TOOLS = frozenset({"sql", "list_datasets", "describe_dataset", "search", "matrix_search"})


def tool_error(exc: LakehouseError) -> CallToolResult:
    """A refused Lakehouse call as an MCP tool error (the session goes on)."""
    detail: dict[str, Any] = {"code": exc.code, "reason": exc.reason, "message": exc.message}
    if exc.metadata:
        detail["metadata"] = dict(exc.metadata)
    if exc.violations:
        detail["violations"] = [{"field": v.field, "description": v.description} for v in exc.violations]
    text = f"{exc.code} {exc.reason}: {exc.message}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=detail, is_error=True)


def _refusals(method: Callable[..., Any]) -> Callable[..., Any]:
    """The tool ``method`` with a LakehouseError answered as a tool error. ``wraps`` keeps
    the method's signature, which the SDK reads for the input and output schemas."""

    @functools.wraps(method)
    def tool(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except LakehouseError as exc:
            return tool_error(exc)

    return tool


def build_server(lh: Any, settings: McpSettings) -> MCPServer:
    """The server over ``lh`` (a LakehouseClient opened with ``MCP_METADATA``)."""
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS)
    tools = LakehouseTools(lh, settings)
    for name in LakehouseTools.NAMES:
        hints = ToolAnnotations(read_only_hint=name in READ_ONLY_TOOLS, open_world_hint=False)
        server.add_tool(_refusals(getattr(tools, name)), name=name, annotations=hints)

    @server.resource(resources.DATASET_SCHEMA_URI, name="dataset_schema", mime_type=resources.JSON_MIME)
    def dataset_schema(name: str) -> str:
        """A dataset's columns (name, type, nullable), primary key and version."""
        return resources.dataset_schema(lh, name)

    @server.resource(resources.WORKFLOW_URI, name="workflow", mime_type=resources.JSON_MIME)
    def workflow(name: str) -> str:
        """A known workflow: its description, nodes and inputs."""
        return resources.workflow_definition(lh, name)

    return server


def open_client(settings: Settings) -> Any:
    """The client every tool calls: the gateway (or ``mcp.upstream``), marked as MCP."""
    from lakehouse.client import LakehouseClient

    address = settings.mcp.upstream or f"{settings.host}:{settings.port}"
    channel = None if settings.mcp.upstream else settings.gateway_channel
    return LakehouseClient(address, settings=channel, **client_options(settings.mcp))


def client_options(settings: McpSettings) -> dict[str, Any]:
    """The deadline, the source header, and the API key with auth on: ``mcp.api_key``, else
    the client's own default (env LAKEHOUSE_API_KEY)."""
    key = settings.api_key.get_secret_value()
    return {"timeout_s": settings.timeout_s, "metadata": MCP_METADATA, "api_key": key or None}


def serve_stdio(settings: Settings) -> None:
    with open_client(settings) as lh:
        build_server(lh, settings.mcp).run("stdio")


def serve_http(settings: Settings, host: str = "", port: int = 0) -> None:
    """Streamable HTTP at http://host:port{mcp.http_path} until stopped."""
    m = settings.mcp
    with open_client(settings) as lh:
        build_server(lh, m).run(
            "streamable-http", host=host or m.http_host, port=port or m.http_port, streamable_http_path=m.http_path
        )
