"""Multi-process topology: catalog+storage in one process, ingest+query in another
(reaching the catalog over gRPC), Envoy routing each service to its process."""

from __future__ import annotations

import os

import httpx
import pytest

from lakehouse.api.errors import NotFound
from lakehouse.client import LakehouseClient
from lakehouse.gateway.config import GatewayConfig
from lakehouse.gateway.process import free_port, start_envoy, stop_process_group
from lakehouse.servers.settings import Settings
from lakehouse.servers.supervisor import start_server_process


@pytest.fixture()
def cluster(tmp_path):
    settings = Settings(home=tmp_path / "home")
    pids = []
    try:
        # BuildCorpus reads the dataset through a query core of its own over the shared home.
        catalog_pid, catalog_addr = start_server_process(
            settings,
            "catalog,storage,models,vector,matrix",
            name="catalog",
            extra_env={"LAKEHOUSE_UPSTREAMS__QUERY": "local"},
        )
        pids.append(catalog_pid)
        engine_pid, engine_addr = start_server_process(
            settings,
            "ingest,query",
            name="engines",
            extra_env={"LAKEHOUSE_UPSTREAMS__CATALOG": catalog_addr, "LAKEHOUSE_UPSTREAMS__VECTOR": catalog_addr},
        )
        pids.append(engine_pid)
        port = free_port()
        envoy = start_envoy(
            GatewayConfig.from_settings(
                settings,
                {
                    "catalog": catalog_addr,
                    "storage": catalog_addr,
                    "ingest": engine_addr,
                    "query": engine_addr,
                    "models": catalog_addr,
                    "vector": catalog_addr,
                    "matrix": catalog_addr,
                },
                port=port,
            ),
            settings.run_dir,
        )
        pids.append(envoy.pid)
        yield port, engine_pid
    finally:
        for pid in reversed(pids):
            stop_process_group(pid)


def test_services_in_separate_processes(cluster):
    port, engine_pid = cluster
    with LakehouseClient(f"127.0.0.1:{port}") as lh:
        result = lh.ingest("split", b"id,v\n1,10\n2,20\n", format="csv", mode="create")
        assert result.version == 1
        # Catalog (other process) knows what the engines process committed.
        assert lh.get_dataset("split").current.base_rows == 2
        assert lh.sql("SELECT sum(v) FROM split").rows == [[30]]
        health = lh.health()
        assert "lakehouse.v1.SystemService" in {s["service"] for s in health["services"]}
        with pytest.raises(NotFound):
            lh.sql("SELECT * FROM nothing_here")
        # Embed-on-ingest from the engines process writes to the vector service in the other one.
        embed = {"embed_corpus": "split_corpus", "embed_id_column": "id", "embed_text_columns": ["bio"]}
        done = lh.ingest("bios", b"id,bio\n1,forklift operator OSHA-10\n2,ICU nurse\n", format="csv", embed=embed)
        assert done.embedded == 2
        assert lh.search("split_corpus", text="nurse", k=1).results[0].id == "2"
        # The vector process builds a corpus from a dataset the engines process wrote.
        assert lh.build_corpus("bios_built", "bios", "id", ["bio"]).items == 2
    r = httpx.post(f"http://127.0.0.1:{port}/v1/sql", json={"sql": "SELECT count(*) AS n FROM split"})
    assert r.status_code == 200 and r.json()["rows"] == [[2]]
    assert os.path.exists(f"/proc/{engine_pid}")
