"""VectorService end to end: corpora, items embedded by the real local model, search
(with allow-lists), persistence across restarts, corrupt sidecars, generations,
building from datasets and embed-on-ingest, through gRPC and REST (Envoy)."""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest

from lakehouse.api.errors import AlreadyExists, InvalidArgument, NotFound
from tests.support.rest import error_reason
from tests.support.system import System, wait_until_built

CLI_TIMEOUT_S = 60
WORKERS = [
    ("w1", "Forklift operator, OSHA-10 certified, 5 years warehouse experience", "IL"),
    ("w2", "Registered nurse with ICU and emergency room background", "WI"),
    ("w3", "Certified forklift driver and reach truck operator, OSHA 10", "WI"),
    ("w4", "Senior Java developer building payment systems", "IL"),
    ("w5", "Line cook experienced in high volume kitchens", "IL"),
    ("w6", "Warehouse associate: picking, packing, pallet jack, forklift", "IL"),
]


@pytest.fixture(scope="module")
def vsystem(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("vector-home"))
    yield system
    system.stop()


@pytest.fixture(scope="module")
def workers_corpus(vsystem):
    with vsystem.client() as lh:
        lh.create_corpus("workers")
        items = [{"id": i, "text": t, "metadata": {"state": s, "n": n}} for n, (i, t, s) in enumerate(WORKERS)]
        lh.add_items("workers", items)
    return "workers"


def _rest(system, method: str, path: str, body=None) -> httpx.Response:
    return httpx.request(method, f"{system.rest}{path}", json=body, timeout=120)


def test_create_corpus_over_rest_takes_dimension_from_the_model(vsystem):
    r = _rest(vsystem, "POST", "/v1/corpora", {"name": "rest_made"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dimension"] == 384 and body["metric"] == "cosine"
    assert body["embedding_model"].endswith("all-MiniLM-L6-v2")
    listed = _rest(vsystem, "GET", "/v1/corpora").json()
    assert "rest_made" in [c["name"] for c in listed["corpora"]]
    assert _rest(vsystem, "GET", "/v1/corpora/rest_made").json()["count"] == "0"


def test_semantic_search_ranks_the_right_workers(vsystem, workers_corpus):
    with vsystem.client() as lh:
        found = lh.search(workers_corpus, text="forklift operator with OSHA-10", k=3)
    ids = [r.id for r in found.results]
    assert set(ids) <= {"w1", "w3", "w6"} and ids[0] in {"w1", "w3"}
    assert found.results[0].score > found.results[-1].score
    assert found.results[0].metadata["state"] in ("IL", "WI")


def test_search_over_rest_with_allow_list(vsystem, workers_corpus):
    r = _rest(
        vsystem,
        "POST",
        f"/v1/corpora/{workers_corpus}:search",
        {"text": "forklift operator with OSHA-10", "k": 5, "allowed_ids": ["w3", "w4", "w5"]},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["id"] for x in results][0] == "w3"
    assert {x["id"] for x in results} <= {"w3", "w4", "w5"}
    assert set(results[0]) >= {"id", "score", "metadata"}


def test_search_by_vector(vsystem, workers_corpus):
    with vsystem.client() as lh:
        vec = lh.embed(["Registered nurse with ICU and emergency room background"])[0]
        found = lh.search(workers_corpus, vector=vec, k=1)
    assert found.results[0].id == "w2"
    assert math.isclose(found.results[0].score, 1.0, abs_tol=1e-3)


def test_delete_upsert_and_tombstones(vsystem):
    with vsystem.client() as lh:
        lh.create_corpus("churn")
        lh.add_items("churn", [{"id": f"i{n}", "text": t} for n, (_, t, _) in enumerate(WORKERS)])
        assert lh.delete_items("churn", ["i0", "missing"]).deleted == 1
        found = lh.search("churn", text="forklift OSHA-10 operator", k=6)
        assert "i0" not in [r.id for r in found.results]
        lh.add_items("churn", [{"id": "i1", "text": "forklift operator OSHA-10 certified"}], upsert=True)
        assert lh.search("churn", text="forklift operator OSHA-10 certified", k=1).results[0].id == "i1"
        corpus = lh.get_corpus("churn")
        assert corpus.count == 5 and corpus.tombstones >= 1


def test_filtered_search_over_rest_and_grpc(vsystem, workers_corpus):
    r = _rest(
        vsystem,
        "POST",
        f"/v1/corpora/{workers_corpus}:search",
        {"text": "forklift operator", "k": 6, "filter": {"state": "WI"}, "include_text": False},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["id"] for x in body["results"]] == ["w3", "w2"]
    assert body["results"][0].get("text", "") == ""
    assert body["metadata_filter_dropped"] == "4"  # int64 is a JSON string
    with vsystem.client() as lh:
        found = lh.search(workers_corpus, text="forklift", k=6, filter={"n": {"gte": 4}, "state": "IL"})
        assert {h.id for h in found.results} == {"w5", "w6"}
        batch = lh.search_batch(workers_corpus, ["forklift operator", "nurse"], k=1, filter={"state": "WI"})
        assert [b.results[0].id for b in batch] == ["w3", "w2"]


def test_search_batch_with_a_query_matrix_over_grpc_and_rest(vsystem, workers_corpus):
    with vsystem.client() as lh:
        texts = lh.search_batch(workers_corpus, ["forklift operator", "ICU nurse"], k=2)
        vectors = np.array(
            [item.vector for item in lh.get_items(workers_corpus, ["w1", "w2"], include_vectors=True).items],
            np.float32,
        )
        by_list = lh.search_batch(workers_corpus, [row.tolist() for row in vectors], k=2)
        by_matrix = lh.search_batch(workers_corpus, vectors, k=2)
        assert [list(r.results) for r in by_matrix] == [list(r.results) for r in by_list]
        assert [r.results[0].id for r in by_matrix] == ["w1", "w2"]
        assert len(texts) == 2
    encoded = base64.b64encode(vectors.astype("<f4").tobytes()).decode()
    r = _rest(vsystem, "POST", f"/v1/corpora/{workers_corpus}:searchBatch", {"query_matrix": encoded, "k": 2})
    assert r.status_code == 200, r.text
    assert [resp["results"][0]["id"] for resp in r.json()["responses"]] == ["w1", "w2"]


BAD_REQUESTS = [
    ("malformed filter", {"text": "forklift", "filter": {"n": {"gte": "x"}}}, ":search", "INVALID_FILTER"),
    ("catastrophic regex", {"text": "x", "filter": {"state": {"regex": "(a*)*\\1"}}}, ":search", "INVALID_FILTER"),
    ("filter not an object", {"text": "forklift", "filter": ["IL"]}, ":search", None),
    ("empty batch", {"queries": []}, ":searchBatch", "INVALID_QUERY"),
    ("query matrix of 5 bytes", {"query_matrix": "AAAAAAA="}, ":searchBatch", "INVALID_QUERY"),
    ("query matrix of part of a row", {"query_matrix": "AACAPwAAgD8="}, ":searchBatch", "DIMENSION_MISMATCH"),
    (
        "queries and a query matrix",
        {"queries": [{"text": "x"}], "query_matrix": "AACAPw=="},
        ":searchBatch",
        "INVALID_QUERY",
    ),
    ("wrong dimension", {"items": [{"id": "a", "vector": [0.1, 0.2]}]}, "items:add", "DIMENSION_MISMATCH"),
    ("nan", {"items": [{"id": "a", "vector": ["NaN"] * 384}]}, "items:add", "NON_FINITE_VECTOR"),
    ("inf", {"items": [{"id": "a", "vector": ["Infinity"] + [0.0] * 383}]}, "items:add", "NON_FINITE_VECTOR"),
    ("duplicate ids", {"items": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "items:add", None),
    ("k zero", {"text": "forklift", "k": -1}, ":search", None),
    ("k absurd", {"text": "forklift", "k": 10_000_000}, ":search", None),
    ("query dimension", {"vector": [1.0, 2.0]}, ":search", "DIMENSION_MISMATCH"),
]


@pytest.mark.parametrize(("case", "body", "verb", "reason"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_vector_requests_are_400(vsystem, workers_corpus, case, body, verb, reason):
    path = f"/v1/corpora/{workers_corpus}/{verb}" if verb.startswith("items") else f"/v1/corpora/{workers_corpus}{verb}"
    r = _rest(vsystem, "POST", path, body)
    assert r.status_code == 400, r.text
    if reason:
        info = next(d for d in r.json()["details"] if d["@type"].endswith("ErrorInfo"))
        assert info["reason"] == reason


def test_unknown_corpus_and_duplicates_over_grpc(vsystem, workers_corpus):
    with vsystem.client() as lh:
        with pytest.raises(NotFound) as exc:
            lh.search("no_such_corpus", text="x")
        assert exc.value.reason == "CORPUS_NOT_FOUND"
        with pytest.raises(AlreadyExists):
            lh.add_items(workers_corpus, [{"id": "w1", "text": "again"}])
        with pytest.raises(AlreadyExists):
            lh.create_corpus(workers_corpus)
        with pytest.raises(InvalidArgument):
            lh.search(workers_corpus, vector=[float("nan")] * 384)
    assert _rest(vsystem, "GET", "/v1/corpora/no_such_corpus").status_code == 404


def test_build_corpus_from_a_dataset(vsystem):
    rows = "id,name,bio,state\n" + "".join(f'{i},{n},"{t}",{s}\n' for n, (i, t, s) in enumerate(WORKERS))
    with vsystem.client() as lh:
        lh.ingest("candidates", rows.encode(), format="csv", mode="replace")
        built = lh.build_corpus("candidates_v1", "candidates", "id", ["bio"], ["state", "name"])
        assert built.items == len(WORKERS) and built.corpus.count == len(WORKERS)
        hit = lh.search("candidates_v1", text="ICU nurse", k=1).results[0]
        assert hit.id == "w2" and hit.metadata["state"] == "WI"
        with pytest.raises(InvalidArgument):
            lh.build_corpus("candidates_v1", "candidates", "id", ["no_such_column"])


def test_embed_on_ingest(vsystem):
    rows = "id,bio,state\n" + "".join(f'{i},"{t}",{s}\n' for i, t, s in WORKERS)
    embed = {
        "embed_corpus": "ingested",
        "embed_id_column": "id",
        "embed_text_columns": ["bio"],
        "embed_metadata_columns": ["state"],
    }
    with vsystem.client() as lh:
        result = lh.ingest("embedded_rows", rows.encode(), format="csv", mode="create", embed=embed)
        assert result.embedded == len(WORKERS)
        assert lh.get_corpus("ingested").count == len(WORKERS)
        lh.ingest(
            "embedded_rows",
            b'id,bio,state\nw9,"Night shift forklift lead, OSHA-10",MN\n',
            format="csv",
            mode="append",
            embed=embed,
        )
        assert lh.get_corpus("ingested").count == len(WORKERS) + 1
        with pytest.raises(InvalidArgument) as exc:
            lh.ingest(
                "embedded_rows",
                b"id,other\nw10,x\n",
                format="csv",
                mode="append",
                embed={**embed, "embed_text_columns": ["missing_col"]},
            )
        assert exc.value.reason == "UNKNOWN_COLUMN"
        assert lh.get_dataset("embedded_rows").current.version == 2


def test_generations_rebuild_swap_rollback_over_rest(vsystem):
    with vsystem.client() as lh:
        lh.create_corpus("gens")
        lh.add_items("gens", [{"id": f"g{n}", "text": t} for n, (_, t, _) in enumerate(WORKERS)])
        first = lh.get_corpus("gens").generation
    r = _rest(vsystem, "POST", "/v1/corpora/gens:rebuild", {"hnsw_m": 24})
    assert r.status_code == 200, r.text
    with vsystem.client() as lh:
        wait_until_built(lh, "gens")
    swapped = _rest(vsystem, "POST", "/v1/corpora/gens:swap", {}).json()
    assert int(swapped["generation"]) > int(first) and swapped["hnsw_m"] == 24
    rolled = _rest(vsystem, "POST", "/v1/corpora/gens:rollback", {}).json()
    assert rolled["generation"] == str(first)
    found = _rest(vsystem, "POST", "/v1/corpora/gens:search", {"text": "nurse", "k": 1}).json()
    assert found["results"][0]["id"] == "g1"


def test_index_trials_of_builds_and_rebuilds_over_grpc_rest_and_the_cli(vsystem):
    rows = "id,bio\n" + "".join(f'{i},"{t}"\n' for i, t, _ in WORKERS)
    with vsystem.client() as lh:
        lh.ingest("trial_rows", rows.encode(), format="csv", mode="replace")
        built = lh.build_corpus("trialled", "trial_rows", "id", ["bio"])
        [build] = lh.list_index_trials("trialled")
        assert (build.kind, build.status, build.items, build.generation) == ("build", "ok", 6, built.corpus.generation)
        assert build.dimension == 384 and build.probe_queries == 6 and build.probe_k == 5
        assert build.recall == 1.0 and build.size_bytes > 0 and build.build_seconds > 0
    env = {**os.environ, **vsystem.env}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "corpora", *args], env=env, capture_output=True, text=True,
            timeout=CLI_TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "a new generation is building" in cli("rebuild", "trialled", "--hnsw-m", "8")
    with vsystem.client() as lh:
        wait_until_built(lh, "trialled")
    assert "HNSW M=8 " in cli("swap", "trialled")
    r = _rest(vsystem, "GET", "/v1/corpora/trialled/trials")
    assert r.status_code == 200, r.text
    rebuild, first = r.json()["trials"]
    assert (rebuild["kind"], rebuild["hnsw_m"], first["kind"]) == ("rebuild", 8, "build")
    assert int(rebuild["generation"]) > int(first["generation"]) and 0 < rebuild["recall"] <= 1
    everything = _rest(vsystem, "GET", "/v1/index-trials?limit=1").json()["trials"]
    assert len(everything) == 1
    line = cli("trials", "trialled").splitlines()[0]
    assert "trialled gen" in line and "rebuild" in line and "M=8" in line and "recall@5=" in line
    assert json.loads(cli("trials", "trialled", "--json"))["trials"][1]["kind"] == "build"
    bad = _rest(vsystem, "GET", "/v1/index-trials?limit=-1")
    assert bad.status_code == 400 and error_reason(bad) == "INVALID_LIMIT"
    missing = _rest(vsystem, "GET", "/v1/corpora/no_such_corpus/trials")
    assert missing.status_code == 404 and error_reason(missing) == "CORPUS_NOT_FOUND"


def test_restart_loads_without_reembedding_and_repairs_a_corrupt_sidecar(tmp_path):
    system = System.start(tmp_path / "home")
    try:
        with system.client() as lh:
            lh.create_corpus("durable")
            lh.add_items("durable", [{"id": i, "text": t, "metadata": {"s": s}} for i, t, s in WORKERS])
            before = [(r.id, round(r.score, 4)) for r in lh.search("durable", text="forklift", k=3).results]
        system.stop()
        sidecars = sorted((system.settings.lake_root / "corpora" / "durable").rglob("hnsw.faiss"))
        assert sidecars, list((system.settings.lake_root / "corpora").rglob("*"))
        raw = bytearray(sidecars[-1].read_bytes())
        raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\xff" * 64
        sidecars[-1].write_bytes(bytes(raw))

        system = System.start(tmp_path / "home")
        with system.client() as lh:
            after = [(r.id, round(r.score, 4)) for r in lh.search("durable", text="forklift", k=3).results]
            assert after == before
            assert lh.get_corpus("durable").count == len(WORKERS)
        manifest = json.loads((sidecars[-1].parent / "manifest.json").read_text())
        assert json.dumps(manifest)  # still a valid manifest after the repair
    finally:
        system.stop()


def test_build_corpus_from_precomputed_vectors(vsystem, tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(500, 32)).astype(np.float32)
    table = pa.table(
        {
            "id": [f"v{i}" for i in range(500)],
            "embedding": pa.array(list(vecs), type=pa.list_(pa.float32())),
            "group": [i % 5 for i in range(500)],
        }
    )
    path = tmp_path / "vectors.parquet"
    pq.write_table(table, path)
    with vsystem.client() as lh:
        lh.ingest("precomputed", path, format="parquet", mode="replace")
        lh.create_corpus("precomputed_v", dimension=32, metric="l2")
        built = lh.build_corpus("precomputed_v", "precomputed", "id", [], ["group"], vector_column="embedding")
        assert built.items == 500
        hit = lh.search("precomputed_v", vector=vecs[123].tolist(), k=1).results[0]
        assert hit.id == "v123" and hit.metadata["group"] == 123 % 5
        with pytest.raises(InvalidArgument) as exc:
            lh.build_corpus("precomputed_v", "precomputed", "id", [], vector_column="group")
        assert exc.value.reason == "NOT_A_VECTOR_COLUMN"


def test_get_items_over_rest(vsystem, workers_corpus):
    r = _rest(
        vsystem,
        "POST",
        f"/v1/corpora/{workers_corpus}/items:get",
        {"ids": ["w4", "nobody", "w1"], "include_vectors": True},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["id"] for i in body["items"]] == ["w4", "w1"]
    assert body["items"][1]["text"] == WORKERS[0][1] and body["items"][1]["metadata"] == {"state": "IL", "n": 0}
    assert len(body["items"][0]["vector"]) == 384
    assert math.isclose(math.hypot(*body["items"][0]["vector"]), 1.0, abs_tol=1e-5)
    assert int(body["generation"]) >= 1
    without = _rest(vsystem, "POST", f"/v1/corpora/{workers_corpus}/items:get", {"ids": ["w1"]}).json()
    assert without["items"][0].get("vector", []) == []
    missing = _rest(vsystem, "POST", "/v1/corpora/no_such_corpus/items:get", {"ids": ["w1"]})
    assert missing.status_code == 404, missing.text
    info = next(d for d in missing.json()["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == "CORPUS_NOT_FOUND"
    with vsystem.client() as lh:
        got = lh.get_items(workers_corpus, ["w2"])
    assert [(i.id, i.metadata["state"]) for i in got.items] == [("w2", "WI")]
