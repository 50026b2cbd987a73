"""Every service in its own process: storage, catalog, ingest, query, models, vector and matrix
as seven processes, each reaching the others through its upstreams, Envoy in front. The whole flow
works through REST and gRPC; a killed process makes exactly the calls that need it fail
UNAVAILABLE naming it, within the deadline, and serves again when it comes back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from lakehouse.api.errors import NotFound, Unavailable
from lakehouse.client import LakehouseClient
from lakehouse.gateway.config import GatewayConfig
from lakehouse.gateway.process import free_port, start_envoy, stop_process_group
from lakehouse.servers.settings import Settings
from lakehouse.servers.supervisor import start_server_process

COMPONENTS = ("storage", "catalog", "models", "vector", "query", "ingest", "matrix")
# How long a call that needs a killed process may take to fail (connect failure, not a hang).
FAIL_FAST_S = 15.0
PEOPLE = b"id,name,bio\n1,ann,forklift operator OSHA-10 Joliet\n2,bo,ICU nurse Chicago\n3,cy,line cook Peoria\n"


@dataclass
class Six:
    settings: Settings
    addresses: dict[str, str]
    env: dict[str, str]
    port: int
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> LakehouseClient:
        return LakehouseClient(f"127.0.0.1:{self.port}", timeout_s=120)

    def start(self, component: str) -> None:
        port = self.addresses[component].rsplit(":", 1)[1]
        env = {**self.env, "LAKEHOUSE_SERVER__GRPC_PORT": port}
        self.pids[component], _ = start_server_process(self.settings, component, name=component, extra_env=env)

    def kill(self, component: str) -> None:
        os.killpg(self.pids.pop(component), signal.SIGKILL)


@pytest.fixture()
def six(tmp_path) -> Iterator[Six]:
    settings = Settings(home=tmp_path / "home")
    addresses = {c: f"127.0.0.1:{free_port()}" for c in COMPONENTS}
    env = {f"LAKEHOUSE_UPSTREAMS__{c.upper()}": a for c, a in addresses.items()}
    cluster = Six(settings, addresses, env, free_port())
    envoy_pid = None
    try:
        for component in COMPONENTS:
            cluster.start(component)
        envoy = start_envoy(GatewayConfig.from_settings(settings, addresses, port=cluster.port), settings.run_dir)
        envoy_pid = envoy.pid
        yield cluster
    finally:
        for pid in cluster.pids.values():
            stop_process_group(pid)
        if envoy_pid is not None:
            stop_process_group(envoy_pid)


def _reason(response: httpx.Response) -> tuple[str, dict]:
    info = next(d for d in response.json()["details"] if d["@type"].endswith("ErrorInfo"))
    return info["reason"], info.get("metadata", {})


def test_the_whole_flow_then_a_killed_process(six: Six) -> None:
    rest = six.rest
    # Ingest with embed-on-ingest (REST): ingest -> catalog, ingest -> vector -> models.
    r = httpx.post(
        f"{rest}/v1/datasets/people:ingest",
        params={"mode": "create", "embed_corpus": "people_v1", "embed_id_column": "id", "embed_text_columns": "bio"},
        content=PEOPLE,
        timeout=180,
    )
    assert r.status_code == 200, r.text
    assert r.json()["embedded"] == "3"
    with six.client() as lh:
        # An upsert (gRPC), then SQL merge-on-read (REST): query -> catalog.
        lh.ingest("people", b"id,name,bio\n2,bo,ER nurse Chicago\n", mode="upsert", primary_key=["id"])
        r = httpx.post(f"{rest}/v1/sql", json={"sql": "SELECT id, bio FROM people ORDER BY id"}, timeout=60)
        assert r.status_code == 200 and r.json()["rows"][1] == [2, "ER nurse Chicago"], r.text
        # BuildCorpus (REST): vector -> query -> catalog, vector -> models.
        body = {"dataset": "people", "id_column": "id", "text_columns": ["bio"]}
        r = httpx.post(f"{rest}/v1/corpora/people_built:build", json=body, timeout=180)
        assert r.status_code == 200 and r.json()["items"] == "3", r.text
        # Search (gRPC and REST).
        assert lh.search("people_built", text="nurse in Chicago", k=1).results[0].id == "2"
        r = httpx.post(f"{rest}/v1/corpora/people_v1:search", json={"text": "forklift", "k": 1}, timeout=60)
        assert r.status_code == 200 and r.json()["results"][0]["id"] == "1", r.text
        # Matrix search (REST): matrix -> models (embed once), matrix -> vector (both corpora).
        both = {"text": "nurse in Chicago", "corpora": ["people_built", "people_v1"], "k": 2, "k_per_corpus": 1}
        r = httpx.post(f"{rest}/v1/matrix/search", json=both, timeout=60)
        assert r.status_code == 200, r.text
        assert [(x["corpus"], x["id"]) for x in r.json()["results"]] in (
            [("people_built", "2"), ("people_v1", "2")],
            [("people_v1", "2"), ("people_built", "2")],
        )

        # Health through the gateway reports every process's services, wherever it answers.
        r = httpx.get(f"{rest}/v1/health", timeout=30)
        by_component = {s["component"]: s for s in r.json()["services"] if s.get("component")}
        assert set(by_component) >= set(COMPONENTS) and r.json()["status"] == "SERVING", r.text
        assert by_component["vector"]["address"] == six.addresses["vector"]

        # Kill the vector process: what needs it fails fast, naming it; the rest works.
        six.kill("vector")
        r = httpx.get(f"{rest}/v1/health", timeout=30)
        vector = next(s for s in r.json()["services"] if s.get("component") == "vector")
        assert vector["status"] == "UNREACHABLE" and r.json()["status"] == "NOT_SERVING", r.text
        started = time.monotonic()
        with pytest.raises(Unavailable) as exc:
            lh.search("people_built", text="nurse", k=1)
        assert time.monotonic() - started < FAIL_FAST_S
        assert exc.value.reason == "UPSTREAM_UNAVAILABLE" and exc.value.metadata["component"] == "vector"
        r = httpx.post(f"{rest}/v1/corpora/people_v1:search", json={"text": "forklift", "k": 1}, timeout=60)
        assert r.status_code == 503 and _reason(r) == ("UPSTREAM_UNAVAILABLE", {"component": "vector"}), r.text
        # The matrix answers with what it can (nothing here, each corpus saying why), or 503 if told to.
        r = httpx.post(f"{rest}/v1/matrix/search", json=both, timeout=60)
        assert r.status_code == 200 and r.json()["partial"] is True, r.text
        assert {c["code"] for c in r.json()["corpora"]} == {"UNAVAILABLE"}
        r = httpx.post(f"{rest}/v1/matrix/search", json={**both, "require_all": True}, timeout=60)
        assert r.status_code == 503, r.text
        # Ingest with embedding: the version commits, the embedding names the missing service.
        embed = {"embed_corpus": "people_v1", "embed_id_column": "id", "embed_text_columns": ["bio"]}
        started = time.monotonic()
        with pytest.raises(Unavailable) as exc:
            lh.ingest("people", b"id,name,bio\n4,di,welder Rockford\n", mode="append", embed=embed)
        assert time.monotonic() - started < FAIL_FAST_S
        assert exc.value.reason == "UPSTREAM_UNAVAILABLE" and exc.value.metadata["component"] == "vector"
        assert exc.value.metadata["committed_version"] == "3"
        assert lh.sql("SELECT count(*) FROM people").rows == [[4]]  # query and catalog still serve
        assert lh.get_dataset("people").current.version == 3

        # It comes back on its address; nothing else restarts.
        six.start("vector")
        assert lh.search("people_built", text="nurse in Chicago", k=1).results[0].id == "2"

        # Delete the dataset (REST): catalog first, then its files.
        r = httpx.delete(f"{rest}/v1/datasets/people", timeout=60)
        assert r.status_code == 200, r.text
        with pytest.raises(NotFound):
            lh.get_dataset("people")
