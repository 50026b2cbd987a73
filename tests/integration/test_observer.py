"""ObserverService end to end (one server process + Envoy): REST and gRPC calls recorded
with their source, a failure with its code and reason, the journal as ``_ops`` through
REST SQL, ListOps and GetStats over REST and gRPC, a live tail, the CLI, and /v1/errors."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import httpx
import pytest

from lakehouse.api.errors import InvalidArgument
from tests.support.system import System

WAIT_S = 15.0
CLI_TIMEOUT_S = 60
FLUSH_S = 0.3


@pytest.fixture(scope="module")
def osystem(tmp_path_factory):
    system = System.start(
        tmp_path_factory.mktemp("observer-home"), {"LAKEHOUSE_OBSERVER__FLUSH_INTERVAL_S": str(FLUSH_S)}
    )
    yield system
    system.stop()


@pytest.fixture(scope="module")
def rest(osystem):
    with httpx.Client(base_url=osystem.rest, timeout=WAIT_S) as client:
        yield client


def eventually(fetch, timeout_s: float = WAIT_S):
    """``fetch()`` until it returns something truthy (a stream's op is recorded once the
    server ends it, and the journal once it flushed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = fetch()
        if got:
            return got
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sql(rest, text: str) -> httpx.Response:
    return rest.post("/v1/sql", json={"sql": text})


def test_rest_and_grpc_calls_are_recorded_with_their_source(osystem, rest):
    assert sql(rest, "SELECT 'via rest' AS marker").status_code == 200
    with osystem.client() as lh:
        lh.sql("SELECT 'via grpc' AS marker")
        by_rest = eventually(
            lambda: [
                o for o in lh.list_ops(method="Sql", source="rest").ops if "via rest" in o.attributes.get("sql", "")
            ]
        )
        by_grpc = eventually(
            lambda: [
                o for o in lh.list_ops(method="Sql", source="grpc").ops if "via grpc" in o.attributes.get("sql", "")
            ]
        )
    for op in (by_rest[0], by_grpc[0]):
        assert op.service == "lakehouse.v1.QueryService" and op.code == "OK" and op.latency_ms > 0
        assert op.request_bytes > 0 and op.response_bytes > 0 and op.attributes["rows"] == "1"


def test_a_failing_call_records_its_code_and_reason(osystem, rest):
    assert sql(rest, "SELEC broken").status_code == 400
    with osystem.client() as lh:
        failed = eventually(lambda: lh.list_ops(service="QueryService", status="error", source="rest").ops)
    assert (failed[0].code, failed[0].reason) == ("INVALID_ARGUMENT", "SQL_SYNTAX")
    assert failed[0].attributes["sql"] == "SELEC broken"


def test_the_journal_is_queryable_as_ops_through_rest(rest):
    sql(rest, "SELECT 'journaled' AS marker")
    query = (
        "SELECT service, method, source, code, attributes['sql'] AS sql FROM _ops "
        "WHERE attributes['sql'] LIKE '%journaled%' AND method = 'Sql' AND sql NOT LIKE '%_ops%'"
    )

    def found():
        reply = sql(rest, query)
        assert reply.status_code == 200, reply.text
        return reply.json()["rows"]

    assert eventually(found)[0] == ["lakehouse.v1.QueryService", "Sql", "rest", "OK", "SELECT 'journaled' AS marker"]


def test_list_ops_and_stats_over_rest(rest):
    sql(rest, "SELECT 2")
    listed = eventually(lambda: rest.get("/v1/observer/ops", params={"method": "Sql", "limit": 3}).json().get("ops"))
    assert 1 <= len(listed) <= 3 and all(o["method"] == "Sql" for o in listed)
    times = [o["time"] for o in listed]
    assert times == sorted(times, reverse=True)
    stats = rest.get("/v1/observer/stats", params={"window_s": 600}).json()
    sql_rest = [m for m in stats["methods"] if m["method"] == "Sql" and m["source"] == "rest"]
    assert sql_rest and int(sql_rest[0]["count"]) >= 2 and sql_rest[0]["p99_ms"] >= sql_rest[0]["p50_ms"] > 0
    assert int(sql_rest[0]["errors"]["INVALID_ARGUMENT"]) >= 1 and int(stats["recorded"]) > 0
    bad = rest.get("/v1/observer/ops", params={"source": "pigeon"})
    assert bad.status_code == 400 and "INVALID_SOURCE" in bad.text
    # The observer's own reads are not recorded.
    assert not [
        o
        for o in rest.get("/v1/observer/ops", params={"limit": 50}).json()["ops"]
        if o["service"].endswith("ObserverService")
    ]


def test_a_tail_receives_a_new_op(osystem, rest):
    received: queue.Queue = queue.Queue()
    with osystem.client() as lh:
        tail = lh.tail_ops(method="Sql", status="error")

        def follow() -> None:
            for op in tail:
                received.put(op)
                return

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        # The tail follows ops recorded after it starts: keep failing until one arrives.
        deadline = time.monotonic() + WAIT_S
        while received.empty():
            assert time.monotonic() < deadline, "the tail saw nothing"
            sql(rest, "SELECT * FROM no_such_dataset")
            time.sleep(0.1)
        op = received.get()
        tail.close()
    assert op.method == "Sql" and op.code == "NOT_FOUND" and op.source == "rest"
    with osystem.client() as lh, pytest.raises(InvalidArgument):
        next(lh.tail_ops(source="pigeon"))


def test_cli_ops_and_stats(osystem, rest):
    sql(rest, "SELECT 'for the cli' AS marker")
    env = {**os.environ, **osystem.env}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", *args], env=env, capture_output=True, text=True,
            timeout=CLI_TIMEOUT_S, check=True,
        )  # fmt: skip
        return done.stdout

    listed = json.loads(cli("ops", "--method", "Sql", "--source", "rest", "--since", "10m", "--limit", "50", "--json"))
    assert any("for the cli" in o["attributes"].get("sql", "") for o in listed["ops"])
    table = cli("ops", "--service", "QueryService", "--status", "error", "--limit", "5").splitlines()
    assert [cell.strip() for cell in table[0].split(" | ")] == [
        "time", "source", "method", "status", "ms", "in", "out", "attributes"
    ]  # fmt: skip
    assert any("QueryService.Sql" in line and "INVALID_ARGUMENT SQL_SYNTAX" in line for line in table[2:])
    stats = cli("stats", "--window", "10m").splitlines()
    assert any(line.startswith("QueryService.Sql") and " rest " in f" {line} " for line in stats)
    assert stats[-1].startswith("window 600s; recorded ")


def test_the_error_listing_still_answers(rest):
    reply = rest.get("/v1/errors")
    assert reply.status_code == 200 and reply.json()["errors"] == []
