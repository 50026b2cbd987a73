"""Phase G0 end to end: upload a file, then query it, through gRPC and REST (Envoy)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import httpx
import pyarrow as pa
import pytest

from lakehouse.api.errors import AlreadyExists, Cancelled, DeadlineExceeded, NotFound

PEOPLE_CSV = (
    b"id,name,age,score,active,hired,seen_at,note\n"
    b"1,ann,34,1.5,true,2020-01-02,2024-05-06 07:08:09,\n"
    b"2,bo,41,2.25,false,2021-03-04,2024-05-07 10:11:12,hi\n"
    b"3,cy,,3.0,true,2019-12-31,2024-05-08 13:14:15,there\n"
)


def _rest_ingest(system, dataset: str, body: bytes, **params) -> httpx.Response:
    return httpx.post(
        f"{system.rest}/v1/datasets/{dataset}:ingest",
        params=params,
        content=body,
        headers={"content-type": "application/octet-stream"},
        timeout=120,
    )


def _rest_sql(system, sql: str, **extra) -> httpx.Response:
    return httpx.post(f"{system.rest}/v1/sql", json={"sql": sql, **extra}, timeout=120)


def _lake_files(system, dataset: str) -> list:
    root = system.settings.lake_root / "datasets" / dataset
    return sorted(p for p in root.rglob("*.parquet")) if root.exists() else []


def test_rest_upload_then_rest_sql(system):
    r = _rest_ingest(system, "people_rest", PEOPLE_CSV, format="csv", mode="create")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["dataset"] == "people_rest" and result["version"] == "1" and result["rows"] == "3"
    assert result["source_hash"].startswith("sha256:")
    types = {f["name"]: f["type"] for f in result["schema"]["fields"]}
    assert types == {
        "id": "int64",
        "name": "string",
        "age": "int64",
        "score": "double",
        "active": "bool",
        "hired": "date32[day]",
        "seen_at": "timestamp[us]",
        "note": "string",
    }

    r = _rest_sql(system, "SELECT name, age, hired, seen_at, active FROM people_rest ORDER BY id")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["name"] for c in body["columns"]] == ["name", "age", "hired", "seen_at", "active"]
    assert [c["type"] for c in body["columns"]] == ["VARCHAR", "BIGINT", "DATE", "TIMESTAMP", "BOOLEAN"]
    assert body["rows"][0] == ["ann", 34, "2020-01-02", "2024-05-06T07:08:09", True]
    assert body["rows"][2][1] is None
    assert body["truncated"] is False and body["row_count"] == "3"


def test_grpc_stream_upload_with_progress_and_arrow_result(client):
    # Many small chunks: the upload is a real client stream.
    chunks = [PEOPLE_CSV[i : i + 7] for i in range(0, len(PEOPLE_CSV), 7)]
    events = []
    result = client.ingest("people_grpc", iter(chunks), format="csv", mode="create", on_progress=events.append)
    assert result.version == 1 and result.rows == 3
    phases = [e.phase for e in events]
    assert phases[0] == "upload" and "convert" in phases and phases[-1] == "commit"
    assert max(e.bytes_done for e in events if e.phase == "upload") == len(PEOPLE_CSV)
    assert max(e.rows_done for e in events) == 3

    table = client.query("SELECT * FROM people_grpc ORDER BY id")
    assert table.num_rows == 3
    assert table.schema.field("hired").type == pa.date32()
    assert table.schema.field("seen_at").type == pa.timestamp("us")
    assert table.column("hired").to_pylist()[0] == dt.date(2020, 1, 2)
    assert table.column("score").to_pylist() == [1.5, 2.25, 3.0]


def test_datasets_list_get_delete_over_rest(system, client):
    client.ingest("to_delete", b"a,b\n1,2\n", format="csv", mode="create")
    assert _lake_files(system, "to_delete")
    listed = httpx.get(f"{system.rest}/v1/datasets").json()
    assert "to_delete" in [d["name"] for d in listed["datasets"]]
    got = httpx.get(f"{system.rest}/v1/datasets/to_delete").json()
    assert got["current"]["version"] == "1" and got["current"]["files"][0]["content_hash"].startswith("sha256:")
    r = httpx.delete(f"{system.rest}/v1/datasets/to_delete")
    assert r.status_code == 200
    assert httpx.get(f"{system.rest}/v1/datasets/to_delete").status_code == 404
    assert _lake_files(system, "to_delete") == []
    r = _rest_sql(system, "SELECT * FROM to_delete")
    assert r.status_code == 404


def test_modes_and_idempotency(client):
    base = b"id,v\n1,10\n2,20\n"
    first = client.ingest("modes", base, format="csv", mode="create")
    again = client.ingest("modes", base, format="csv", mode="append")
    assert again.deduplicated and again.version == first.version
    assert client.sql("SELECT count(*) FROM modes").rows == [[2]]
    with pytest.raises(AlreadyExists):
        client.ingest("modes", b"id,v\n9,9\n", format="csv", mode="create")

    appended = client.ingest("modes", b"id,v\n3,30\n", format="csv", mode="append")
    assert appended.version == 2
    assert client.sql("SELECT sum(v) FROM modes").rows == [[60]]

    replaced = client.ingest("modes", b"id,v\n7,70\n", format="csv", mode="replace")
    assert replaced.version == 3
    assert client.sql("SELECT id, v FROM modes").rows == [[7, 70]]
    assert [v.version for v in client.list_versions("modes")] == [3, 2, 1]


def test_upsert_merges_on_read_gate_g3_1_c(client):
    client.ingest("workers_m", b"id,name,state\n1,ann,IL\n2,bo,WI\n3,cy,IL\n", format="csv", mode="create")
    up = client.ingest(
        "workers_m", b"id,name,state\n2,bo,IL\n4,di,WI\n", format="csv", mode="upsert", primary_key=["id"]
    )
    assert up.version == 2
    rows = client.sql("SELECT id, name, state FROM workers_m ORDER BY id").rows
    assert rows == [[1, "ann", "IL"], [2, "bo", "IL"], [3, "cy", "IL"], [4, "di", "WI"]]
    client.ingest("workers_m", b"id\n3\n", format="csv", mode="delete", primary_key=["id"])
    assert client.sql("SELECT id FROM workers_m ORDER BY id").rows == [[1], [2], [4]]
    # The latest delta wins over an earlier one for the same key.
    client.ingest("workers_m", b"id,name,state\n2,bo,MN\n", format="csv", mode="upsert", primary_key=["id"])
    assert client.sql("SELECT state FROM workers_m WHERE id = 2").rows == [["MN"]]


@pytest.mark.parametrize(
    ("fmt", "body"),
    [
        ("tsv", b"id\tname\n1\tann\n2\tbo\n"),
        ("json", b'[{"id": 1, "name": "ann"}, {"id": 2, "name": "bo"}]'),
        ("ndjson", b'{"id": 1, "name": "ann"}\n{"id": 2, "name": "bo"}\n'),
    ],
)
def test_text_formats(client, fmt, body):
    name = f"fmt_{fmt}"
    client.ingest(name, body, format=fmt, mode="replace")
    assert client.sql(f"SELECT id, name FROM {name} ORDER BY id").rows == [[1, "ann"], [2, "bo"]]


def test_parquet_upload_is_rewritten_as_zstd(system, client, tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "x": ["a", "b", "c"]}), src, compression="snappy")
    client.ingest("from_parquet", src, format="parquet", mode="replace")
    files = _lake_files(system, "from_parquet")
    assert files
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert client.sql("SELECT count(*) FROM from_parquet").rows == [[3]]


def test_gate_g3_1_a_first_row_of_a_500k_dataset(client):
    def rows():
        yield b"id,name,state,rate\n"
        for start in range(0, 500_000, 50_000):
            yield "".join(f"{i},worker{i},IL,{i % 50}.5\n" for i in range(start, start + 50_000)).encode()

    client.ingest("workers_500k", rows(), format="csv", mode="replace")
    table = client.query("SELECT * FROM workers_500k LIMIT 1")
    assert table.num_rows == 1
    assert table.schema.names == ["id", "name", "state", "rate"]
    assert [str(t) for t in table.schema.types] == ["int64", "string", "string", "double"]


def test_row_cap_on_json_responses(system):
    r = _rest_sql(system, "SELECT * FROM range(100000)", max_rows=5)
    body = r.json()
    assert r.status_code == 200 and body["truncated"] is True and len(body["rows"]) == 5


def test_query_timeout_is_deadline_exceeded(system, client):
    slow = "SELECT count(*) FROM range(100000000000) a"
    with pytest.raises(DeadlineExceeded):
        client.sql(slow, timeout_s=0.3)
    r = _rest_sql(system, slow, timeout="0.3s")
    assert r.status_code == 504
    assert r.json()["details"][0]["reason"] == "QUERY_TIMEOUT"


def test_cancel_query_by_id(client):
    query_id = client.new_query_id()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            client.sql("SELECT count(*) FROM range(100000000000) a", query_id=query_id, timeout_s=60)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.cancel_query(query_id)
            break
        except NotFound:
            time.sleep(0.05)  # not registered yet
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert errors and isinstance(errors[0], Cancelled)


def test_large_arrow_result_streams_in_many_messages(client):
    reader = client.query_reader("SELECT i, i * 2 AS j, 'row' || i AS s FROM range(1000000) t(i)")
    total = 0
    batches = 0
    for batch in reader:
        total += batch.num_rows
        batches += 1
    assert total == 1_000_000 and batches > 1
