"""What the CLI prints: values by their Arrow type, response summaries, and the command
wiring (--json, `corpora NAME`, the sql row cap) against a fake client, no server."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest
from google.protobuf import struct_pb2
from typer.testing import CliRunner

from lakehouse.cli import app as cli
from lakehouse.cli import common as cli_common
from lakehouse.cli import format as fmt
from lakehouse.client import SqlResult
from lakehouse.v1 import catalog_pb2, ingest_pb2, models_pb2, vector_pb2

# Values ------------------------------------------------------------------------------


def test_human_bytes() -> None:
    assert [fmt.human_bytes(n) for n in (0, 1023, 1536, 5 * 1024 * 1024)] == ["0 B", "1023 B", "1.5 KiB", "5.0 MiB"]


@pytest.mark.parametrize(
    ("array", "cells"),
    [
        (pa.array([397, None, -2], pa.int64()), ["397", "NULL", "-2"]),
        (pa.array([0.1, 2.0, 1e300, None], pa.float64()), ["0.1", "2.0", "1e+300", "NULL"]),
        (pa.array([0.1, 7.5], pa.float32()), ["0.1", "7.5"]),
        (pa.array([Decimal("12.50")], pa.decimal128(10, 2)), ["12.50"]),
        (pa.array([Decimal("6")], pa.decimal128(38, 0)), ["6"]),  # sum(BIGINT) is a HUGEINT
        (pa.array([True, False]), ["true", "false"]),
        (pa.array(["a\nb", "c"]), ["a\\nb", "c"]),
        (pa.array(["x", "y", "x"]).dictionary_encode(), ["x", "y", "x"]),
        (pa.array([dt.date(2024, 1, 2)]), ["2024-01-02"]),
        (pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("us")), ["2024-01-02T03:04:05"]),
        (pa.array([1_700_000_000_123_456_789], pa.timestamp("ns")), ["2023-11-14T22:13:20.123456789"]),
        (pa.array([0], pa.timestamp("s", tz="UTC")), ["1970-01-01T00:00:00+00:00"]),
        (pa.array([[1, 2], None]), ["[1, 2]", "NULL"]),
        (pa.array([{"a": 1, "b": "x"}]), ['{"a": 1, "b": "x"}']),
    ],
)
def test_cells_follow_the_arrow_type(array: pa.Array, cells: list[str]) -> None:
    assert fmt.column_cells(array) == cells
    assert fmt.column_cells(pa.chunked_array([array])) == cells


def test_table_right_aligns_numbers() -> None:
    table = pa.table({"state": ["IL", "WI"], "n": pa.array([397, 3], pa.int64())})
    assert fmt.table_lines(table) == ["state |   n", "------+----", "IL    | 397", "WI    |   3"]


def test_empty_result_still_names_its_columns() -> None:
    table = pa.table({"a": pa.array([], pa.int32())})
    assert fmt.table_lines(table) == ["a", "-"]


def _reader(*sizes: int) -> pa.RecordBatchReader:
    schema = pa.schema([("x", pa.int64())])
    batches, start = [], 0
    for n in sizes:
        batches.append(pa.record_batch([pa.array(range(start, start + n), pa.int64())], schema=schema))
        start += n
    return pa.RecordBatchReader.from_batches(schema, iter(batches))


@pytest.mark.parametrize(
    ("sizes", "limit", "rows", "truncated"),
    [
        ((2, 2, 2), 3, 3, True),
        ((2, 2, 2), 4, 4, True),
        ((2, 2, 2), 6, 6, False),
        ((2, 0), 2, 2, False),
        ((), 5, 0, False),
    ],
)
def test_take_rows(sizes: tuple[int, ...], limit: int, rows: int, truncated: bool) -> None:
    table, more = fmt.take_rows(_reader(*sizes), limit)
    assert (table.num_rows, more) == (rows, truncated)
    assert table.column("x").to_pylist() == list(range(rows))


def test_take_rows_stops_reading_at_the_cap() -> None:
    read = []

    def batches():
        for i in range(10):
            read.append(i)
            yield pa.record_batch([pa.array([i])], names=["x"])

    table, more = fmt.take_rows(pa.RecordBatchReader.from_batches(pa.schema([("x", pa.int64())]), batches()), 2)
    assert more and table.num_rows == 2 and read == [0, 1, 2]


def test_sql_json_keeps_integers_integral() -> None:
    columns = [("state", "VARCHAR"), ("n", "BIGINT"), ("big", "HUGEINT"), ("avg", "DOUBLE"), ("d", "DECIMAL(4,2)")]
    out = fmt.sql_json(columns, [["IL", 2.0, "9007199254740993", 2.0, "1.50"]], False)
    assert json.dumps(out["rows"]) == '[["IL", 2, 9007199254740993, 2.0, "1.50"]]'
    assert out["columns"][1] == ["n", "BIGINT"] and out["truncated"] is False


# Summaries -----------------------------------------------------------------------------


def _result(**kw) -> ingest_pb2.IngestResult:
    base = dict(dataset="people", version=1, mode="append", rows=3, bytes_in=54, bytes_written=1640, files=1)
    return ingest_pb2.IngestResult(**{**base, **kw})


def test_ingest_summary_is_one_line_by_default() -> None:
    arrow_schema = catalog_pb2.Schema(arrow_schema=b"\xff" * 300)
    lines = fmt.ingest_lines(_result(schema=arrow_schema, source_hash="sha256:ab"), 0.234)
    assert lines == ["people v1 (append): 3 rows, 54 B in -> 1.6 KiB written, 1 file, 0.23s"]


def test_ingest_summary_says_how_the_source_was_read() -> None:
    renames = [ingest_pb2.ColumnRename(index=2, original="name", name="name_1")]
    lines = fmt.ingest_lines(_result(header="given", skipped_lines=1, renames=renames), 1.0)
    assert lines[1:] == ["  header: given, 1 line skipped", "  renamed 'name' -> 'name_1' (column 2)"]
    assert fmt.ingest_lines(_result(header="detected"), 1.0)[1:] == ["  header: detected"]


def test_deduplicated_ingest_says_nothing_was_written() -> None:
    (line,) = fmt.ingest_lines(_result(deduplicated=True), 0.05)
    assert line == "people v1 (append): deduplicated: these 54 B were already ingested, nothing written, 0.05s"


def test_workbook_ingest_has_a_line_per_sheet() -> None:
    staff = _result(dataset="book_staff", rows=2, files=1, read_options=ingest_pb2.ReadOptions(sheet="Staff"))
    empty = ingest_pb2.IngestResult(
        dataset="book_notes", read_options=ingest_pb2.ReadOptions(sheet="Notes"), reasoning="sheet 'Notes' is empty"
    )
    book = _result(dataset="book", version=0, rows=2, sheets=[staff, empty])
    assert fmt.ingest_lines(book, 0.5) == [
        "book (append): 2 rows, 54 B in -> 1.6 KiB written, 1 file, 0.50s",
        "  sheet 'Staff' -> book_staff v1: 2 rows, 54 B in -> 1.6 KiB written, 1 file",
        "  sheet 'Notes': sheet 'Notes' is empty",
    ]


def test_dataset_lines() -> None:
    fields = [catalog_pb2.Field(name="id", type="int64"), catalog_pb2.Field(name="name", type="string")]
    current = catalog_pb2.DatasetVersion(
        version=2,
        base_rows=3,
        size_bytes=2048,
        files=[catalog_pb2.DataFile()],
        deltas=[catalog_pb2.DataFile()],
        schema=catalog_pb2.Schema(fields=fields),
        primary_key=["id"],
    )
    lines = fmt.dataset_lines(catalog_pb2.Dataset(name="people", current=current, version_count=2))
    assert lines == [
        "people v2: 3 rows, 2.0 KiB in 1 file + 1 delta, 2 versions",
        "  id int64, name string",
        "  primary key: id",
    ]


def _corpus(**kw) -> vector_pb2.Corpus:
    base = dict(name="notes", count=3, embedding_model="local/all-MiniLM-L6-v2", dimension=384, metric="cosine")
    return vector_pb2.Corpus(**{**base, **kw})


def test_corpus_line() -> None:
    assert fmt.corpus_line(_corpus()) == "notes\t3 items\tlocal/all-MiniLM-L6-v2\t384-d cosine"
    assert fmt.corpus_line(_corpus(count=1, embedding_model="")) == "notes\t1 item\t-\t384-d cosine"


def test_corpus_lines_show_generations_and_tombstones() -> None:
    lines = fmt.corpus_lines(_corpus(generation=2, generations=[1, 2], tombstones=4, hnsw_m=16, ef_construction=100))
    assert lines[1] == "  generation 2 (on storage: 1, 2), 0 B, HNSW M=16 efConstruction=100"
    assert lines[2] == "  4 deleted items not yet compacted away"


def _hit(metadata: dict | None) -> vector_pb2.SearchResult:
    hit = vector_pb2.SearchResult(id="a", score=0.61234)
    if metadata is not None:
        s = struct_pb2.Struct()
        s.update(metadata)
        hit.metadata.CopyFrom(s)
    return hit


def test_hit_lines_preview_text_or_metadata() -> None:
    assert fmt.hit_line(_hit({"text": "forklift\noperator", "team": "ops"})) == "0.6123\ta\tforklift operator"
    assert fmt.hit_line(_hit({"team": "ops"})) == '0.6123\ta\t{"team": "ops"}'
    assert fmt.hit_line(_hit(None)) == "0.6123\ta"
    long = fmt.hit_line(_hit({"text": "x" * 500}))
    assert len(long.split("\t")[2]) == fmt.PREVIEW_CHARS and long.endswith("…")


def test_embed_lines_show_the_dimension_and_first_values() -> None:
    resp = models_pb2.EmbedResponse(
        provider="hash", model="hash-8", dimension=8, embeddings=[models_pb2.Embedding(values=[0.5] * 8)]
    )
    assert fmt.embed_lines(resp, ["hi"]) == [
        "hash/hash-8, 8 dimensions",
        "[0.5000, 0.5000, 0.5000, 0.5000, 0.5000, ...]\thi",
    ]


def _service(name: str, component: str, status: str = "SERVING", address: str = "", detail: str = "") -> dict:
    """One entry of GetHealth's services, as the client's health() gives it (every field)."""
    service = f"lakehouse.v1.{name}"
    return {"service": service, "status": status, "component": component, "address": address, "detail": detail}


UNREACHABLE_7001 = "unreachable: UNAVAILABLE: failed to connect to all addresses"


def _status(*, storage: str = "SERVING", detail: str = "") -> dict:
    """What `status --json` prints for a split deployment: the process `up` started hosts
    ingest and query, storage and catalog are an upstream at :7001, vector one at :7003."""
    services = [
        _service("IngestService", "ingest"),
        _service("QueryService", "query"),
        _service("SystemService", "system"),
        _service("StorageService", "storage", storage, "127.0.0.1:7001", detail),
        _service("CatalogService", "catalog", storage, "127.0.0.1:7001", detail),
        _service("VectorService", "vector", "SERVING", "127.0.0.1:7003"),
    ]
    overall = "SERVING" if storage == "SERVING" else "NOT_SERVING"
    return {
        "running": True,
        "server_pid": 4242,
        "server_alive": True,
        "envoy_pid": 4243,
        "envoy_alive": True,
        "rest": "http://127.0.0.1:8080",
        "grpc": "127.0.0.1:8080",
        "grpc_upstream": "127.0.0.1:7002",
        "admin_socket": "/home/run/envoy-admin.sock",
        "health": {"status": overall, "services": services, "version": "0.1.0"},
    }


def test_status_summary_all_serving() -> None:
    assert fmt.status_summary(_status()).splitlines() == [
        "component(s)                  | address        |  pid | state",
        "------------------------------+----------------+------+--------",
        "ingest,query,system           | 127.0.0.1:7002 | 4242 | serving",
        "  lakehouse.v1.IngestService  |                |      | serving",
        "  lakehouse.v1.QueryService   |                |      | serving",
        "  lakehouse.v1.SystemService  |                |      | serving",
        "storage,catalog               | 127.0.0.1:7001 |    - | serving",
        "  lakehouse.v1.StorageService |                |      | serving",
        "  lakehouse.v1.CatalogService |                |      | serving",
        "vector                        | 127.0.0.1:7003 |    - | serving",
        "  lakehouse.v1.VectorService  |                |      | serving",
        "gateway (envoy)               | 127.0.0.1:8080 | 4243 | serving",
        "all 3 upstreams serving",
    ]


def test_status_summary_names_the_upstream_down_and_why() -> None:
    lines = fmt.status_summary(_status(storage="UNREACHABLE", detail=UNREACHABLE_7001)).splitlines()
    # Said once for the upstream, not once per service.
    assert lines[6] == f"storage,catalog               | 127.0.0.1:7001 |    - | unavailable: {UNREACHABLE_7001}"
    assert lines[7:9] == [
        "  lakehouse.v1.StorageService |                |      | unreachable",
        "  lakehouse.v1.CatalogService |                |      | unreachable",
    ]
    assert lines[9].endswith("| serving") and lines[-2].startswith("gateway (envoy) ")
    assert lines[-1] == "1 of 3 upstreams unavailable: storage,catalog at 127.0.0.1:7001"


def test_status_summary_without_a_gateway() -> None:
    info = {k: v for k, v in _status().items() if not k.startswith("envoy")}
    lines = fmt.status_summary(info).splitlines()
    assert not any(line.startswith("gateway") for line in lines)
    assert lines[-2] == "  lakehouse.v1.VectorService  |                |      | serving"
    assert lines[-1] == "all 3 upstreams serving"


def test_status_summary_of_a_stopped_or_unasked_system() -> None:
    assert fmt.status_summary({"running": False}).startswith("not running: ")
    stopped = {**_status(), "running": False, "server_alive": False}
    del stopped["health"]  # not asked: the server is gone
    lines = fmt.status_summary(stopped).splitlines()
    assert lines[2] == "server          | 127.0.0.1:7002 | 4242 | unavailable: process 4242 is not running"
    assert lines[-1] == "1 of 1 upstream unavailable: server at 127.0.0.1:7002"
    no_gateway = {**stopped, "server_alive": True, "envoy_alive": False}
    lines = fmt.status_summary(no_gateway).splitlines()
    assert lines[3] == "gateway (envoy) | 127.0.0.1:8080 | 4243 | unavailable: process 4243 is not running"
    assert lines[-1] == "health of 1 upstream unknown; gateway unavailable"
    failed = fmt.status_summary({**_status(), "health": {"error": "UNAVAILABLE: no\nanswer"}}).splitlines()
    assert failed[2].endswith("| unavailable: health check failed: UNAVAILABLE: no\\nanswer")


def test_status_summary_without_details_names_the_services_down() -> None:
    info = _status()
    info["health"]["services"][1] = _service("QueryService", "query", "NOT_SERVING")
    lines = fmt.status_summary(info).splitlines()
    assert lines[2].endswith("| 4242 | unavailable: lakehouse.v1.QueryService not serving")
    assert lines[4] == "  lakehouse.v1.QueryService   |                |      | not serving"
    assert lines[-1] == "1 of 3 upstreams unavailable: ingest,query,system at 127.0.0.1:7002"


# Commands against a fake client --------------------------------------------------------------


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.health_answer: dict = _status()["health"]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def query_reader(self, sql: str) -> pa.RecordBatchReader:
        self.calls.append(("query_reader", sql))
        return _reader(3, 3)

    def sql(self, sql: str, max_rows: int = 0) -> SqlResult:
        self.calls.append(("sql", sql, max_rows))
        return SqlResult([("n", "BIGINT")], [[3.0]], False)

    def ingest(self, dataset, file, **kw) -> ingest_pb2.IngestResult:
        return _result(dataset=dataset, schema=catalog_pb2.Schema(arrow_schema=b"\x01\x02"))

    def get_corpus(self, name: str) -> vector_pb2.Corpus:
        self.calls.append(("get_corpus", name))
        return _corpus(name=name)

    def list_corpora(self) -> list[vector_pb2.Corpus]:
        self.calls.append(("list_corpora",))
        return [_corpus(), _corpus(name="other", count=0)]

    def create_corpus(self, name: str, **params) -> vector_pb2.Corpus:
        self.calls.append(("create_corpus", name, params))
        return _corpus(name=name, count=0)

    def delete_corpus(self, name: str) -> None:
        self.calls.append(("delete_corpus", name))

    def health(self) -> dict:
        self.calls.append(("health",))
        return self.health_answer


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(cli, "open_client", lambda: client)
    monkeypatch.setattr(cli_common, "open_client", lambda: client)  # echo_listing's
    return client


def _run(*args: str):
    result = CliRunner().invoke(cli.app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_sql_table_takes_the_first_rows_and_says_so(fake: FakeClient) -> None:
    result = _run("sql", "SELECT x", "--max-rows", "4")
    assert result.stdout.splitlines() == ["x", "-", "0", "1", "2", "3"]
    assert "(truncated at 4 rows)" in result.stderr
    assert fake.calls == [("query_reader", "SELECT x")]


def test_sql_json_and_its_alias(fake: FakeClient) -> None:
    for flag in (["--json"], ["--output", "json"]):
        out = json.loads(_run("sql", "SELECT count(*) AS n", "--max-rows", "7", *flag).stdout)
        assert out["rows"] == [[3]] and json.dumps(out["rows"]) == "[[3]]"
    assert fake.calls[-1] == ("sql", "SELECT count(*) AS n", 7)


def test_ingest_prints_a_summary_or_the_whole_result(fake: FakeClient, tmp_path) -> None:
    (tmp_path / "p.csv").write_text("id\n1\n")
    summary = _run("ingest", "people", str(tmp_path / "p.csv")).stdout
    assert summary.startswith("people v1 (append): 3 rows") and "arrow_schema" not in summary
    full = json.loads(_run("ingest", "people", str(tmp_path / "p.csv"), "--json").stdout)
    assert full["rows"] == "3" and full["schema"]["arrow_schema"] == "AQI="


def test_corpora_commands(fake: FakeClient) -> None:
    assert _run("corpora").stdout.splitlines()[1] == "other\t0 items\tlocal/all-MiniLM-L6-v2\t384-d cosine"
    assert [c["name"] for c in json.loads(_run("corpora", "list", "--json").stdout)["corpora"]] == ["notes", "other"]
    assert json.loads(_run("corpora", "--json").stdout)["corpora"][0]["count"] == "3"
    assert _run("corpora", "notes").stdout.startswith("notes\t3 items")  # `corpora NAME` shows one
    assert json.loads(_run("corpora", "show", "notes", "--json").stdout)["dimension"] == 384
    assert _run("corpora", "create", "fresh", "--model", "local").stdout.startswith("created fresh\t0 items")
    assert _run("corpora", "delete", "fresh").stdout == "deleted corpus fresh\n"
    params = {"embedding_model": "local", "dimension": 0, "metric": "", "description": "", "tags": []}
    assert ("create_corpus", "fresh", params) in fake.calls
    assert ("get_corpus", "notes") in fake.calls and ("delete_corpus", "fresh") in fake.calls


def test_status_summary_or_json_and_exit_1_when_an_upstream_is_down(
    fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.servers import supervisor

    processes = {k: v for k, v in _status().items() if k != "health"}
    monkeypatch.setattr(supervisor, "status", lambda settings: dict(processes))
    assert _run("status").stdout.splitlines()[-1] == "all 3 upstreams serving"
    assert json.loads(_run("status", "--json").stdout) == {**processes, "health": fake.health_answer}

    fake.health_answer = _status(storage="UNREACHABLE", detail=UNREACHABLE_7001)["health"]
    for flag in ([], ["--json"]):
        down = CliRunner().invoke(cli.app, ["status", *flag])
        assert down.exit_code == 1, (down.output, down.exception)
    assert down.stdout.startswith("{") and json.loads(down.stdout)["health"]["status"] == "NOT_SERVING"
    assert CliRunner().invoke(cli.app, ["status"]).stdout.splitlines()[-1].startswith("1 of 3 upstreams unavailable")

    monkeypatch.setattr(supervisor, "status", lambda settings: {"running": False})
    stopped = CliRunner().invoke(cli.app, ["status", "--json"])
    assert stopped.exit_code == 1 and json.loads(stopped.stdout) == {"running": False}
