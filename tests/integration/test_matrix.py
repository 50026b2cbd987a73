"""MatrixService end to end: REST through Envoy and gRPC, the hybrid path, errors as HTTP
codes with details, the relevance filter on an adjacency-pollution fixture with the real
embedding model, and one search spanning two vector processes (one of them then killed)."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest

from lakehouse.api.channel import open_channel
from lakehouse.api.matrix import MatrixRequest, RemoteMatrix
from lakehouse.client import LakehouseClient
from lakehouse.gateway.config import GatewayConfig
from lakehouse.gateway.process import free_port, start_envoy, stop_process_group
from lakehouse.servers.services import COMPONENTS
from lakehouse.servers.settings import Settings
from lakehouse.servers.supervisor import start_server_process
from tests.support.system import System

# One résumé cut into chunks: the hit, its on-topic neighbour, and off-topic chunks that
# share the document with them (what adjacency pollution drags into a composed context).
RESUME = [
    ("r1", "Forklift operator with OSHA-10 certification and five years of warehouse experience", True),
    ("r2", "Certified reach truck and sit-down forklift driver, pallet jack, inventory cycle counts", True),
    ("r3", "Hobbies: baking sourdough bread, hiking and watching documentaries", False),
    ("r4", "References available upon request. Prefers to be contacted by email", False),
    ("r5", "Volunteered at the county animal shelter on weekends", False),
]
QUERY = "certified forklift operator for a warehouse"


@pytest.fixture(scope="module")
def msystem(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("matrix-home"))
    yield system
    system.stop()


def _post(system, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{system.rest}{path}", json=body, timeout=120)


def _info(response: httpx.Response) -> dict:
    return next(d for d in response.json()["details"] if d["@type"].endswith("ErrorInfo"))


def test_searching_with_no_corpora_is_a_clear_400(msystem):
    r = _post(msystem, "/v1/matrix/search", {"text": "anything"})
    assert r.status_code == 400 and _info(r)["reason"] == "NO_CORPORA", r.text


@pytest.fixture(scope="module")
def corpora(msystem):
    with msystem.client() as lh:
        lh.create_corpus("resumes", description="résumé chunks", tags=["primary"])
        lh.add_items("resumes", [{"id": i, "text": t, "metadata": {"on_topic": on}} for i, t, on in RESUME])
        lh.create_corpus("orders", description="open job orders")
        lh.add_items(
            "orders",
            [
                {
                    "id": "o1",
                    "text": "Hiring forklift operators for second shift, OSHA-10 required",
                    "metadata": {"state": "IL"},
                },
                {"id": "o2", "text": "ICU registered nurse, nights, Chicago", "metadata": {"state": "IL"}},
                {"id": "o3", "text": "Forklift driver wanted in Milwaukee warehouse", "metadata": {"state": "WI"}},
            ],
        )
        lh.create_corpus("coords", dimension=3, metric="l2")
        lh.add_items("coords", [{"id": "c1", "vector": [0.0, 0.0, 1.0]}])
        lh.ingest("order_facts", b"order_id,pay\no1,21\no2,48\no3,19\n", format="csv", mode="create")
    return ["resumes", "orders"]


def test_matrix_search_over_rest_fuses_both_corpora(msystem, corpora):
    r = _post(msystem, "/v1/matrix/search", {"text": QUERY, "corpora": corpora, "k": 4, "include_text": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {x["corpus"] for x in body["results"]} == {"resumes", "orders"}
    scores = [x["score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True) and body["results"][0]["text"]
    assert [c["corpus"] for c in body["corpora"]] == corpora and all(c["searched"] for c in body["corpora"])
    listed = httpx.get(f"{msystem.rest}/v1/matrix/corpora", timeout=60).json()
    by_name = {c["corpus"]["name"]: c for c in listed["corpora"]}
    assert by_name["resumes"]["corpus"]["tags"] == ["primary"] and by_name["resumes"]["upstream"] == "local"


def test_the_hybrid_path_runs_the_sql_gate(msystem, corpora):
    body = {"text": QUERY, "corpora": ["orders"], "sql": "SELECT order_id FROM order_facts WHERE pay < 30", "k": 5}
    r = _post(msystem, "/v1/vectors/hybrid", body)
    assert r.status_code == 200, r.text
    assert {x["id"] for x in r.json()["results"]} == {"o1", "o3"} and r.json()["sql_selected"] == "2"
    escape = _post(msystem, "/v1/vectors/hybrid", {**body, "sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert escape.status_code == 403, escape.text
    missing = _post(msystem, "/v1/vectors/hybrid", {**body, "sql": "SELECT id FROM no_such_dataset"})
    assert missing.status_code == 404, missing.text


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"text": "x", "corpora": ["no_such"]}, 404, "CORPUS_NOT_FOUND"),
        ({"text": "x", "corpora": ["resumes", "coords"]}, 400, "MIXED_METRICS"),
        ({"text": "x", "k": 0, "k_per_corpus": -2}, 400, "INVALID_K"),
        ({"text": "x", "k": 100000}, 400, "INVALID_K"),
        ({"vector": [1.0, 0.0], "corpora": ["coords"]}, 400, "DIMENSION_MISMATCH"),
        ({"text": "x", "corpora": ["orders"], "filter": {"state": {"gte": ["IL"]}}}, 400, "INVALID_FILTER"),
        ({"text": "x", "corpora": ["orders"], "filter": {"state": {"regex": "(x+)+\\1"}}}, 400, "INVALID_FILTER"),
        (
            {"text": "x", "corpora": ["orders"], "relevance": {"enabled": True, "threshold": 3}},
            400,
            "INVALID_RELEVANCE",
        ),
        ({"text": "x", "corpora": ["orders"], "sql": "SELECT order_id, pay FROM order_facts"}, 400, "SQL_ID_COLUMN"),
    ],
    ids=[
        "unknown corpus",
        "mixed metrics",
        "k zero",
        "k above limit",
        "dimension",
        "filter",
        "regex",
        "threshold",
        "sql id",
    ],
)
def test_bad_matrix_requests_get_their_http_code_and_reason(msystem, corpora, body, status, reason):
    r = _post(msystem, "/v1/matrix/search", body)
    assert r.status_code == status, r.text
    assert _info(r)["reason"] == reason
    if reason == "CORPUS_NOT_FOUND":
        assert _info(r)["metadata"] == {"corpus": "no_such"}
    if reason == "INVALID_FILTER":
        violations = next(d for d in r.json()["details"] if d["@type"].endswith("BadRequest"))["field_violations"]
        assert violations[0]["field"].startswith("filter.state.")


def test_relevance_filter_drops_adjacency_pollution_g3_4_b(msystem, corpora):
    body = {"text": QUERY, "corpora": ["resumes"], "k": 5, "k_per_corpus": 5}
    unfiltered = _post(msystem, "/v1/matrix/search", body).json()
    assert len(unfiltered["results"]) == 5  # the off-topic chunks come back without the filter
    filtered = _post(msystem, "/v1/matrix/search", {**body, "relevance": {"enabled": True}}).json()
    kept = {x["id"] for x in filtered["results"]}
    assert kept == {i for i, _, on in RESUME if on}, json.dumps(filtered)
    assert {d["id"] for d in filtered["relevance_dropped"]} == {i for i, _, on in RESUME if not on}
    # The same judgement for outside tools: texts, or items by corpus and id.
    candidates = [{"text": t} for _, t, _ in RESUME[:3]] + [{"corpus": "resumes", "id": "r4"}]
    r = _post(msystem, "/v1/matrix/relevance", {"text": QUERY, "candidates": candidates})
    assert r.status_code == 200, r.text
    assert [v.get("kept", False) for v in r.json()["verdicts"]] == [True, True, False, False]
    bad = _post(msystem, "/v1/matrix/relevance", {"text": QUERY, "candidates": [{"corpus": "resumes"}]})
    assert bad.status_code == 400 and _info(bad)["reason"] == "INVALID_CANDIDATE"


def test_the_downgrade_gate_over_grpc(msystem, corpora):
    with msystem.client() as lh:
        channel = open_channel(lh.address)
        try:
            matrix = RemoteMatrix(channel)
            strong = matrix.search(MatrixRequest(text=QUERY, corpora=tuple(corpora), model="gpt-4o"))
            weak = matrix.search(MatrixRequest(text=QUERY, corpora=tuple(corpora), model="qwen2.5:7b"))
        finally:
            channel.close()
    assert strong.downgraded and {h.corpus for h in strong.hits} == {"resumes"}  # tagged primary
    assert not weak.downgraded and {h.corpus for h in weak.hits} == {"resumes", "orders"}


@pytest.fixture()
def two_hosts(tmp_path):
    """Process B hosts a vector service on its own lake; process A hosts everything and its
    matrix searches A's corpora and B's. Envoy fronts A."""
    pids = []
    try:
        b_settings = Settings(home=tmp_path / "b")
        b_pid, b_addr = start_server_process(b_settings, "storage,vector", name="vector-b")
        pids.append(b_pid)
        a_settings = Settings(home=tmp_path / "a")
        upstreams = json.dumps(["local", b_addr])
        a_pid, a_addr = start_server_process(
            a_settings, "all", name="main", extra_env={"LAKEHOUSE_MATRIX__VECTOR_UPSTREAMS": upstreams}
        )
        pids.append(a_pid)
        port = free_port()
        envoy = start_envoy(
            GatewayConfig.from_settings(a_settings, {c: a_addr for c in COMPONENTS}, port=port), a_settings.run_dir
        )
        pids.append(envoy.pid)
        yield port, a_addr, b_addr, b_pid
    finally:
        for pid in reversed(pids):
            stop_process_group(pid)


def test_one_matrix_search_spans_two_vector_processes(two_hosts):
    port, a_addr, b_addr, b_pid = two_hosts
    with LakehouseClient(a_addr) as a, LakehouseClient(b_addr) as b:
        a.create_corpus("here", dimension=2)
        a.add_items("here", [{"id": "h1", "vector": [1.0, 0.0]}, {"id": "h2", "vector": [0.0, 1.0]}])
        b.create_corpus("there", dimension=2)
        b.add_items("there", [{"id": "t1", "vector": [0.9, 0.1]}])
    rest = f"http://127.0.0.1:{port}"
    listed = httpx.get(f"{rest}/v1/matrix/corpora", timeout=60).json()
    assert {c["corpus"]["name"]: c["upstream"] for c in listed["corpora"]} == {"here": "local", "there": b_addr}
    body = {"vector": [1.0, 0.0], "corpora": ["here", "there"], "k": 3}
    r = httpx.post(f"{rest}/v1/matrix/search", json=body, timeout=60)
    assert r.status_code == 200, r.text
    assert [(x["corpus"], x["id"]) for x in r.json()["results"]] == [("here", "h1"), ("there", "t1"), ("here", "h2")]
    assert [c["upstream"] for c in r.json()["corpora"]] == ["local", b_addr]
    # B dies: its corpus fails on its own, the rest answers; require_all turns that into 503.
    os.killpg(b_pid, signal.SIGKILL)
    r = httpx.post(f"{rest}/v1/matrix/search", json=body, timeout=60)
    assert r.status_code == 200 and r.json()["partial"] is True, r.text
    assert [x["id"] for x in r.json()["results"]] == ["h1", "h2"]
    there = next(c for c in r.json()["corpora"] if c["corpus"] == "there")
    assert there["code"] == "UNAVAILABLE" and not there.get("searched", False)
    r = httpx.post(f"{rest}/v1/matrix/search", json={**body, "require_all": True}, timeout=60)
    assert r.status_code == 503, r.text
    listed = httpx.get(f"{rest}/v1/matrix/corpora", timeout=60).json()
    assert [u["upstream"] for u in listed["unreachable"]] == [b_addr]


def test_playbook_over_rest(msystem, corpora):
    entry = {"id": "rest_1", "query": QUERY, "corpus": "orders", "item_id": "o1", "score": 0.9, "source": "rest"}
    r = _post(msystem, "/v1/matrix/playbooks", entry)
    assert r.status_code == 200, r.text
    assert r.json()["score"] == 0.9 and r.json()["time"].endswith("Z")
    assert _post(msystem, "/v1/matrix/playbooks", entry).status_code == 200  # the same again: idempotent
    conflict = _post(msystem, "/v1/matrix/playbooks", {**entry, "item_id": "o2"})
    assert conflict.status_code == 409 and _info(conflict)["reason"] == "PLAYBOOK_ENTRY_CONFLICT", conflict.text
    missing = _post(msystem, "/v1/matrix/playbooks", {**entry, "id": "", "item_id": "o404"})
    assert missing.status_code == 404 and _info(missing)["reason"] == "ITEM_NOT_FOUND", missing.text
    bad = _post(msystem, "/v1/matrix/playbooks", {**entry, "id": "", "score": 2})
    assert bad.status_code == 400 and _info(bad)["reason"] == "INVALID_PLAYBOOK_ENTRY", bad.text
    bulk = _post(
        msystem,
        "/v1/matrix/playbooks/bulk",
        {
            "entries": [
                {**entry, "id": "rest_2"},
                {**entry, "id": "rest_3", "outcome": "rejected", "score": None},
                {**entry, "id": "", "query": ""},
            ]
        },
    )
    assert bulk.status_code == 200, bulk.text
    body = bulk.json()
    assert (body["recorded"], body["failed"]) == (2, 1)
    assert body["results"][2]["error"]["field"] == "entries[2].query"
    got = httpx.get(f"{msystem.rest}/v1/matrix/playbooks/rest_3", timeout=60).json()
    assert got["outcome"] == "rejected" and "score" not in got
    listed = httpx.get(
        f"{msystem.rest}/v1/matrix/playbooks", params={"source": "rest", "page_size": 2}, timeout=60
    ).json()
    assert len(listed["entries"]) == 2 and listed["next_page_token"]
    stats = httpx.get(f"{msystem.rest}/v1/matrix/playbooks:stats", timeout=60).json()
    assert stats["entries"] == "3"
    assert httpx.delete(f"{msystem.rest}/v1/matrix/playbooks/rest_2", timeout=60).json()["deleted"] == "1"
    by_item = _post(msystem, "/v1/matrix/playbooks:delete", {"corpus": "orders", "item_id": "o1"})
    assert by_item.status_code == 200 and by_item.json()["deleted"] == "2", by_item.text
    gone = httpx.get(f"{msystem.rest}/v1/matrix/playbooks/rest_1", timeout=60)
    assert gone.status_code == 404
    # A dataset of past placements feeds the loop directly.
    csv = b"order,need,rating\no2,ICU nurse nights,0.8\no9,welder,1.0\n"
    up = httpx.post(
        f"{msystem.rest}/v1/datasets/pb_past:ingest",
        params={"format": "csv", "mode": "create"},
        content=csv,
        timeout=60,
    )
    assert up.status_code == 200, up.text
    mapping = {
        "dataset": "pb_past",
        "query_column": "need",
        "item_id_column": "order",
        "corpus": "orders",
        "score_column": "rating",
    }
    imported = _post(msystem, "/v1/matrix/playbooks:import", mapping)
    assert imported.status_code == 200 and (imported.json()["recorded"], imported.json()["failed"]) == (1, 1), (
        imported.text
    )
    assert imported.json()["results"][1]["error"]["reason"] == "ITEM_NOT_FOUND"
    unknown = _post(msystem, "/v1/matrix/playbooks:import", {**mapping, "score_column": "stars"})
    assert unknown.status_code == 400 and _info(unknown)["reason"] == "UNKNOWN_COLUMN", unknown.text
    # The playbook's own corpus is never searched as one of "all corpora".
    r = _post(msystem, "/v1/matrix/search", {"text": QUERY, "k": 20, "fusion": "rrf"})
    assert r.status_code == 200, r.text
    assert "playbooks" not in {c["corpus"] for c in r.json()["corpora"]}, r.text
