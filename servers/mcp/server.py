"""The Lakehouse MCP server: the tools of ``tools.py`` and the resources of ``resources.py``
on one ``MCPServer`` (the ``mcp`` SDK 2.x), served over stdio or streamable HTTP.

Every Lakehouse call goes through a ``LakehouseClient`` whose channel sends
``x-lakehouse-source: mcp``, so the observer records the agent's ops as ``source: mcp``:
on stdio one client (the agent's key), over HTTP the client of the key the request
carried (``http.py``), so the services scope what each agent sees.
A refused call never ends the session: the tool answers an MCP tool error (``isError``)
whose text is ``CODE REASON: message`` and whose structured content holds the same
fields, so an agent can switch on the reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from lakehouse.api.call_metadata import END_USER_ADDRESS, FORWARDED_FOR, end_user_chain
from lakehouse.api.errors import LakehouseError, Unauthenticated
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
# The keyword argument through which the SDK hands each tool its request context.
CONTEXT_ARG = "mcp_context"


def tool_error(exc: LakehouseError) -> CallToolResult:
    """A refused Lakehouse call as an MCP tool error (the session goes on)."""
    detail: dict[str, Any] = {"code": exc.code, "reason": exc.reason, "message": exc.message}
    if exc.metadata:
        detail["metadata"] = dict(exc.metadata)
    if exc.violations:
        detail["violations"] = [{"field": v.field, "description": v.description} for v in exc.violations]
    text = f"{exc.code} {exc.reason}: {exc.message}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=detail, is_error=True)


class Clients(Protocol):
    """Which client a tool call goes through, from the headers of the HTTP request that
    carried it (None on stdio); ``refused`` is told when the services refused its key."""

    def for_headers(self, headers: Mapping[str, str] | None) -> Any: ...

    def refused(self, headers: Mapping[str, str] | None) -> None: ...


class OneClient:
    """Every call through one client (stdio: the agent's process is the one user)."""

    def __init__(self, lh: Any) -> None:
        self.lh = lh

    def for_headers(self, headers: Mapping[str, str] | None) -> Any:
        return self.lh

    def refused(self, headers: Mapping[str, str] | None) -> None:
        return None


def _tool(name: str, clients: Clients, settings: McpSettings) -> Callable[..., Any]:
    """The ``LakehouseTools`` method ``name`` as a tool: its own parameters (the SDK reads them
    for the input and output schemas) plus the SDK's request context, through which each call
    picks its caller's client. A refused call answers a tool error."""
    method = getattr(LakehouseTools, name)
    signature = inspect.signature(method)
    params = list(signature.parameters.values())[1:]  # without self
    params.append(inspect.Parameter(CONTEXT_ARG, inspect.Parameter.KEYWORD_ONLY, annotation=Context))

    def tool(**kwargs: Any) -> Any:
        headers = kwargs.pop(CONTEXT_ARG).headers
        # Over HTTP the session runs apart from the request: say whose call this is again.
        forwarded = end_user_chain(headers.get(FORWARDED_FOR, ""), "") if headers is not None else None
        token = END_USER_ADDRESS.set(forwarded or None)
        try:
            return getattr(LakehouseTools(clients.for_headers(headers), settings), name)(**kwargs)
        except LakehouseError as exc:
            if isinstance(exc, Unauthenticated):
                clients.refused(headers)
            return tool_error(exc)
        finally:
            END_USER_ADDRESS.reset(token)

    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = method.__doc__
    tool.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    tool.__annotations__ = {
        **{p.name: p.annotation for p in params},
        "return": signature.return_annotation,
    }
    return tool


def build_server(clients: Clients, settings: McpSettings) -> MCPServer:
    """The server whose tools call Lakehouse through ``clients`` (LakehouseClients opened
    with ``MCP_METADATA``)."""
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS)
    for name in LakehouseTools.NAMES:
        hints = ToolAnnotations(read_only_hint=name in READ_ONLY_TOOLS, open_world_hint=False)
        server.add_tool(_tool(name, clients, settings), name=name, annotations=hints)

    @server.resource(resources.DATASET_SCHEMA_URI, name="dataset_schema", mime_type=resources.JSON_MIME)
    def dataset_schema(name: str, ctx: Context) -> str:
        """A dataset's columns (name, type, nullable), primary key and version."""
        return resources.dataset_schema(clients.for_headers(ctx.headers), name)

    @server.resource(resources.WORKFLOW_URI, name="workflow", mime_type=resources.JSON_MIME)
    def workflow(name: str, ctx: Context) -> str:
        """A known workflow: its description, nodes and inputs."""
        return resources.workflow_definition(clients.for_headers(ctx.headers), name)

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
        build_server(OneClient(lh), settings.mcp).run("stdio")


def serve_http(settings: Settings, host: str = "", port: int = 0) -> None:
    """Streamable HTTP at http://host:port{mcp.http_path} until stopped (the app of ``http.py``)."""
    import uvicorn

    from lakehouse.servers.mcp.http import create_app

    m = settings.mcp
    app = create_app(settings)
    try:
        uvicorn.run(app, host=host or m.http_host, port=port or m.http_port, log_level="warning")
    finally:
        app.close()
