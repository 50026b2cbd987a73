"""MCP over streamable HTTP under `/mcp` through Envoy with auth on, driven by the SDK's own
client: a request without a key, or with one the services refuse, is a 401 JSON refusal
before any MCP session; each agent's tool calls carry its own key, so a reader bound to one
dataset sees only that one, writes need a writer, a key revoked mid-session is refused on
its next call, the ops are recorded under the agent's principal with source "mcp", and
guessing keys blocks only the guesser's address."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from lakehouse.api.auth import Profile
from tests.support.rest import bearer, error_reason
from tests.support.system import System

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}
MAX_FAILURES = 5  # more than the other tests' refused keys from this host
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def msystem(tmp_path_factory):
    env = {"LAKEHOUSE_AUTH__ENABLED": "true", "LAKEHOUSE_AUTH__MAX_FAILURES": str(MAX_FAILURES)}
    system = System.start(tmp_path_factory.mktemp("mcp-auth-home"), env)
    yield system
    system.stop()


@pytest.fixture(scope="module")
def admin_key(msystem) -> str:
    return msystem.settings.auth_bootstrap_key_file.read_text().strip()


@pytest.fixture(scope="module")
def agent_key(msystem, admin_key) -> str:
    with msystem.client(api_key=admin_key) as lh:
        lh.ingest("open_rows", b"id,name\n1,Ana\n2,Bo\n", format="csv")
        lh.ingest("secret_rows", b"id,salary\n1,1000\n", format="csv")
        lh.auth.create_principal("agent")
        lh.auth.create_profile(Profile("agent-open", "agent", "reader", datasets=("open_rows",)))
        return lh.auth.create_key("agent", description="mcp tests").secret


@pytest.fixture(scope="module")
def url(msystem) -> str:
    return f"{msystem.rest}{msystem.settings.mcp.http_path}"


def _client(url: str, key: str) -> Client:
    http = create_mcp_http_client(headers=bearer(key))
    return Client(streamable_http_client(url, http_client=http))


def _names(result: Any) -> set[str]:
    return {d["name"] for d in result.structured_content["datasets"]}


def test_a_request_without_a_key_or_with_an_unknown_one_is_a_401_before_any_session(url):
    missing = httpx.post(url, json=INITIALIZE, headers=MCP_ACCEPT, timeout=30)
    assert missing.status_code == 401 and error_reason(missing) == "KEY_MISSING", missing.text
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "mcp-session-id" not in missing.headers
    unknown = httpx.post(url, json=INITIALIZE, headers={**MCP_ACCEPT, **bearer("lh_nope_nope")}, timeout=30)
    assert unknown.status_code == 401 and error_reason(unknown) == "KEY_UNKNOWN", unknown.text


def test_each_agent_sees_what_its_key_holds(msystem, url, admin_key, agent_key):
    async def calls() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with _client(url, agent_key) as agent, _client(url, admin_key) as admin:
            out["agent_list"] = await agent.call_tool("list_datasets", {})
            out["admin_list"] = await admin.call_tool("list_datasets", {})
            out["agent_sql"] = await agent.call_tool("sql", {"sql": "SELECT name FROM open_rows ORDER BY id"})
            out["agent_secret"] = await agent.call_tool("sql", {"sql": "SELECT * FROM secret_rows"})
            out["agent_write"] = await agent.call_tool("ingest_text", {"dataset": "open_rows", "text": '{"id": 3}\n'})
            out["admin_secret"] = await admin.call_tool("sql", {"sql": "SELECT salary FROM secret_rows"})
        return out

    out = anyio.run(calls)
    assert _names(out["agent_list"]) == {"open_rows"}
    assert _names(out["admin_list"]) >= {"open_rows", "secret_rows"}
    assert out["agent_sql"].structured_content["rows"] == [["Ana"], ["Bo"]]
    secret = out["agent_secret"]
    assert secret.is_error and secret.structured_content["code"] == "NOT_FOUND", secret.content
    write = out["agent_write"]
    assert write.is_error and write.structured_content["code"] == "PERMISSION_DENIED", write.content
    assert out["admin_secret"].structured_content["rows"] == [[1000]]
    with msystem.client(api_key=admin_key) as lh:
        ops = lh.list_ops(source="mcp", limit=1000).ops
    assert {"agent"} <= {op.profile for op in ops}
    assert any(op.profile == "agent" and op.method == "Sql" for op in ops)


def test_a_key_revoked_mid_session_is_refused_from_its_next_call(msystem, url, admin_key):
    with msystem.client(api_key=admin_key) as lh:
        made = lh.auth.create_key("agent", description="to revoke")

    async def calls() -> tuple[Any, Any]:
        async with _client(url, made.secret) as agent:
            before = await agent.call_tool("list_datasets", {})
            with msystem.client(api_key=admin_key) as lh:
                lh.auth.revoke_key(made.key.key_id)
            return before, await agent.call_tool("list_datasets", {})

    before, after = anyio.run(calls)
    assert not before.is_error
    assert after.is_error and after.structured_content["reason"] == "KEY_REVOKED", after.content
    again = httpx.post(url, json=INITIALIZE, headers={**MCP_ACCEPT, **bearer(made.secret)}, timeout=30)
    assert again.status_code == 401 and error_reason(again) == "KEY_REVOKED", again.text


def test_guessing_keys_blocks_the_guesser_not_every_agent(msystem, url, admin_key, agent_key):
    """Refused keys count against the agent's address (x-forwarded-for), not the MCP server's."""
    with msystem.client(api_key=admin_key) as lh:
        fresh = lh.auth.create_key("agent", description="checked after the guessing").secret
    guesser = {**MCP_ACCEPT, "x-forwarded-for": "203.0.113.9"}
    codes = [
        httpx.post(url, json=INITIALIZE, headers={**guesser, **bearer(f"lh_{i:016x}.guess")}, timeout=30).status_code
        for i in range(MAX_FAILURES + 1)
    ]
    assert codes[:MAX_FAILURES] == [401] * MAX_FAILURES and codes[-1] == 429, codes
    other = {**MCP_ACCEPT, "x-forwarded-for": "203.0.113.10", **bearer(fresh)}
    assert httpx.post(url, json=INITIALIZE, headers=other, timeout=30).status_code == 200
