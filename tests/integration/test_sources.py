"""Postgres sources and pulls end to end: a real PostgreSQL 15 (tests/support/postgres.py),
a real server and Envoy; every call through the generated stub (the Python client) and
REST through the gateway, with the HTTP code each error maps to."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import httpx
import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.channel import open_channel
from lakehouse.api.sources import PullSpec, RemoteSources
from tests.support.postgres import Postgres, postgres  # noqa: F401 - the fixture
from tests.support.system import System

SOURCE = "hr"
# What the interrupted and cancelled pulls read: every 500th row sleeps, so the stream
# lasts long enough (about 20 x delay s) to be cut while batches are still arriving.
SLOW_QUERY = "SELECT e.id, e.payload FROM events e, delay d WHERE e.id % 500 <> 0 OR pg_sleep(d.s) IS NOT NULL"
SLOW_DELAY_S = 0.1
CONNECT_TIMEOUT_S = 2
# Bounds on waits (not assertions about speed): how much past the connect timeout an
# unreachable host may take to fail, and how long to wait for a stream to be under way.
TIMEOUT_SLACK_S = 5.0
WAIT_S = 30.0
CLI_TIMEOUT_S = 60
REST_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def pg(postgres: Postgres) -> Postgres:  # noqa: F811
    postgres.sql(
        """CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE workers (id serial PRIMARY KEY, name text NOT NULL, state text, updated_at timestamptz NOT NULL);
INSERT INTO workers (name, state, updated_at)
  SELECT 'worker ' || i, CASE WHEN i % 2 = 0 THEN 'IL' ELSE 'WI' END,
         timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute'
  FROM generate_series(1, 100) i;
CREATE TABLE x (v int);
INSERT INTO x VALUES (1), (2), (3);
CREATE TABLE dupes (k int, v text);
INSERT INTO dupes VALUES (1, 'a'), (1, 'b'), (2, 'c');
CREATE TABLE empty_t (a int, b text);
CREATE TABLE secret_t (s text);
INSERT INTO secret_t VALUES ('classified');
CREATE TABLE events (id serial PRIMARY KEY, payload text NOT NULL);
INSERT INTO events (payload) SELECT md5(i::text) FROM generate_series(1, 100) i;
CREATE TABLE delay (s float8);
INSERT INTO delay VALUES (0);
CREATE TABLE alltypes (
  i2 int2, i4 int4, i8 int8, num numeric, num52 numeric(5,2), f4 float4, f8 float8, b bool,
  t text, vc varchar(10), ch char(3), d date, ts timestamp, tstz timestamptz, j json, jb jsonb,
  ai int4[], at text[], u uuid, ba bytea, e mood, tm time, iv interval, ip inet);
INSERT INTO alltypes VALUES (
  -2, 4, 9000000000, 12345678901234567890.123456789, 123.45, 1.5, 2.25, true,
  'text', 'varchar', 'abc', '2020-01-02', '2024-05-06 07:08:09.123456', '2024-05-06 07:08:09+02',
  '{"a": 1}', '{"b": [1, 2]}', '{1,2,NULL}', '{"a","b"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '\\xdeadbeef', 'happy', '12:34:56', '1 day 2 hours', '10.1.2.3');
INSERT INTO alltypes (i2) VALUES (NULL);
CREATE ROLE reader LOGIN PASSWORD 'reader-pw';
GRANT SELECT ON workers TO reader"""
    )
    return postgres


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, pg: Postgres):
    env = {
        "LAKEHOUSE_SOURCES__CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
        # Small batches and row groups: a stream arrives in many pieces and writes files early.
        "LAKEHOUSE_SOURCES__BATCH_SIZE_HINT_BYTES": str(64 * 1024),
        "LAKEHOUSE_INGEST__ROW_GROUP_ROWS": "1000",
    }
    system = System.start(tmp_path_factory.mktemp("sources-home"), env)
    yield system
    system.stop()


@pytest.fixture(scope="module")
def client(system: System, pg: Postgres):
    with system.client() as c:
        c.create_source(SOURCE, host=pg.host, port=pg.port, database=pg.database, user=pg.user, password=pg.password)
        yield c


def _rest(system: System, method: str, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.request(method, f"{system.rest}{path}", json=body, timeout=REST_TIMEOUT_S)


def _rest_pull(system: System, dataset: str, **body) -> httpx.Response:
    return _rest(system, "POST", f"/v1/datasets/{dataset}:pull", body)


def _reason(r: httpx.Response) -> str:
    return next(d for d in r.json()["details"] if d["@type"].endswith("ErrorInfo"))["reason"]


def _sql(client, query: str) -> list:
    return client.sql(query).rows


def _versions(client, dataset: str) -> list[int]:
    try:
        return [v.version for v in client.list_versions(dataset)]
    except errors.NotFound:
        return []


def _files(system: System, dataset: str) -> set[str]:
    root = system.settings.lake_root / "datasets" / dataset
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")} if root.exists() else set()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The registry ------------------------------------------------------------------


def test_sources_over_rest_never_return_the_password(system, client, pg):
    body = {"name": "crm", "host": pg.host, "port": pg.port, "database": pg.database, "user": pg.user}
    r = _rest(system, "POST", "/v1/sources", {**body, "password": pg.password})
    assert r.status_code == 200, r.text
    assert r.json()["has_password"] is True and "password" not in r.json()
    r = _rest(system, "POST", "/v1/sources", {**body, "password": pg.password})
    assert r.status_code == 409 and _reason(r) == "SOURCE_EXISTS"
    r = _rest(system, "POST", "/v1/sources", {**body, "password": pg.password, "replace": True})
    assert r.status_code == 200, r.text
    listed = _rest(system, "GET", "/v1/sources")
    assert listed.status_code == 200 and pg.password not in listed.text
    flags = {s["name"]: s["has_password"] for s in listed.json()["sources"]}
    assert flags["crm"] is True and flags[SOURCE] is True
    got = _rest(system, "GET", "/v1/sources/crm")
    assert got.json()["user"] == pg.user and pg.password not in got.text
    assert client.get_source("crm").has_password
    # The password sits in its own file, readable by the server's user only.
    directory = system.settings.home_dir / "sources"
    assert stat.S_IMODE((directory / "secrets.json").stat().st_mode) == 0o600
    assert pg.password not in (directory / "registry.json").read_text()
    assert _rest(system, "DELETE", "/v1/sources/crm").status_code == 200
    r = _rest(system, "GET", "/v1/sources/crm")
    assert r.status_code == 404 and _reason(r) == "SOURCE_NOT_FOUND"
    r = _rest(system, "POST", "/v1/sources", {**body, "name": "Bad Name"})
    assert r.status_code == 400 and _reason(r) == "INVALID_SOURCE_NAME"


# Types -------------------------------------------------------------------------


def test_every_type_round_trips_into_a_queryable_dataset(system, client):
    result = client.pull("alltypes", SOURCE, table="alltypes")
    assert (result.version, result.rows, result.mode) == (1, 2, "replace") and result.bytes_read > 0
    stored = pa.ipc.read_schema(pa.py_buffer(client.get_dataset("alltypes").current.schema.arrow_schema))
    types = {f.name: f.type for f in stored}
    assert types == {
        "i2": pa.int16(),
        "i4": pa.int32(),
        "i8": pa.int64(),
        "num": pa.string(),
        "num52": pa.decimal128(5, 2),
        "f4": pa.float32(),
        "f8": pa.float64(),
        "b": pa.bool_(),
        "t": pa.string(),
        "vc": pa.string(),
        "ch": pa.string(),
        "d": pa.date32(),
        "ts": pa.timestamp("us"),
        "tstz": pa.timestamp("us", tz="UTC"),
        "j": pa.string(),
        "jb": pa.string(),
        "ai": pa.list_(pa.int32()),
        "at": pa.list_(pa.string()),
        "u": pa.string(),
        "ba": pa.binary(),
        "e": pa.string(),
        "tm": pa.time64("us"),
        "iv": pa.string(),
        "ip": pa.string(),
    }
    first, nulls = client.query("SELECT * FROM alltypes ORDER BY i2 NULLS LAST").to_pylist()
    assert first == {
        "i2": -2,
        "i4": 4,
        "i8": 9_000_000_000,
        "num": "12345678901234567890.123456789",
        "num52": decimal.Decimal("123.45"),
        "f4": 1.5,
        "f8": 2.25,
        "b": True,
        "t": "text",
        "vc": "varchar",
        "ch": "abc",
        "d": dt.date(2020, 1, 2),
        "ts": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
        "tstz": first["tstz"],
        "j": '{"a": 1}',
        "jb": '{"b": [1, 2]}',
        "ai": [1, 2, None],
        "at": ["a", "b"],
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "ba": b"\xde\xad\xbe\xef",
        "e": "happy",
        "tm": dt.time(12, 34, 56),
        "iv": "P1DT2H",
        "ip": "10.1.2.3/32",  # inet::text keeps the mask
    }
    assert first["tstz"] == dt.datetime(2024, 5, 6, 5, 8, 9, tzinfo=dt.UTC)
    assert all(v is None for v in nulls.values())
    # SQL over the mapped types: JSON text, decimals, arrays, the enum label.
    rows = _sql(
        client,
        "SELECT json_extract(jb, '$.b[1]')::INT, num52 * 2, ai[2], e, tstz > TIMESTAMPTZ '2024-01-01' FROM alltypes"
        " WHERE i2 IS NOT NULL",
    )
    assert rows == [[2, "246.90", 2, "happy", True]]
    r = _rest(system, "POST", "/v1/sql", {"sql": "SELECT u, ba, iv FROM alltypes WHERE i2 = -2"})
    assert r.status_code == 200 and r.json()["rows"] == [["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "3q2+7w==", "P1DT2H"]]


# Modes -------------------------------------------------------------------------


def test_replace_append_upsert_and_an_empty_table(system, client, pg):
    assert client.pull("w_modes", SOURCE, table="workers").version == 1
    again = client.pull("w_modes", SOURCE, table="public.workers", mode="replace")
    assert again.version == 2 and _sql(client, "SELECT count(*) FROM w_modes") == [[100]]
    appended = client.pull("w_modes", SOURCE, query="SELECT * FROM workers WHERE id <= 10", mode="append")
    assert appended.rows == 10 and _sql(client, "SELECT count(*) FROM w_modes") == [[110]]
    pg.sql("UPDATE workers SET state = 'MN' WHERE id = 3")
    up = client.pull("w_up", SOURCE, table="workers", mode="upsert", key=["id"])
    assert up.version == 1
    pg.sql("UPDATE workers SET state = 'IL' WHERE id = 3")
    r = _rest_pull(system, "w_up", source=SOURCE, query="SELECT * FROM workers WHERE id = 3", mode="upsert", key=["id"])
    assert r.status_code == 200 and r.json()["version"] == "2", r.text
    assert _sql(client, "SELECT count(*), max(CASE WHEN id = 3 THEN state END) FROM w_up") == [[100, "IL"]]
    empty = client.pull("w_empty", SOURCE, table="empty_t")
    assert empty.rows == 0 and _sql(client, "SELECT count(*) FROM w_empty") == [[0]]
    assert [f.name for f in client.get_dataset("w_empty").current.schema.fields] == ["a", "b"]


def test_upsert_needs_a_key_and_unique_key_values(system, client):
    r = _rest_pull(system, "d_up", source=SOURCE, table="dupes", mode="upsert")
    assert r.status_code == 400 and _reason(r) == "PRIMARY_KEY_REQUIRED"
    assert [v["field"] for v in r.json()["details"][-1]["field_violations"]] == ["key"]
    with pytest.raises(errors.InvalidArgument) as info:
        client.pull("d_up", SOURCE, table="dupes", mode="upsert", key=["k"])
    assert info.value.reason == "INVALID_KEY" and "occurs 2 times" in info.value.message
    with pytest.raises(errors.InvalidArgument) as info:
        client.pull("d_up", SOURCE, table="dupes", mode="upsert", key=["nope"])
    assert info.value.reason == "UNKNOWN_COLUMN"
    assert _versions(client, "d_up") == []


# Incremental -------------------------------------------------------------------


def test_incremental_pulls_remember_the_watermark(system, client, pg):
    first = client.pull("w_inc", SOURCE, table="workers", incremental_column="id")
    assert (first.mode, first.rows, first.watermark_before, first.watermark_after) == ("append", 100, "", "100")
    pg.sql("INSERT INTO workers (name, state, updated_at) VALUES ('new a', 'IL', now()), ('new b', 'WI', now())")
    second = client.pull("w_inc", SOURCE, table="workers", incremental_column="id")
    assert (second.rows, second.watermark_before, second.watermark_after) == (2, "100", "102")
    nothing = client.pull("w_inc", SOURCE, table="workers", incremental_column="id")
    assert nothing.unchanged and nothing.version == second.version and nothing.rows == 0
    assert _sql(client, "SELECT count(*), count(DISTINCT id) FROM w_inc") == [[102, 102]]
    # Changed rows by updated_at, merged by key; over REST.
    body = {"source": SOURCE, "table": "workers", "mode": "upsert", "key": ["id"], "incremental_column": "updated_at"}
    r = _rest_pull(system, "w_changes", **body)
    assert r.status_code == 200 and r.json()["rows"] == "102", r.text
    mark = r.json()["watermark_after"]
    pg.sql("UPDATE workers SET name = 'renamed', updated_at = now() + interval '1 hour' WHERE id = 7")
    r = _rest_pull(system, "w_changes", **body)
    assert r.json()["rows"] == "1" and r.json()["watermark_before"] == mark, r.text
    assert _sql(client, "SELECT name FROM w_changes WHERE id = 7") == [["renamed"]]
    assert _sql(client, "SELECT count(*) FROM w_changes") == [[102]]
    # The watermark is per source + table/query + column, and can be reset.
    reset = client.pull(
        "w_inc", SOURCE, table="workers", incremental_column="id", reset_watermark=True, mode="upsert", key=["id"]
    )
    assert reset.rows == 102 and reset.watermark_before == "" and reset.watermark_after == "102"
    bad = _rest_pull(system, "w_inc", source=SOURCE, table="workers", incremental_column="nope")
    assert bad.status_code == 400 and _reason(bad) == "UNKNOWN_COLUMN"


# Queries and names ---------------------------------------------------------------


def test_read_only_queries_are_pulled_and_writes_refused(system, client, pg):
    ok = client.pull(
        "q_ok", SOURCE, query="WITH s AS (SELECT state, count(*) AS n FROM workers GROUP BY state) SELECT * FROM s;"
    )
    assert ok.rows >= 2
    assert client.pull("q_values", SOURCE, query="VALUES (1, 'a'), (2, 'b') -- trailing comment").rows == 2
    refused = {
        "DELETE FROM x": "QUERY_NOT_READ_ONLY",  # the pre-check
        "SELECT 1; DROP TABLE x": "MULTIPLE_STATEMENTS",
        "WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d": "QUERY_NOT_READ_ONLY",  # Postgres itself
        "SELECT nextval('workers_id_seq')": "QUERY_NOT_READ_ONLY",
        "SELECT * FROM x FOR UPDATE": "QUERY_NOT_READ_ONLY",
        "SELECT * INTO y FROM x": "INVALID_QUERY",
    }
    for query, reason in refused.items():
        with pytest.raises(errors.InvalidArgument) as info:
            client.pull("q_bad", SOURCE, query=query)
        assert info.value.reason == reason, (query, info.value)
        r = _rest_pull(system, "q_bad", source=SOURCE, query=query)
        assert r.status_code == 400 and _reason(r) == reason, (query, r.text)
    assert pg.sql("SELECT count(*) FROM x") == [(3,)]
    assert _versions(client, "q_bad") == []


def test_a_table_name_carrying_injection_is_one_harmless_identifier(system, client, pg):
    for name in ("x; DROP TABLE x", 'x"; DROP TABLE x; --'):
        with pytest.raises(errors.NotFound) as info:
            client.pull("inj", SOURCE, table=name)
        assert info.value.reason == "TABLE_NOT_FOUND"
        r = _rest_pull(system, "inj", source=SOURCE, table=name)
        assert r.status_code == 404 and _reason(r) == "TABLE_NOT_FOUND"
    assert pg.sql("SELECT count(*) FROM x") == [(3,)]


def test_unknown_tables_and_sources_are_not_found(system, client):
    with pytest.raises(errors.NotFound) as info:
        client.pull("nf", SOURCE, table="no_such_table")
    assert info.value.reason == "TABLE_NOT_FOUND"
    r = _rest_pull(system, "nf", source=SOURCE, table="nope.workers")
    assert r.status_code == 404 and _reason(r) == "TABLE_NOT_FOUND"
    with pytest.raises(errors.NotFound) as info:
        client.pull("nf", "no_source", table="workers")
    assert info.value.reason == "SOURCE_NOT_FOUND"
    r = _rest_pull(system, "nf", source="no_source", table="workers")
    assert r.status_code == 404 and _reason(r) == "SOURCE_NOT_FOUND"


# Reaching the source -------------------------------------------------------------


def test_a_wrong_password_is_permission_denied_and_never_shown(system, client, pg):
    wrong = "not-the-Pa55word"
    client.create_source("wrong_pw", host=pg.host, port=pg.port, database=pg.database, user=pg.user, password=wrong)
    with pytest.raises(errors.PermissionDenied) as info:
        client.pull("pw", "wrong_pw", table="workers")
    assert info.value.reason == "SOURCE_AUTH_FAILED"
    assert wrong not in info.value.message and pg.password not in info.value.message
    r = _rest_pull(system, "pw", source="wrong_pw", table="workers")
    assert r.status_code == 403 and _reason(r) == "SOURCE_AUTH_FAILED" and wrong not in r.text
    # Postgres quotes the user name in its answer: a password that is also the user name is scrubbed.
    client.create_source("echo_pw", host=pg.host, port=pg.port, database=pg.database, user=wrong, password=wrong)
    with pytest.raises(errors.PermissionDenied) as info:
        client.pull("pw", "echo_pw", table="workers")
    assert wrong not in info.value.message and '"***"' in info.value.message
    with pytest.raises(errors.PermissionDenied):
        client.create_source(
            "checked",
            host=pg.host,
            port=pg.port,
            database=pg.database,
            user=pg.user,
            password=wrong,
            check_connection=True,
        )


def test_a_table_the_user_may_not_read_is_permission_denied(client, pg):
    client.create_source(
        "as_reader", host=pg.host, port=pg.port, database=pg.database, user="reader", password="reader-pw"
    )
    assert client.pull("reader_ok", "as_reader", table="workers").rows >= 100
    with pytest.raises(errors.PermissionDenied) as info:
        client.pull("reader_no", "as_reader", table="secret_t")
    assert info.value.reason == "SOURCE_PERMISSION_DENIED" and "classified" not in info.value.message


def test_unreachable_hosts_are_unavailable_within_the_timeout(system, client, pg):
    blackhole = socket.socket()  # accepts the TCP connection, never answers the sign-in
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(8)
    try:
        hosts = {
            "closed_port": ("127.0.0.1", _closed_port()),
            "blackhole": ("127.0.0.1", blackhole.getsockname()[1]),
            "unroutable": ("10.255.255.1", pg.port),
        }
        for name, (host, port) in hosts.items():
            client.create_source(name, host=host, port=port, database="db", user="u", password=pg.password)
            started = time.monotonic()
            with pytest.raises(errors.Unavailable) as info:
                client.pull("unreachable", name, table="workers")
            assert time.monotonic() - started < CONNECT_TIMEOUT_S + TIMEOUT_SLACK_S, name
            assert info.value.reason == "SOURCE_UNREACHABLE" and pg.password not in info.value.message, name
        r = _rest_pull(system, "unreachable", source="blackhole", table="workers")
        assert r.status_code == 503 and _reason(r) == "SOURCE_UNREACHABLE"
    finally:
        blackhole.close()


# Interrupted pulls ---------------------------------------------------------------


def _wait_for_stream(pg: Postgres) -> int:
    """The pid of the pull's backend once its COPY of SLOW_QUERY has streamed for a while."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        rows = pg.sql(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'lakehouse-pull' AND state = 'active'"
            " AND query LIKE 'COPY%pg_sleep%' AND query NOT LIKE '%LIMIT 0%' AND query NOT LIKE '%max(%'"
            " AND now() - query_start > interval '300 milliseconds'"
        )
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("the pull never started streaming")


def test_a_pull_cut_mid_stream_commits_nothing_and_a_re_pull_succeeds(system, client, pg):
    spec = {"query": SLOW_QUERY, "incremental_column": "id"}
    first = client.pull("ev", SOURCE, **spec)  # 100 rows, watermark 100
    before_files = _files(system, "ev")
    pg.sql("INSERT INTO events (payload) SELECT md5(i::text) FROM generate_series(1, 10000) i")
    pg.sql(f"UPDATE delay SET s = {SLOW_DELAY_S}")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            client.pull("ev", SOURCE, **spec)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        pid = _wait_for_stream(pg)
        assert pg.sql(f"SELECT pg_terminate_backend({pid})") == [(True,)]
    finally:
        worker.join(WAIT_S)
    assert outcome and isinstance(outcome[0], errors.Unavailable), outcome
    assert outcome[0].reason == "SOURCE_CONNECTION_LOST" and pg.password not in outcome[0].message
    assert _versions(client, "ev") == [first.version]  # no version
    assert _files(system, "ev") == before_files  # the attempt's files are gone
    journaled = [e for e in client.list_errors() if e.context.get("dataset") == "ev"]
    assert journaled and journaled[0].reason == "SOURCE_CONNECTION_LOST"
    assert all(pg.password not in json.dumps(dict(e.context)) + e.message for e in journaled)
    pg.sql("UPDATE delay SET s = 0")
    again = client.pull("ev", SOURCE, **spec)
    assert (again.version, again.rows, again.watermark_before) == (first.version + 1, 10000, "100")
    assert _sql(client, "SELECT count(*), count(DISTINCT id) FROM ev") == [[10100, 10100]]


def test_a_cancelled_pull_commits_nothing_and_leaves_no_session(system, pg):
    pg.sql(f"UPDATE delay SET s = {SLOW_DELAY_S}")
    stop = threading.Event()
    outcome: list[BaseException] = []
    channel = open_channel(system.grpc_address)
    api = RemoteSources(channel)

    def run() -> None:
        try:
            api.pull(PullSpec("ev_cancel", SOURCE, query=SLOW_QUERY), cancelled=stop.is_set)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        _wait_for_stream(pg)
        stop.set()
    finally:
        worker.join(WAIT_S)
        channel.close()
        pg.sql("UPDATE delay SET s = 0")
    assert outcome and isinstance(outcome[0], errors.Cancelled), outcome
    deadline = time.monotonic() + WAIT_S
    while pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lakehouse-pull'") != [(0,)]:
        assert time.monotonic() < deadline, "the pull's session outlived the cancel"
        time.sleep(0.05)
    with system.client() as c:
        assert _versions(c, "ev_cancel") == []
    assert _files(system, "ev_cancel") == set()


# CLI -------------------------------------------------------------------------------


def test_cli_sources_and_pull(system, pg):
    env = {**os.environ, "LAKEHOUSE_HOST": "127.0.0.1", "LAKEHOUSE_PORT": str(system.settings.port)}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=True,
        )

    add = ["sources", "add", "cli_src", "--host", pg.host, "--port", str(pg.port), "--database", pg.database]
    added = cli(*add, "--user", pg.user, "--password-stdin", "--check", stdin=pg.password + "\n")
    assert added.stdout.startswith("added cli_src\t") and pg.password not in added.stdout
    listed = cli("sources", "--json")
    assert pg.password not in listed.stdout
    assert {s["name"]: s["has_password"] for s in json.loads(listed.stdout)["sources"]}["cli_src"] is True
    pulled = cli("pull", "cli_workers", "--source", "cli_src", "--table", "workers", "--incremental-column", "id")
    lines = pulled.stdout.splitlines()
    assert lines[0].startswith("cli_workers v1 (append): ") and lines[1].startswith("  id: (none: every row) -> ")
    again = json.loads(
        cli(
            "pull", "cli_workers", "--source", "cli_src", "--table", "workers", "--incremental-column", "id", "--json"
        ).stdout
    )
    assert again["unchanged"] is True
    assert cli("sources", "delete", "cli_src").stdout.strip() == "deleted source cli_src"
