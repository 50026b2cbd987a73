"""The `lakehouse` CLI as an operator uses it: up, status, ingest, sql, datasets, corpora,
search, embed, down."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from lakehouse.client import LakehouseClient
from lakehouse.gateway.process import free_port, pid_alive

CLI_TIMEOUT_S = 120


def _cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=check,
    )


def test_up_use_down(tmp_path):
    port = free_port()
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_PORT": str(port)}
    up = _cli(env, "up")
    try:
        assert f"127.0.0.1:{port}" in up.stdout
        # `up` returned, so the system must already answer.
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health").json()["status"] == "SERVING"
        status = json.loads(_cli(env, "status", "--json").stdout)
        assert status["running"] and status["health"]["status"] == "SERVING"
        # By default a table: the one server process with every component, its services, Envoy.
        summary = _cli(env, "status").stdout.splitlines()
        rows = [[cell.strip() for cell in line.split(" | ")] for line in summary]
        every = "system,storage,catalog,ingest,query,models,vector,matrix"
        assert [every, status["grpc_upstream"], str(status["server_pid"]), "serving"] in rows
        assert ["lakehouse.v1.QueryService", "", "", "serving"] in rows
        assert rows[-2] == ["gateway (envoy)", f"127.0.0.1:{port}", str(status["envoy_pid"]), "serving"]
        assert summary[-1] == "1 upstream serving"
        # Everything lives under LAKEHOUSE_HOME.
        assert (tmp_path / "home" / "run" / "state.json").exists()

        csv = tmp_path / "people.csv"
        csv.write_text("id,name,state\n1,ann,IL\n2,bo,WI\n3,cy,IL\n")
        summary = _cli(env, "ingest", "people", str(csv), "--format", "csv").stdout.splitlines()
        assert (
            summary[0].startswith(f"people v1 (append): 3 rows, {csv.stat().st_size} B in -> ")
            and " 1 file, " in summary[0]
        )
        assert summary[1:] == ["  header: detected"]  # no schema dump
        again = json.loads(_cli(env, "ingest", "people", str(csv), "--format", "csv", "--json").stdout)
        assert again["rows"] == "3" and again["version"] == "1" and again["deduplicated"] is True
        # Integers print as integers (the Arrow type), not as the JSON double 3.0.
        table = _cli(env, "sql", "SELECT count(*) AS n, avg(id) AS mean FROM people").stdout.splitlines()
        assert [line.split() for line in table[::2]] == [["n", "|", "mean"], ["3", "|", "2.0"]]
        out = _cli(
            env,
            "sql",
            "SELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state",
            "--output",
            "json",
        ).stdout
        assert json.loads(out)["rows"] == [["IL", 2], ["WI", 1]] and '["IL", 2]' in out
        out = _cli(env, "sql", "SELECT id FROM people ORDER BY id", "--max-rows", "2", "--json").stdout
        assert json.loads(out)["rows"] == [[1], [2]] and json.loads(out)["truncated"] is True
        capped = _cli(env, "sql", "SELECT id FROM people ORDER BY id", "--max-rows", "2")
        assert capped.stdout.split()[2:] == ["1", "2"] and "(truncated at 2 rows)" in capped.stderr
        assert "people" in _cli(env, "datasets").stdout
        listed = json.loads(_cli(env, "datasets", "--json").stdout)
        assert [d["name"] for d in listed["datasets"]] == ["people"]
        assert _cli(env, "datasets", "people").stdout.startswith("people v1: 3 rows")

        # Read options: a title line, no header, NA nulls, names given.
        shifts = tmp_path / "shifts.csv"
        shifts.write_text("Shift export\n1,ann,7.5\n2,NA,8.0\n3,cy,6.5\n")
        args = ["--skip", "1", "--header", "false", "--null", "NA", "--column", "id", "--column", "who"]
        ingested = json.loads(_cli(env, "ingest", "shifts", str(shifts), *args, "--column", "hours", "--json").stdout)
        assert ingested["rows"] == "3" and ingested["header"] == "given" and ingested["skipped_lines"] == "1"
        assert [f["name"] for f in ingested["schema"]["fields"]] == ["id", "who", "hours"]
        assert ingested["read_options"]["null"] == ["NA"] and ingested["read_options"]["skip"] == "1"
        out = _cli(env, "sql", "SELECT count(who) AS named FROM shifts", "--output", "json").stdout
        assert json.loads(out)["rows"] == [[2]]
        refused = _cli(env, "ingest", "shifts2", str(shifts), "--format", "csv", check=False)
        assert refused.returncode == 1 and "CSV_DIALECT_NOT_FOUND" in refused.stderr and "skip=1" in refused.stderr
        bad = _cli(env, "sql", "SELECT * FROM missing_table", check=False)
        assert bad.returncode == 1 and "NOT_FOUND" in bad.stderr

        # Corpora, search, embed; "local" alone names the local provider's default model.
        created = _cli(
            env, "corpora", "create", "notes", "--model", "local", "--description", "shift notes", "--tag", "notes"
        ).stdout
        assert created == "created notes\t0 items\tlocal/all-MiniLM-L6-v2\t384-d cosine\t#notes\tshift notes\n"
        with LakehouseClient(f"127.0.0.1:{port}") as lh:
            items = [
                {"id": "a", "text": "forklift operator in a warehouse", "metadata": {"text": "forklift operator"}},
                {"id": "b", "text": "registered nurse on the night shift", "metadata": {"team": "care"}},
            ]
            lh.add_items("notes", items)
        assert (
            _cli(env, "corpora").stdout == "notes\t2 items\tlocal/all-MiniLM-L6-v2\t384-d cosine\t#notes\tshift notes\n"
        )
        assert _cli(env, "corpora", "notes").stdout.startswith("notes\t2 items")
        assert json.loads(_cli(env, "corpora", "show", "notes", "--json").stdout)["count"] == "2"
        hits = _cli(env, "search", "notes", "someone who drives a forklift", "--k", "1").stdout.splitlines()
        assert len(hits) == 1 and hits[0].split("\t")[1:] == ["a", "forklift operator in a warehouse"]
        across = _cli(env, "search", "someone who drives a forklift", "--k", "1").stdout.splitlines()  # the matrix
        assert len(across) == 1 and across[0].split("\t")[1:] == ["notes", "a", "forklift operator in a warehouse"]
        unknown = _cli(env, "search", "forklift", "--corpora", "notes,nowhere", check=False)
        assert unknown.returncode == 1 and "CORPUS_NOT_FOUND" in unknown.stderr and "nowhere" in unknown.stderr
        care = _cli(env, "search", "notes", "forklift", "--filter", '{"team": "care"}').stdout.splitlines()
        assert [line.split("\t")[1] for line in care] == ["b"]
        bad_filter = _cli(env, "search", "notes", "x", "--filter", '{"team": {"gte": "care"}}', check=False)
        assert bad_filter.returncode == 1 and "filter.team.gte" in bad_filter.stderr
        not_json = _cli(env, "search", "notes", "x", "--filter", "{team", check=False)
        assert not_json.returncode == 2 and "--filter: not JSON" in not_json.stderr
        assert float(hits[0].split("\t")[0]) > 0
        found = json.loads(_cli(env, "search", "notes", "nurse", "--json").stdout)
        assert [r["id"] for r in found["results"]][0] == "b"
        # Playbook: record, bulk (one bad entry reported, the rest recorded), list, stats, delete.
        rec = _cli(env, "playbook", "record", "--query", "forklift", "--corpus", "notes", "--item", "a", "--id", "p1")
        assert "\tsuccess 1.00\tnotes/a\tp1\tforklift" in rec.stdout
        lines = [
            {"query": "nurse", "corpus": "notes", "item_id": "b", "id": "p2"},
            {"query": "x", "corpus": "notes", "item_id": "zz"},
        ]
        bulk_file = tmp_path / "entries.ndjson"
        bulk_file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
        bulk = _cli(env, "playbook", "bulk", str(bulk_file), check=False)
        assert bulk.returncode == 1 and "recorded 1, failed 1" in bulk.stdout
        assert "entry 2: NOT_FOUND ITEM_NOT_FOUND entries[1].item_id" in bulk.stderr
        assert [line.split("\t")[3] for line in _cli(env, "playbook", "list").stdout.splitlines()] == ["p2", "p1"]
        learned = _cli(env, "search", "nurse", "--corpora", "notes", "--use-playbook", "--k", "1").stdout
        assert learned.split("\t")[1:3] == ["notes", "b"] and learned.split("\t")[0].endswith("+0.50")
        assert _cli(env, "playbook", "stats").stdout.startswith("2 entries\n  notes\tsuccess\t2 entries, 2 items")
        past = tmp_path / "past.csv"
        past.write_text("who,need,n\na,forklift driver,1\nb,night nurse,2\nzz,welder,3\n")
        _cli(env, "ingest", "past", str(past))
        imported = _cli(
            env,
            "playbook",
            "import",
            "past",
            "--query-column",
            "need",
            "--item-column",
            "who",
            "--corpus",
            "notes",
            check=False,
        )
        assert imported.returncode == 1 and "recorded 2, failed 1" in imported.stdout
        assert "entry 3: NOT_FOUND ITEM_NOT_FOUND rows[2].item_id" in imported.stderr
        bad_map = _cli(
            env,
            "playbook",
            "import",
            "past",
            "--query-column",
            "need",
            "--item-column",
            "nobody",
            "--corpus",
            "notes",
            check=False,
        )
        assert bad_map.returncode == 1 and "UNKNOWN_COLUMN" in bad_map.stderr
        assert _cli(env, "playbook", "delete", "--corpus", "notes", "--item", "a").stdout == "deleted 2 entries\n"
        bad = _cli(
            env, "playbook", "record", "--query", "q", "--corpus", "notes", "--item", "a", "--score", "3", check=False
        )
        assert bad.returncode == 1 and "INVALID_PLAYBOOK_ENTRY" in bad.stderr
        embedded = _cli(env, "embed", "hello world", "nurse").stdout.splitlines()
        assert embedded[0] == "local/all-MiniLM-L6-v2, 384 dimensions" and len(embedded) == 3
        assert embedded[1].startswith("[") and embedded[1].endswith("...]\thello world")
        vectors = json.loads(_cli(env, "embed", "hello world", "--json").stdout)
        assert vectors["dimension"] == 384 and len(vectors["embeddings"][0]["values"]) == 384
        assert _cli(env, "corpora", "delete", "notes").stdout == "deleted corpus notes\n"
        left = json.loads(_cli(env, "corpora", "list", "--json").stdout)["corpora"]
        assert [c["name"] for c in left] == ["playbooks"]  # the playbook's own corpus stays
        gone = _cli(env, "corpora", "notes", check=False)
        assert gone.returncode == 1 and "CORPUS_NOT_FOUND" in gone.stderr
    finally:
        state = json.loads((tmp_path / "home" / "run" / "state.json").read_text())
        assert "stopped" in _cli(env, "down").stdout
    assert not pid_alive(state["server_pid"]) and not pid_alive(state["envoy_pid"])
    stopped = _cli(env, "status", check=False)
    assert stopped.returncode == 1 and stopped.stdout.startswith("not running")
    stopped = _cli(env, "status", "--json", check=False)
    assert stopped.returncode == 1 and json.loads(stopped.stdout) == {"running": False}


def test_gateway_fronts_running_servers_and_their_http_components(tmp_path):
    """`lakehouse gateway` in front of an already-running server: gRPC and REST to its
    address, `/` to its UI and `/mcp` to its MCP server, each given as an upstream."""
    import signal
    import time

    from lakehouse.servers.supervisor import ready_info
    from tests.support.system import System

    system = System.start(tmp_path / "home")
    try:
        ready = ready_info(system.settings)
        port = free_port()
        env = {**os.environ, **system.env, "LAKEHOUSE_PORT": str(port)}
        bad = _cli(env, "gateway", "--upstream", "nope=127.0.0.1:1", check=False)
        assert bad.returncode == 2 and "unknown component 'nope'" in bad.stderr
        upstreams = [f"all={ready['address']}", f"ui={ready['http']['ui']}", f"mcp={ready['http']['mcp']}"]
        args = [arg for u in upstreams for arg in ("--upstream", u)]
        proc = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "gateway", *args], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/v1/health", timeout=2).json()["status"] == "SERVING":
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "the gateway did not come up"
                time.sleep(0.1)
            assert "<title>" in httpx.get(f"{base}/sql", timeout=30).text
            initialize = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            }
            accept = {"Accept": "application/json, text/event-stream"}
            mcp = httpx.post(f"{base}{system.settings.mcp.http_path}", json=initialize, headers=accept, timeout=30)
            assert mcp.status_code == 200 and "mcp-session-id" in mcp.headers, mcp.text
        finally:
            proc.send_signal(signal.SIGTERM)  # as a service manager stops it: Envoy goes with it
            try:
                proc.wait(timeout=30)
            finally:
                _kill_leftovers(proc, system.settings.run_dir / "gateway.yaml")
        assert proc.returncode == 0
        with pytest.raises(httpx.ConnectError):  # its Envoy is gone too
            httpx.get(f"{base}/v1/health", timeout=5)
    finally:
        system.stop()


def _kill_leftovers(proc, envoy_config) -> None:
    """A gateway that did not stop, and its Envoy: never left behind by a failed test."""
    import psutil

    if proc.poll() is None:
        proc.kill()
    for other in psutil.process_iter(["cmdline"]):
        if str(envoy_config) in " ".join(other.info["cmdline"] or ()):
            other.kill()
