"""The Go client, built against gen/go, talks to a live server through Envoy."""

from __future__ import annotations

import json
import subprocess
import uuid

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
    assert json.loads(done.stderr)["code"] == "INVALID_ARGUMENT"


def _matrix_search(system, go_client, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(go_client), "-addr", system.grpc_address, "matrix-search", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def go_corpora(client):
    names = [f"go_m_{uuid.uuid4().hex[:8]}_a", f"go_m_{uuid.uuid4().hex[:8]}_b"]
    items = {
        names[0]: [
            {"id": "a1", "vector": [1.0, 0.0, 0.0, 0.0], "metadata": {"state": "IL"}},
            {"id": "a2", "vector": [0.6, 0.8, 0.0, 0.0], "metadata": {"state": "WI"}},
        ],
        names[1]: [
            {"id": "b1", "vector": [0.8, 0.6, 0.0, 0.0], "metadata": {"state": "IL"}},
            {"id": "b2", "vector": [0.0, 0.0, 1.0, 0.0], "metadata": {"state": "WI"}},
        ],
    }
    for name, rows in items.items():
        client.create_corpus(name, dimension=4)
        client.add_items(name, rows)
    return names


def test_go_client_matrix_search_fuses_and_filters(system, go_client, go_corpora):
    a, b = go_corpora
    base = ["-corpora", f"{a},{b}", "-k", "3", "-k-per-corpus", "2", "-vector", "1,0,0,0"]
    done = _matrix_search(system, go_client, *base)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [(r["corpus"], r["id"]) for r in body["results"]] == [(a, "a1"), (b, "b1"), (a, "a2")]
    assert [c["corpus"] for c in body["corpora"]] == [a, b] and all(c["searched"] for c in body["corpora"])

    filtered = _matrix_search(system, go_client, *base, "-filter", '{"state": "IL"}')
    assert filtered.returncode == 0, filtered.stderr
    body = json.loads(filtered.stdout)
    assert [(r["corpus"], r["id"]) for r in body["results"]] == [(a, "a1"), (b, "b1")]
    assert {r["metadata"]["state"] for r in body["results"]} == {"IL"}
    assert body["metadata_filter_dropped"] == "2"

    rrf = _matrix_search(system, go_client, *base, "-fusion", "rrf")
    assert rrf.returncode == 0, rrf.stderr
    fused = json.loads(rrf.stdout)["results"]
    # Reciprocal rank: both corpora's first hits tie at 1/61, ahead of any second hit (1/62).
    assert {r["id"] for r in fused[:2]} == {"a1", "b1"} and [r["rank_in_corpus"] for r in fused] == [1, 1, 2]
    assert fused[0]["fused_score"] == pytest.approx(1 / 61) and fused[2]["fused_score"] == pytest.approx(1 / 62)


def test_go_client_matrix_search_errors(system, go_client, go_corpora):
    missing = f"go_m_{uuid.uuid4().hex[:8]}_missing"
    done = _matrix_search(system, go_client, "-corpora", f"{go_corpora[0]},{missing}", "-vector", "1,0,0,0")
    assert done.returncode == 1
    error = json.loads(done.stderr)
    assert error["code"] == "NOT_FOUND" and error["reason"] == "CORPUS_NOT_FOUND" and missing in error["message"]

    for flag, value in [("-filter", "not json"), ("-filter", "[1, 2]"), ("-vector", "1,x")]:
        bad = _matrix_search(system, go_client, "-corpora", go_corpora[0], flag, value)
        assert bad.returncode == 2 and f"matrix-search {flag}:" in bad.stderr, (flag, value, bad.stderr)
    nothing = _matrix_search(system, go_client, "-corpora", go_corpora[0])
    assert nothing.returncode == 2 and "TEXT or -vector" in nothing.stderr
