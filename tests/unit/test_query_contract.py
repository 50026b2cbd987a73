"""The query API's contract, run against both implementations: the in-process core and
the remote over gRPC (lakehouse.api.query.RemoteQuery). Each test asserts the same domain
types and the same errors (class, code and reason) both ways."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.query import QueryApi, RemoteQuery, Rows
from lakehouse.servers.app import build_server
from lakehouse.servers.ingest.model import IngestSpec
from lakehouse.servers.settings import Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

PEOPLE = b"id,name,score\n1,ann,1.5\n2,bo,2.0\n3,cy,\n"
SLOW_SQL = "SELECT count(*) FROM range(100000000000) a"
REGISTER_GRACE_S = 0.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    lh = build_server(Settings(home=tmp_path_factory.mktemp("contract") / "home"), "storage,catalog,ingest,query")
    lh.runtime.ingest.ingest(IngestSpec("people", mode=WriteMode.CREATE), [PEOPLE])
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[QueryApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.query, RemoteQuery)


def test_rows_are_the_same_domain_type_with_typed_values(api: QueryApi) -> None:
    result = api.rows("SELECT id, name, score FROM people ORDER BY id")
    assert isinstance(result, Rows)
    assert result.columns == [("id", "BIGINT"), ("name", "VARCHAR"), ("score", "DOUBLE")]
    assert result.rows == [[1, "ann", 1.5], [2, "bo", 2.0], [3, "cy", None]]
    assert [type(v) for v in result.rows[1]] == [int, str, float]
    assert not result.truncated


def test_integers_beyond_2_53_stay_exact(api: QueryApi) -> None:
    big = 2**53 + 1
    result = api.rows(f"SELECT {big}::BIGINT AS big, -{big}::BIGINT AS neg, 7::BIGINT AS small")
    assert result.rows == [[big, -big, 7]] and all(type(v) is int for v in result.rows[0])


def test_rows_are_capped_and_say_so(api: QueryApi) -> None:
    result = api.rows("SELECT id FROM people ORDER BY id", max_rows=2)
    assert result.rows == [[1], [2]] and result.truncated


def test_stream_is_arrow(api: QueryApi) -> None:
    table = api.stream("SELECT id, name FROM people ORDER BY id").read_all()
    assert table.schema == pa.schema([("id", pa.int64()), ("name", pa.string())])
    assert table.column("name").to_pylist() == ["ann", "bo", "cy"]


@pytest.mark.parametrize(
    ("call", "error", "reason", "field"),
    [
        (lambda a: a.rows("SELECT * FROM nowhere"), errors.NotFound, "DATASET_NOT_FOUND", None),
        (lambda a: a.rows("SELEC 1"), errors.InvalidArgument, "SQL_SYNTAX", None),
        (lambda a: a.rows("   "), errors.InvalidArgument, "INVALID_FIELD", "sql"),
        (lambda a: a.rows("SELECT 1", max_rows=-1), errors.InvalidArgument, "INVALID_MAX_ROWS", "max_rows"),
        (lambda a: a.stream("SELECT * FROM nowhere").read_all(), errors.NotFound, "DATASET_NOT_FOUND", None),
        (lambda a: a.cancel("no-such-query"), errors.NotFound, "QUERY_NOT_FOUND", None),
        (lambda a: a.cancel(""), errors.InvalidArgument, "INVALID_FIELD", "query_id"),
        (lambda a: a.rows(SLOW_SQL, timeout_s=0.3), errors.DeadlineExceeded, "QUERY_TIMEOUT", None),
    ],
    ids=[
        "unknown-dataset",
        "syntax",
        "empty-sql",
        "negative-max-rows",
        "stream-unknown",
        "cancel-unknown",
        "cancel-no-id",
        "timeout",
    ],
)
def test_errors_are_the_same_both_ways(api: QueryApi, call, error, reason, field) -> None:
    with pytest.raises(error) as info:
        call(api)
    assert type(info.value) is error and info.value.reason == reason, info.value
    if field is not None:
        assert [v.field for v in info.value.violations] == [field]


def test_a_running_query_is_cancelled_by_its_id(api: QueryApi) -> None:
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            api.rows(SLOW_SQL, query_id="contract-cancel")
        except errors.LakehouseError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            api.cancel("contract-cancel")
            break
        except errors.NotFound:
            assert time.monotonic() < deadline, "the query never started"
            time.sleep(0.02)
    worker.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], errors.Cancelled), outcome


def test_a_query_id_in_use_is_refused(api: QueryApi) -> None:
    done: list[object] = []

    def run() -> None:
        try:
            api.rows(SLOW_SQL, query_id="contract-busy", timeout_s=5)
        except errors.LakehouseError as exc:
            done.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(REGISTER_GRACE_S)  # the slow query binds and registers within milliseconds
    with pytest.raises(errors.AlreadyExists) as info:
        api.rows("SELECT 1", query_id="contract-busy")
    assert info.value.reason == "QUERY_ID_IN_USE"
    api.cancel("contract-busy")
    worker.join(10)
    assert len(done) == 1 and isinstance(done[0], errors.Cancelled), done
