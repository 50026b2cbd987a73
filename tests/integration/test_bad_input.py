"""Bad input through the real interfaces: each case gets a clean gRPC status with
details (and the matching HTTP code + JSON body through Envoy), and nothing is
left half-written: no catalog version, no data files."""

from __future__ import annotations

import httpx
import pytest

from lakehouse.api.errors import InvalidArgument, LakehouseError, NotFound, PermissionDenied

HUNDRED_MB = 100 * 1024 * 1024


def _reason(body: dict) -> str:
    return next(d["reason"] for d in body["details"] if d["@type"].endswith("ErrorInfo"))


def _assert_nothing_written(system, client, dataset: str) -> None:
    with pytest.raises(NotFound):
        client.get_dataset(dataset)
    root = system.settings.lake_root / "datasets" / dataset
    assert not root.exists() or not any(root.rglob("*.parquet")), list(root.rglob("*"))


BAD_UPLOADS = [
    ("ragged_rows", "csv", "", b"a,b,c\n1,2,3\n4,5\n6,7,8\n", "CSV_DIALECT_NOT_FOUND"),
    ("too_many_fields", "csv", "", b"a,b\n1,2\n3,4,5\n", "CSV_DIALECT_NOT_FOUND"),
    ("bad_quoting", "csv", "", b'a,b\n1,"unterminated\n2,3\n', "MALFORMED_QUOTED_FIELD"),
    ("invalid_utf8", "csv", "", b"a,b\n1,caf\xe9\n2,ok\n", "INVALID_ENCODING"),
    ("empty_file", "csv", "", b"", "EMPTY_INPUT"),
    ("schema_conflict", "csv", "id:int64,name:string", b"id,name\n1,ann\nx,bo\n", "SCHEMA_CONFLICT"),
    ("bad_json", "json", "", b'[{"a": 1}, {"a": ', "MALFORMED_INPUT"),
]


@pytest.mark.parametrize(("dataset", "fmt", "schema", "body", "reason"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_upload_over_grpc(system, client, dataset, fmt, schema, body, reason):
    name = f"bad_grpc_{dataset}"
    with pytest.raises(InvalidArgument) as exc:
        client.ingest(name, body, format=fmt, mode="create", schema=schema)
    assert exc.value.reason == reason, exc.value
    _assert_nothing_written(system, client, name)


@pytest.mark.parametrize(("dataset", "fmt", "schema", "body", "reason"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_upload_over_rest(system, client, dataset, fmt, schema, body, reason):
    name = f"bad_rest_{dataset}"
    params = {"format": fmt, "mode": "create", **({"schema": schema} if schema else {})}
    r = httpx.post(f"{system.rest}/v1/datasets/{name}:ingest", params=params, content=body, timeout=60)
    assert r.status_code == 400, r.text
    assert _reason(r.json()) == reason
    _assert_nothing_written(system, client, name)


def test_schema_conflict_names_the_column(client):
    with pytest.raises(InvalidArgument) as exc:
        client.ingest("bad_schema_msg", b"id,name\n1,ann\nx,bo\n", format="csv", schema="id:int64,name:string")
    assert "id" in exc.value.message


def test_hundred_megabyte_single_field(system, client):
    def body():
        yield b"id,blob\n1,"
        chunk = b"x" * (1024 * 1024)
        for _ in range(HUNDRED_MB // len(chunk)):
            yield chunk
        yield b"\n2,small\n"

    with pytest.raises(InvalidArgument) as exc:
        client.ingest("huge_field", body(), format="csv", mode="create")
    assert exc.value.reason == "RECORD_TOO_LARGE"
    _assert_nothing_written(system, client, "huge_field")


def test_unknown_dataset(system, client):
    with pytest.raises(NotFound) as exc:
        client.get_dataset("never_made")
    assert exc.value.reason == "DATASET_NOT_FOUND"
    r = httpx.delete(f"{system.rest}/v1/datasets/never_made")
    assert r.status_code == 404
    r = httpx.post(f"{system.rest}/v1/sql", json={"sql": "SELECT * FROM never_made"})
    assert r.status_code == 404 and _reason(r.json()) == "DATASET_NOT_FOUND"


@pytest.mark.parametrize("name", ["Upper", "1starts_with_digit", "has-dash", "x" * 80, "semi;colon"])
def test_invalid_dataset_name(system, client, name):
    with pytest.raises(InvalidArgument) as exc:
        client.ingest(name, b"a\n1\n", format="csv")
    assert exc.value.reason == "INVALID_DATASET_NAME"
    r = httpx.post(f"{system.rest}/v1/datasets/{name}:ingest", params={"format": "csv"}, content=b"a\n1\n")
    assert r.status_code == 400 and _reason(r.json()) == "INVALID_DATASET_NAME"


def test_invalid_mode_and_format(client):
    with pytest.raises(InvalidArgument) as exc:
        client.ingest("okname", b"a\n1\n", format="xlsx")
    assert exc.value.violations == [] or exc.value.reason
    with pytest.raises(InvalidArgument):
        client.ingest("okname", b"a\n1\n", mode="merge")
    with pytest.raises(InvalidArgument):
        client.ingest("okname", b"a\n1\n", format="csv", mode="upsert")  # no primary key


def test_sql_syntax_error(system, client):
    with pytest.raises(InvalidArgument) as exc:
        client.sql("SELEC 1")
    assert exc.value.reason == "SQL_SYNTAX"
    r = httpx.post(f"{system.rest}/v1/sql", json={"sql": "SELECT FROM WHERE"})
    assert r.status_code == 400 and _reason(r.json()) == "SQL_SYNTAX"


SANDBOX_ESCAPES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "COPY (SELECT 1) TO '/tmp/lakehouse_escape.csv'",
    "ATTACH '/tmp/lakehouse_escape.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SELECT * FROM read_parquet('/etc/*.parquet')",
    "SELECT * FROM 'https://example.com/x.parquet'",
    "CREATE TABLE t AS SELECT 1",
]


@pytest.mark.parametrize("sql", SANDBOX_ESCAPES)
def test_sandbox_escapes_are_refused(system, client, sql):
    with pytest.raises(LakehouseError) as exc:
        client.sql(sql)
    assert isinstance(exc.value, (PermissionDenied, InvalidArgument)), exc.value
    r = httpx.post(f"{system.rest}/v1/sql", json={"sql": sql})
    assert r.status_code in (400, 403), r.text
    # The shared engine is not poisoned by the attempt.
    assert client.sql("SELECT 42").rows == [[42]]


def test_read_csv_of_system_file_is_permission_denied(client):
    with pytest.raises(PermissionDenied) as exc:
        client.sql("SELECT * FROM read_csv('/etc/passwd')")
    assert exc.value.reason == "SANDBOX_VIOLATION"


def test_upsert_with_mismatched_schema(system, client):
    client.ingest("schema_fixed", b"id,v\n1,2\n", format="csv", mode="create")
    with pytest.raises(InvalidArgument) as exc:
        client.ingest("schema_fixed", b"id,other\n1,2\n", format="csv", mode="append")
    assert exc.value.reason == "SCHEMA_MISMATCH"
    assert client.get_dataset("schema_fixed").current.version == 1
