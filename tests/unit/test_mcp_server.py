"""The MCP tool layer over a fake client, through the SDK's own in-process client: every
tool is listed with input and output schemas, outputs are structured and capped by
McpSettings, a refused call is a tool error carrying the reason (and the session goes on),
and the resources read. The channel's fixed metadata reaches a real gRPC server."""

from __future__ import annotations

import json
from concurrent import futures
from datetime import UTC, datetime
from typing import Any

import anyio
import grpc
import pytest
from google.protobuf import json_format
from mcp import Client

from lakehouse.api.distillation import DriftReport
from lakehouse.api.drift import PlaybookDriftReport
from lakehouse.api.errors import NotFound, PermissionDenied
from lakehouse.api.observer import SOURCE_HEADER
from lakehouse.api.query import Rows
from lakehouse.api.workflows import NodeResult, WorkflowInfo, WorkflowListing, WorkflowRun
from lakehouse.client import LakehouseClient
from lakehouse.gateway.process import free_port
from lakehouse.servers.mcp.server import OneClient, build_server, client_options
from lakehouse.servers.mcp.tools import EMPTY_TEXT, NO_WORKFLOW, TEXT_TOO_LARGE, LakehouseTools
from lakehouse.servers.settings import McpSettings
from lakehouse.v1 import ask_pb2, catalog_pb2, ingest_pb2, matrix_pb2, system_pb2, vector_pb2

NOW = datetime(2026, 1, 2, tzinfo=UTC)
SETTINGS = McpSettings(max_rows=3, max_hits=2, max_text_chars=5, max_ingest_bytes=64)


def _dataset(name: str) -> catalog_pb2.Dataset:
    version = catalog_pb2.DatasetVersion(
        dataset=name,
        version=2,
        base_rows=10,
        size_bytes=999,
        primary_key=["id"],
        schema=catalog_pb2.Schema(fields=[catalog_pb2.Field(name="id", type="BIGINT", nullable=False)]),
    )
    d = catalog_pb2.Dataset(name=name, current=version, version_count=2)
    d.update_time.FromDatetime(NOW)
    return d


class _Drift:
    def playbook_drift(self, query):
        return PlaybookDriftReport("run1", NOW, 5, entries=4, drifted=1, rate=0.25, corpora=(), worst=())


class _Distillation:
    def drift(self, request):
        return DriftReport("rep1", request.scorer_version or "v1", total=8, drifted=2, drift_rate=0.25, shifts=())


class FakeClient:
    """The LakehouseClient methods the tools call; ``calls`` records what they were asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.drift = _Drift()
        self.distillation = _Distillation()

    def sql(self, sql: str, *, max_rows: int = 0) -> Rows:
        self.calls.append(("sql", max_rows))
        if "read_csv" in sql:
            raise PermissionDenied("file access is not allowed", reason="SANDBOX_VIOLATION")
        return Rows(columns=[("n", "BIGINT")], rows=[[i] for i in range(max_rows)], truncated=True)

    def list_datasets(self):
        return [_dataset("a"), _dataset("b")]

    def get_dataset(self, name: str):
        if name != "a":
            raise NotFound(f"no dataset {name}", reason="DATASET_NOT_FOUND")
        return _dataset(name)

    def search(self, corpus: str, *, text: str, k: int, filter):  # noqa: A002
        self.calls.append(("search", (k, filter)))
        results = [vector_pb2.SearchResult(id=str(i), score=1.0, text="abcdefghij") for i in range(4)]
        return vector_pb2.SearchResponse(results=results, generation=1)

    def matrix_search(self, text: str, *, corpora, **options):
        self.calls.append(("matrix_search", (corpora, options)))
        return matrix_pb2.MatrixSearchResponse(
            results=[matrix_pb2.MatrixResult(corpus="c", id="x", score=0.5, fused_score=0.1)], mode="fast"
        )

    def ask(self, question: str, **options):
        self.calls.append(("ask", options))
        resp = ask_pb2.AskResponse(answer="Ana [1]", mode="extractive", grounded=True)
        resp.citations.add(n=1, corpus="c", id="x", snippet="a long snippet")
        resp.retrieval.filter.update({"state": "IL"})
        resp.retrieval.filter_source = "derived"
        return resp

    def ingest(self, dataset: str, body: bytes, *, format: str, mode: str, primary_key):  # noqa: A002
        self.calls.append(("ingest", (body, format, mode, tuple(primary_key))))
        return ingest_pb2.IngestResult(
            dataset=dataset, version=1, mode=mode, rows=2, schema=_dataset("a").current.schema
        )

    def record_playbook_entry(self, entry: dict):
        self.calls.append(("record_playbook_entry", entry))
        pb = json_format.ParseDict(entry, matrix_pb2.PlaybookEntry())
        pb.id = "e1"
        return pb

    def run_workflow(self, name: str, *, yaml: str, inputs: dict):
        node = NodeResult("say", "succeeded", "mode", output={"value": inputs.get("v")})
        return WorkflowRun("r1", name or "inline", "succeeded", NOW, (node,))

    def list_workflows(self):
        return WorkflowListing([WorkflowInfo("flow", "does things", "builtin", ("a", "b"), ("v",))], [])


async def _session(fake: FakeClient, scenario) -> Any:
    async with Client(build_server(OneClient(fake), SETTINGS)) as client:
        return await scenario(client)


def run(scenario, fake: FakeClient | None = None) -> Any:
    return anyio.run(_session, fake or FakeClient(), scenario)


def test_every_tool_is_listed_with_input_and_output_schemas() -> None:
    async def scenario(client):
        return (await client.list_tools()).tools

    tools = {t.name: t for t in run(scenario)}
    assert list(tools) == list(LakehouseTools.NAMES)
    for tool in tools.values():
        assert tool.description and tool.input_schema["type"] == "object"
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
    assert tools["sql"].input_schema["required"] == ["sql"]
    assert tools["sql"].annotations.read_only_hint and not tools["ingest_text"].annotations.read_only_hint
    assert tools["ingest_text"].input_schema["properties"]["format"]["enum"] == ["ndjson", "csv"]


def test_sql_rows_are_capped_and_structured() -> None:
    fake = FakeClient()

    async def scenario(client):
        return await client.call_tool("sql", {"sql": "SELECT 1", "max_rows": 100}), await client.call_tool(
            "sql", {"sql": "SELECT 1", "max_rows": 2}
        )

    capped, fewer = run(scenario, fake)
    assert not capped.is_error
    assert capped.structured_content == {
        "columns": [{"name": "n", "type": "BIGINT"}],
        "rows": [[0], [1], [2]],
        "row_count": 3,
        "truncated": True,
    }
    assert fewer.structured_content["row_count"] == 2
    assert fake.calls == [("sql", 3), ("sql", 2)]


def test_a_refused_call_is_a_tool_error_with_its_reason_and_the_session_goes_on() -> None:
    async def scenario(client):
        refused = await client.call_tool("sql", {"sql": "SELECT * FROM read_csv('/etc/passwd')"})
        missing = await client.call_tool("describe_dataset", {"name": "nope"})
        after = await client.call_tool("describe_dataset", {"name": "a"})
        return refused, missing, after

    refused, missing, after = run(scenario)
    assert refused.is_error
    assert refused.content[0].text == "PERMISSION_DENIED SANDBOX_VIOLATION: file access is not allowed"
    assert refused.structured_content["reason"] == "SANDBOX_VIOLATION"
    assert missing.is_error and missing.structured_content["code"] == "NOT_FOUND"
    assert not after.is_error and after.structured_content["columns"] == [{"name": "id", "type": "BIGINT"}]


def test_ingest_text_refuses_empty_and_oversized_text_before_calling() -> None:
    fake = FakeClient()

    async def scenario(client):
        empty = await client.call_tool("ingest_text", {"dataset": "d", "text": "  \n"})
        large = await client.call_tool("ingest_text", {"dataset": "d", "text": "x" * 65})
        ok = await client.call_tool(
            "ingest_text", {"dataset": "d", "text": "id\n1\n", "format": "csv", "mode": "upsert", "primary_key": ["id"]}
        )
        bad_format = await client.call_tool("ingest_text", {"dataset": "d", "text": "id\n1\n", "format": "xml"})
        return empty, large, ok, bad_format

    empty, large, ok, bad_format = run(scenario, fake)
    assert empty.is_error and empty.structured_content["reason"] == EMPTY_TEXT
    assert large.is_error and large.structured_content["reason"] == TEXT_TOO_LARGE
    assert large.structured_content["violations"][0]["field"] == "text"
    assert ok.structured_content["rows"] == 2
    assert bad_format.is_error  # the SDK's own input validation
    assert fake.calls == [("ingest", (b"id\n1\n", "csv", "upsert", ("id",)))]


def test_retrieval_tools_cap_hits_and_texts() -> None:
    fake = FakeClient()

    async def scenario(client):
        search = await client.call_tool("search", {"corpus": "c", "text": "q", "k": 10, "filter": {"state": "IL"}})
        matrix = await client.call_tool("matrix_search", {"text": "q", "corpora": ["c"], "sql": "SELECT id FROM t"})
        ask = await client.call_tool("ask", {"question": "q", "filter": {}})
        return search, matrix, ask

    search, matrix, ask = run(scenario, fake)
    assert [h["text"] for h in search.structured_content["hits"]] == ["abcde", "abcde"]
    assert matrix.structured_content["hits"][0]["corpus"] == "c"
    assert ask.structured_content["citations"][0]["snippet"] == "a lon"
    assert ask.structured_content["filter"] == {"state": "IL"}
    assert fake.calls[0] == ("search", (2, {"state": "IL"}))
    assert fake.calls[1][1][1]["sql"] == "SELECT id FROM t"
    assert fake.calls[2] == ("ask", {"k": 0, "sql": "", "filter": {}})


def test_playbook_workflow_and_drift_tools() -> None:
    fake = FakeClient()

    async def scenario(client):
        entry = await client.call_tool("record_playbook", {"query": "q", "corpus": "c", "item_id": "x"})
        flow = await client.call_tool("run_workflow", {"name": "flow", "inputs": {"v": 3}})
        nothing = await client.call_tool("run_workflow", {})
        playbook = await client.call_tool("drift_report", {"kind": "playbook"})
        scorer = await client.call_tool("drift_report", {"kind": "scorer", "scorer_version": "v2"})
        return entry, flow, nothing, playbook, scorer

    entry, flow, nothing, playbook, scorer = run(scenario, fake)
    assert entry.structured_content["source"] == "mcp" and entry.structured_content["id"] == "e1"
    assert flow.structured_content["nodes"][0]["output"] == {"value": 3}
    assert nothing.is_error and nothing.structured_content["reason"] == NO_WORKFLOW
    assert playbook.structured_content["rate"] == 0.25 and playbook.structured_content["report"]["k"] == 5
    assert scorer.structured_content["report"]["scorer_version"] == "v2"


def test_resources_read_a_schema_and_a_workflow() -> None:
    async def scenario(client):
        templates = (await client.list_resource_templates()).resource_templates
        schema = await client.read_resource("dataset://a/schema")
        flow = await client.read_resource("workflow://flow")
        return templates, schema, flow

    templates, schema, flow = run(scenario)
    assert {t.uri_template for t in templates} == {"dataset://{name}/schema", "workflow://{name}"}
    assert json.loads(schema.contents[0].text)["columns"] == [{"name": "id", "type": "BIGINT", "nullable": False}]
    assert json.loads(flow.contents[0].text)["nodes"] == ["a", "b"]


def test_an_unknown_resource_is_an_error_not_a_crash() -> None:
    async def scenario(client):
        with pytest.raises(Exception) as info:
            await client.read_resource("workflow://nope")
        return info.value, await client.read_resource("dataset://a/schema")

    error, after = run(scenario)
    assert "WORKFLOW_NOT_FOUND" in str(error) or "nope" in str(error)
    assert after.contents


def test_the_client_sends_its_metadata_on_every_call() -> None:
    seen: list[tuple[str, str]] = []

    def health(request, context):
        seen.extend(context.invocation_metadata())
        return system_pb2.GetHealthResponse()

    handler = grpc.method_handlers_generic_handler(
        "lakehouse.v1.SystemService",
        {
            "GetHealth": grpc.unary_unary_rpc_method_handler(
                health,
                request_deserializer=system_pb2.GetHealthRequest.FromString,
                response_serializer=system_pb2.GetHealthResponse.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with LakehouseClient(f"127.0.0.1:{port}", metadata=[(SOURCE_HEADER, "mcp")]) as lh:
            lh.health()
    finally:
        server.stop(None)
    assert (SOURCE_HEADER, "mcp") in seen


def test_the_client_is_marked_as_mcp_and_carries_the_configured_key() -> None:
    assert client_options(McpSettings()) == {"timeout_s": 300.0, "metadata": ((SOURCE_HEADER, "mcp"),), "api_key": None}
    assert client_options(McpSettings(api_key="lh_secret"))["api_key"] == "lh_secret"
    assert "lh_secret" not in repr(McpSettings(api_key="lh_secret"))


def test_a_system_that_is_down_is_a_tool_error() -> None:
    with LakehouseClient(f"127.0.0.1:{free_port()}", timeout_s=5) as lh:

        async def scenario(client):
            return await client.call_tool("sql", {"sql": "SELECT 1"}), await client.call_tool("list_datasets", {})

        async def session():
            async with Client(build_server(OneClient(lh), SETTINGS)) as client:
                return await scenario(client)

        down, again = anyio.run(session)
    assert down.is_error and down.structured_content["code"] == "UNAVAILABLE", down.content
    assert again.is_error and again.structured_content["reason"] == "UPSTREAM_UNAVAILABLE"
