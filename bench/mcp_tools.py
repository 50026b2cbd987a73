"""What the MCP layer costs an agent: the same small query as an MCP tool call (stdio and
streamable HTTP, the SDK's own client) and as a direct Python-client call, side by side.

    python bench/mcp_tools.py [--calls 300]

One embedded system (server process + Envoy). `lakehouse mcp` runs twice: on stdio (one
session, as an agent keeps it) and on streamable HTTP on a free port; the system's own
component `mcp` is reached under /mcp through Envoy. Calls alternate between the four one
by one (the order reversed every other call), so background noise hits
each alike. Measured: the `sql` tool on ``SELECT 1`` vs ``LakehouseClient.sql`` (both end in
the same gRPC call through Envoy; the difference is JSON-RPC, the transport, the SDK's
argument and output validation and the tool's thread hop). Reports, never asserts.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import anyio
import benchlib
from benchlib import Table, log, percentile, running_system
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from lakehouse.gateway.process import free_port

SQL = "SELECT 1"
WARMUP = 30
HTTP_START_S = 60.0


def start_http(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "mcp", "--http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + HTTP_START_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise TimeoutError("lakehouse mcp --http did not start")


async def measure(lh, http_url: str, gateway_url: str, calls: int) -> dict[str, list[float]]:
    stdio = StdioServerParameters(command=sys.executable, args=["-m", "lakehouse.cli", "mcp"], env=dict(os.environ))
    async with Client(stdio) as over_stdio, Client(http_url) as over_http, Client(gateway_url) as over_gateway:

        async def tool(client) -> None:
            result = await client.call_tool("sql", {"sql": SQL})
            assert not result.is_error, result.content

        async def direct() -> None:
            lh.sql(SQL)

        variants = {
            "mcp stdio": lambda: tool(over_stdio),
            "mcp http": lambda: tool(over_http),
            "mcp /mcp via envoy": lambda: tool(over_gateway),
            "client": direct,
        }
        names = list(variants)
        times: dict[str, list[float]] = {n: [] for n in names}
        for i in range(WARMUP + calls):
            for name in names if i % 2 == 0 else names[::-1]:
                started = time.perf_counter()
                await variants[name]()
                if i >= WARMUP:
                    times[name].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    with running_system() as system:
        port = free_port()
        proc = start_http(port)
        try:
            with system.client() as lh:
                path = system.settings.mcp.http_path
                own, gateway = f"http://127.0.0.1:{port}{path}", f"{system.rest}{path}"
                times = anyio.run(measure, lh, own, gateway, args.calls)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    base = times["client"]
    table = Table(f"MCP sql tool vs Python client, {SQL!r}, {args.calls} calls each")
    for name in ("mcp stdio", "mcp http", "mcp /mcp via envoy"):
        for p in (50, 95):
            ours, theirs = percentile(times[name], p), percentile(base, p)
            table.add(f"{name} p{p} (ms)", f"{ours:.3f}", f"{theirs:.3f}", f"{ours / theirs:.2f}x")
    table.notes.append("baseline: LakehouseClient.sql through the same Envoy; no target (informational)")
    table.notes.append(benchlib.environment())
    log("done")
    table.emit("mcp_tools")


if __name__ == "__main__":
    main()
