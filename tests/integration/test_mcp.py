"""The MCP server against a live system, driven by the SDK's own client over both
transports: `lakehouse mcp` on stdio (a subprocess, as an agent starts it) and
`lakehouse mcp --http` on its own port and under /mcp through Envoy (streamable HTTP).
Every tool is called over each;
a sandbox escape through the sql tool is a tool error with its reason, and the ops the
server made are recorded with source "mcp"."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from lakehouse.gateway.process import free_port
from tests.support.system import System

DATASET = "mcp_workers"
CORPUS = "mcp_workers"
ROWS = "\n".join(
    json.dumps(r)
    for r in (
        {"id": "w1", "name": "Ana", "state": "IL", "bio": "forklift operator, OSHA-10 certified, Chicago warehouse"},
        {"id": "w2", "name": "Bo", "state": "WI", "bio": "line cook with food handler card, Madison"},
        {"id": "w3", "name": "Cy", "state": "IL", "bio": "CDL class A truck driver, regional routes"},
    )
).encode()
WORKFLOW = (
    "name: mcp-echo\ndescription: says the word\ninputs:\n  word: {}\n"
    "nodes:\n  - id: say\n    mode: echo\n    with: {value: $INPUTS.word}\n"
)
ESCAPE = "SELECT * FROM read_csv('/etc/passwd')"
HTTP_START_S = 60.0


@pytest.fixture(scope="module")
def msystem(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("mcp-home"))
    with system.client() as lh:
        embed = {"embed_corpus": CORPUS, "embed_id_column": "id", "embed_text_columns": ["bio"]}
        embed["embed_metadata_columns"] = ["state", "name"]
        assert lh.ingest(DATASET, ROWS, format="ndjson", embed=embed).rows == 3
    yield system
    system.stop()


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lakehouse mcp --http exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"lakehouse mcp --http did not listen on {port}")


@pytest.fixture(scope="module")
def http_url(msystem):
    """`lakehouse mcp --http` on its own free port (the system's settings through os.environ)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "mcp", "--http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc, HTTP_START_S)
        yield f"http://127.0.0.1:{port}{msystem.settings.mcp.http_path}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _stdio() -> StdioServerParameters:
    # The SDK hands a stdio server only a few variables by default: pass the system's.
    return StdioServerParameters(command=sys.executable, args=["-m", "lakehouse.cli", "mcp"], env=dict(os.environ))


async def _every_tool(target: Any, tag: str) -> dict[str, Any]:
    """Each tool (and both resources) once, over one session; results by name."""
    notes = f"mcp_notes_{tag}"
    async with Client(target) as client:
        out: dict[str, Any] = {"tools": [t.name for t in (await client.list_tools()).tools]}
        calls = {
            "sql": {"sql": f"SELECT name FROM {DATASET} ORDER BY id", "max_rows": 2},
            "escape": {"sql": ESCAPE},
            "list_datasets": {},
            "describe_dataset": {"name": DATASET},
            "search": {"corpus": CORPUS, "text": "forklift operator", "k": 2, "filter": {"state": "IL"}},
            "matrix_search": {
                "text": "truck driver",
                "corpora": [CORPUS],
                "sql": f"SELECT id FROM {DATASET} WHERE state = 'IL'",
            },
            "ask": {"question": "forklift operator in IL", "corpora": [CORPUS], "filter": {"state": "IL"}},
            "ingest_text": {"dataset": notes, "text": "id,note\n1,hello\n2,world\n", "format": "csv"},
            "record_playbook": {"query": f"forklift {tag}", "corpus": CORPUS, "item_id": "w1", "score": 0.9},
            "run_workflow": {"yaml": WORKFLOW, "inputs": {"word": tag}},
            "drift_report": {"kind": "playbook", "corpora": [CORPUS]},
            "drift_scorer": {"kind": "scorer"},
        }
        for key, args in calls.items():
            tool = {"escape": "sql", "drift_scorer": "drift_report"}.get(key, key)
            out[key] = await client.call_tool(tool, args)
        out["notes"] = await client.call_tool("sql", {"sql": f"SELECT count(*) FROM {notes}"})
        out["schema"] = await client.read_resource(f"dataset://{DATASET}/schema")
        listing = await client.call_tool("list_datasets", {})
        out["listing"] = listing
    return out


def _check(out: dict[str, Any], tag: str) -> None:
    assert {"sql", "list_datasets", "describe_dataset", "search", "matrix_search", "ask"} <= set(out["tools"])
    for key in ("sql", "list_datasets", "describe_dataset", "search", "matrix_search", "ask", "ingest_text"):
        assert not out[key].is_error, (key, out[key].content)
    for key in ("record_playbook", "run_workflow", "drift_report"):
        assert not out[key].is_error, (key, out[key].content)
    assert out["sql"].structured_content["rows"] == [["Ana"], ["Bo"]]
    assert out["sql"].structured_content["truncated"] is True

    escape = out["escape"]
    assert escape.is_error and escape.structured_content["reason"] == "SANDBOX_VIOLATION", escape.content
    assert escape.content[0].text.startswith("PERMISSION_DENIED SANDBOX_VIOLATION: ")

    names = {d["name"] for d in out["list_datasets"].structured_content["datasets"]}
    assert DATASET in names
    described = out["describe_dataset"].structured_content
    assert {c["name"] for c in described["columns"]} >= {"id", "name", "state", "bio"} and described["rows"] == 3

    hits = out["search"].structured_content["hits"]
    assert hits and hits[0]["id"] == "w1" and all(h["metadata"]["state"] == "IL" for h in hits)
    matrix = out["matrix_search"].structured_content
    assert matrix["hits"][0]["id"] == "w3" and {h["id"] for h in matrix["hits"]} <= {"w1", "w3"}
    assert matrix["sql_selected"] == 2
    ask = out["ask"].structured_content
    assert ask["mode"] == "extractive" and ask["citations"], ask

    assert out["ingest_text"].structured_content["rows"] == 2
    assert out["notes"].structured_content["rows"] == [[2]]
    entry = out["record_playbook"].structured_content
    assert entry["source"] == "mcp" and entry["item_id"] == "w1" and entry["id"]
    run = out["run_workflow"].structured_content
    assert run["status"] == "succeeded" and run["nodes"][0]["output"] == {"value": tag}, run
    drift = out["drift_report"].structured_content
    assert drift["kind"] == "playbook" and drift["total"] >= 1
    scorer = out["drift_scorer"]
    # Nothing scored yet: either an empty report or a refusal naming why, never a crash.
    assert scorer.structured_content is not None and ("reason" in scorer.structured_content) == scorer.is_error

    schema = json.loads(out["schema"].contents[0].text)
    assert schema["dataset"] == DATASET and {"name": "id", "type": "string", "nullable": True} in schema["columns"]


def test_every_tool_over_stdio(msystem) -> None:
    _check(anyio.run(_every_tool, _stdio(), "stdio"), "stdio")


def test_every_tool_over_streamable_http(msystem, http_url) -> None:
    _check(anyio.run(_every_tool, http_url, "http"), "http")


def test_every_tool_under_mcp_through_the_gateway(msystem) -> None:
    """Component `mcp` of `--services all`: Envoy routes the same port's /mcp to it."""
    _check(anyio.run(_every_tool, f"{msystem.rest}{msystem.settings.mcp.http_path}", "gw"), "gw")


def test_ops_made_through_mcp_are_recorded_with_source_mcp(msystem, http_url) -> None:
    """A unary call (GetDataset, refused), a streamed result (the sql rows) and a client
    stream (the ingest upload) each carry the header."""

    async def calls() -> Any:
        async with Client(http_url) as client:
            refused = await client.call_tool("describe_dataset", {"name": "mcp_no_such_dataset"})
            await client.call_tool("sql", {"sql": "SELECT 42"})
            await client.call_tool("ingest_text", {"dataset": "mcp_ops", "text": '{"a": 1}\n'})
            return refused

    refused = anyio.run(calls)
    assert refused.is_error and refused.structured_content["code"] == "NOT_FOUND"
    with msystem.client() as lh:
        ops = lh.list_ops(source="mcp", limit=1000).ops
        plain = lh.list_ops(source="grpc", method="GetDataset").ops
    assert all(op.source == "mcp" for op in ops)
    by_method = {(op.service.rsplit(".", 1)[-1], op.method) for op in ops}
    assert {("CatalogService", "GetDataset"), ("IngestService", "Ingest")} <= by_method, by_method
    assert any(service == "QueryService" for service, _ in by_method), by_method
    assert any(op.method == "GetDataset" and op.code == "NOT_FOUND" for op in ops)
    assert not any(op.attributes.get("dataset") == "mcp_no_such_dataset" for op in plain)
