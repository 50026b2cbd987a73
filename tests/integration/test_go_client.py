"""The Go client, built against gen/go, talks to a live server through Envoy."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.golang import build_go_client


@pytest.fixture(scope="module")
def go_client(tmp_path_factory):
    return build_go_client(tmp_path_factory.mktemp("go"))


def test_go_client_health_and_sql(system, client, go_client):
    client.ingest("go_people", b"id,name\n1,ann\n2,bo\n", format="csv", mode="replace")
    health = subprocess.run(
        [str(go_client), "-addr", system.grpc_address, "health"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(health.stdout)["status"] == "SERVING"
    out = subprocess.run(
        [str(go_client), "-addr", system.grpc_address, "sql", "SELECT name FROM go_people ORDER BY id"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body = json.loads(out.stdout)
    assert [row[0] for row in body["rows"]] == ["ann", "bo"]


def test_go_client_reports_grpc_errors(system, go_client):
    done = subprocess.run(
        [str(go_client), "-addr", system.grpc_address, "sql", "SELEC nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert json.loads(done.stderr)["code"] == "InvalidArgument"
