"""The query sandbox against adversarial SQL: each attack is refused with a domain error,
nothing leaks onto the filesystem, and the shared database keeps working afterwards.

Both layers are tested on their own too: the statement check, and the hardened
engine with the check bypassed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import DataFile, NewVersion, WriteMode
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.query.core import QueryCore
from lakehouse.servers.query.sandbox import EngineLimits, check_query, harden
from lakehouse.servers.settings import QuerySettings
from lakehouse.servers.storage.local import LocalObjectStore

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])
DENIED = (errors.PermissionDenied, "SANDBOX_VIOLATION")


class Sandbox:
    """A lake with one dataset ``w``, a Parquet file outside the lake's datasets/ prefix,
    one outside the lake, and a scratch directory attacks try to write into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = LocalObjectStore("lake", root / "lake")
        self.catalog = CatalogCore(root / "catalog.sqlite")
        _, base = self.store.filesystem()
        self.base = base
        table = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["ann", "bob"]}, schema=SCHEMA)
        self.part = f"{base}/datasets/w/v1/part-0.parquet"
        os.makedirs(os.path.dirname(self.part))
        pq.write_table(table, self.part)
        # Inside the lake but outside datasets/ (e.g. catalog snapshots), and outside the lake.
        self.snapshot = f"{base}/_catalog/snapshots/1.parquet"
        os.makedirs(os.path.dirname(self.snapshot))
        pq.write_table(table, self.snapshot)
        self.outside = str(root / "outside.parquet")
        pq.write_table(table, self.outside)
        self.scratch = root / "scratch"
        self.scratch.mkdir()
        self.catalog.commit_version(
            NewVersion(
                dataset="w",
                expected_version=0,
                files=(DataFile("datasets/w/v1/part-0.parquet", 2, os.path.getsize(self.part), "sha256:" + "0" * 64),),
                deltas=(),
                schema=SCHEMA,
                mode=WriteMode.CREATE,
            )
        )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path)
    yield box
    box.catalog.close()


@pytest.fixture(params=["native", "arrow"])
def core(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[QueryCore]:
    core = QueryCore(sandbox.catalog, sandbox.store, QuerySettings(), scan=request.param)
    yield core
    core.close()


# (id, SQL with {scratch}/{part}/{snapshot}/{outside}/{base} placeholders, expected error, reason)
ATTACKS = [
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd')", *DENIED),
    ("read_csv_qualified", "SELECT * FROM system.main.read_csv('/etc/passwd')", *DENIED),
    ("read_text", "SELECT * FROM read_text('/etc/passwd')", *DENIED),
    ("read_blob", "SELECT * FROM read_blob('/etc/hostname')", *DENIED),
    ("read_json", "SELECT * FROM read_json('/etc/passwd')", *DENIED),
    ("read_duckdb", "SELECT * FROM read_duckdb('{scratch}/x.db')", *DENIED),
    ("sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", *DENIED),
    ("glob_root", "SELECT * FROM glob('/*')", *DENIED),
    ("glob_in_subquery", "SELECT (SELECT count(*) FROM glob('/etc/*'))", *DENIED),
    ("file_as_table", "SELECT * FROM '/etc/passwd'", *DENIED),
    ("url_as_table", "SELECT * FROM 'https://example.com/x.parquet'", *DENIED),
    ("copy_to", "COPY w TO '{scratch}/x.csv'", *DENIED),
    ("copy_query_to", "COPY (SELECT 1) TO '{scratch}/x.parquet' (FORMAT parquet)", *DENIED),
    ("copy_from", "COPY w FROM '/etc/passwd'", *DENIED),
    ("export_database", "EXPORT DATABASE '{scratch}/export'", *DENIED),
    ("attach", "ATTACH '{scratch}/x.db' AS x", *DENIED),
    ("detach", "DETACH memory", *DENIED),
    ("install", "INSTALL httpfs", *DENIED),
    ("load", "LOAD httpfs", *DENIED),
    ("set_external_access", "SET enable_external_access = true", *DENIED),
    ("set_allowed_directories", "SET allowed_directories = ['/']", *DENIED),
    ("set_lock", "SET lock_configuration = false", *DENIED),
    ("reset", "RESET enable_external_access", *DENIED),
    ("set_variable", "SET VARIABLE x = 1", *DENIED),
    ("use", "USE system", *DENIED),
    ("pragma_threads", "PRAGMA threads = 1", *DENIED),
    ("pragma_profiling", "PRAGMA enable_profiling", *DENIED),
    ("pragma_show", "PRAGMA show_tables", *DENIED),
    ("create_table", "CREATE TABLE t (a INTEGER)", *DENIED),
    ("create_table_as", "CREATE TABLE t AS SELECT * FROM w", *DENIED),
    ("create_view", "CREATE OR REPLACE VIEW w AS SELECT 666 AS id", *DENIED),
    ("create_temp_view", "CREATE TEMP VIEW w AS SELECT 666 AS id", *DENIED),
    ("create_macro", "CREATE MACRO m(x) AS x", *DENIED),
    ("create_secret", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", *DENIED),
    ("insert", "INSERT INTO w VALUES (3, 'cy')", *DENIED),
    ("update", "UPDATE w SET name = 'x'", *DENIED),
    ("delete", "DELETE FROM w", *DENIED),
    ("drop_view", "DROP VIEW w", *DENIED),
    ("alter_view", "ALTER VIEW w RENAME TO w2", *DENIED),
    ("begin", "BEGIN TRANSACTION", *DENIED),
    ("commit", "COMMIT", *DENIED),
    ("checkpoint", "CHECKPOINT", *DENIED),
    ("vacuum", "VACUUM", *DENIED),
    ("prepare", "PREPARE p AS SELECT 1", *DENIED),
    ("call_checkpoint", "CALL checkpoint()", *DENIED),
    ("call_secrets", "CALL duckdb_secrets()", *DENIED),
    ("select_checkpoint", "SELECT * FROM checkpoint()", *DENIED),
    ("select_secrets", "SELECT * FROM duckdb_secrets()", *DENIED),
    ("select_settings", "SELECT * FROM duckdb_settings()", *DENIED),
    ("select_extensions", "SELECT * FROM duckdb_extensions()", *DENIED),
    ("select_views", "SELECT sql FROM duckdb_views()", *DENIED),
    # Catalog views that show settings (directories, memory limit) or view SQL with lake paths.
    ("pg_settings", "SELECT name, setting FROM pg_catalog.pg_settings", *DENIED),
    ("pg_settings_bare", "SELECT * FROM pg_settings WHERE name = 'temp_directory'", *DENIED),
    ("pg_settings_system", "SELECT * FROM system.pg_catalog.pg_settings", *DENIED),
    ("information_schema_views", "SELECT view_definition FROM information_schema.views", *DENIED),
    ("pg_views", "SELECT definition FROM pg_catalog.pg_views", *DENIED),
    ("pg_views_bare", "SELECT definition FROM pg_views", *DENIED),
    ("duckdb_views_bare", "SELECT sql FROM duckdb_views", *DENIED),
    ("duckdb_views_qualified", "SELECT sql FROM main.duckdb_views", *DENIED),
    ("duckdb_views_in_cte", "WITH v AS (SELECT * FROM duckdb_views) SELECT sql FROM v", *DENIED),
    ("sqlite_master", "SELECT sql FROM sqlite_master", *DENIED),
    ("duckdb_databases", "SELECT path FROM duckdb_databases", *DENIED),
    ("pragma_database_list", "SELECT * FROM pragma_database_list", *DENIED),
    ("summarize_read_csv", "SUMMARIZE SELECT * FROM read_csv('/etc/passwd')", *DENIED),
    ("describe_file", "DESCRIBE '/etc/passwd'", *DENIED),
    ("show_file", "SHOW '/etc/passwd'", *DENIED),
    ("lateral_read_text", "SELECT * FROM w, LATERAL (SELECT * FROM read_text('/etc/passwd'))", *DENIED),
    (
        "lambda_subquery",
        "SELECT list_transform([1], x -> (SELECT count(*) FROM read_blob('/etc/passwd')))",
        *DENIED,
    ),
    ("union_by_name_read_csv", "SELECT * FROM w UNION ALL BY NAME FROM read_csv('/etc/passwd')", *DENIED),
    ("query_function", "SELECT * FROM query('SELECT 1')", *DENIED),
    ("query_table_function", "SELECT * FROM query_table('w')", *DENIED),
    ("arrow_scan_pointer", "SELECT * FROM arrow_scan(1, 2, 3)", *DENIED),
    ("serialized_sql", "SELECT * FROM json_execute_serialized_sql('{{}}')", *DENIED),
    ("external_resource", "SELECT * FROM create_external_resource('x')", *DENIED),
    ("read_parquet_etc", "SELECT * FROM read_parquet('/etc/hostname')", *DENIED),
    ("read_parquet_outside_lake", "SELECT * FROM read_parquet('{outside}')", *DENIED),
    ("read_parquet_outside_datasets", "SELECT * FROM read_parquet('{snapshot}')", *DENIED),
    ("dotdot_escape", "SELECT * FROM read_parquet('{base}/datasets/w/../../../outside.parquet')", *DENIED),
    ("dotdot_escape_glob", "SELECT * FROM read_parquet('{base}/datasets/../_catalog/*/*.parquet')", *DENIED),
    ("mixed_file_list", "SELECT * FROM read_parquet(['{part}', '{outside}'])", *DENIED),
    ("parquet_metadata_outside", "SELECT * FROM parquet_metadata('{outside}')", *DENIED),
    ("read_parquet_url", "SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')", *DENIED),
    ("current_setting", "SELECT current_setting('allowed_directories')", *DENIED),
    ("getenv", "SELECT getenv('HOME')", *DENIED),
    ("write_log", "SELECT write_log('x')", *DENIED),
    (
        "explain_analyze_create",
        "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
        errors.InvalidArgument,
        "SQL_UNSUPPORTED",
    ),
    ("explain_analyze_drop", "EXPLAIN ANALYZE DROP VIEW w", errors.InvalidArgument, "SQL_UNSUPPORTED"),
    ("explain_copy", "EXPLAIN COPY w TO '{scratch}/x.csv'", errors.InvalidArgument, "SQL_UNSUPPORTED"),
    ("explain_read_csv", "EXPLAIN SELECT * FROM read_csv('/etc/passwd')", *DENIED),
    ("explain_options", "EXPLAIN (FORMAT json) SELECT 1", errors.InvalidArgument, "SQL_UNSUPPORTED"),
    ("deep_nesting", "SELECT " + "(1 + " * 400 + "1" + ")" * 400, errors.InvalidArgument, "SQL_TOO_COMPLEX"),
    ("multi_statement", "SELECT 1; DROP VIEW w", errors.InvalidArgument, "SQL_MULTIPLE_STATEMENTS"),
    ("nul_separated", "SELECT 1\x00; DROP VIEW w", errors.InvalidArgument, "SQL_MULTIPLE_STATEMENTS"),
    (
        "multi_statement_comment",
        "SELECT 1 /* ; */; COPY w TO '{scratch}/y.csv'",
        errors.InvalidArgument,
        "SQL_MULTIPLE_STATEMENTS",
    ),
    # A bare PIVOT is several statements (it creates an ENUM type first).
    ("pivot_statement", "PIVOT w ON name USING count(*)", *DENIED),
]


def fill(sql: str, box: Sandbox) -> str:
    return sql.format(scratch=box.scratch, part=box.part, snapshot=box.snapshot, outside=box.outside, base=box.base)


@pytest.mark.parametrize(("name", "sql", "error_type", "reason"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_refused(
    core: QueryCore, sandbox: Sandbox, name: str, sql: str, error_type: type, reason: str
) -> None:
    with pytest.raises(error_type) as info:
        core.execute_rows(fill(sql, sandbox), 10)
    assert info.value.reason == reason, info.value.message
    assert not isinstance(info.value, duckdb.Error)
    assert list(sandbox.scratch.iterdir()) == []


def test_attacks_do_not_poison_the_shared_database(core: QueryCore, sandbox: Sandbox) -> None:
    for _, sql, error_type, _ in ATTACKS:
        with pytest.raises(error_type):
            core.execute_rows(fill(sql, sandbox), 10)

    assert core.execute_rows("SELECT id, name FROM w ORDER BY id", 10).rows == [[1, "ann"], [2, "bob"]]
    assert core.execute_rows("SELECT table_name FROM duckdb_tables()", 10).rows == []
    shown = core.execute_rows("SELECT database, schema, name FROM (SHOW ALL TABLES)", 10).rows
    assert shown in ([["memory", "main", "w"]], [])  # arrow scans attach their views per query
    assert list(sandbox.scratch.iterdir()) == []


def test_statement_effects_are_rolled_back_even_if_a_check_were_missed(core: QueryCore) -> None:
    """The third layer: each query's connection runs in a transaction that is rolled back."""
    stream = core.execute("SELECT 1")
    con = stream._resources.con
    con.execute("CREATE TABLE smuggled (a INTEGER)")
    stream.close()

    assert core.execute_rows("SELECT count(*) FROM duckdb_tables()", 10).rows == [[0]]


ALLOWED = [
    ("select", "SELECT id FROM w ORDER BY id", [[1], [2]]),
    ("with", "WITH x AS (SELECT id FROM w) SELECT max(id) FROM x", [[2]]),
    ("values", "VALUES (1, 'a'), (2, 'b')", [[1, "a"], [2, "b"]]),
    ("union", "SELECT 1 UNION ALL SELECT 2 ORDER BY 1", [[1], [2]]),
    ("except", "SELECT id FROM w EXCEPT SELECT 1", [[2]]),
    ("from_first", "FROM w SELECT name WHERE id = 2", [["bob"]]),
    (
        "pivot_subquery",
        "SELECT * FROM (PIVOT (SELECT name FROM w) ON name IN ('ann', 'bob') USING count(*))",
        [[1, 1]],
    ),
    ("range", "SELECT count(*) FROM range(10)", [[10]]),
    ("unnest", "SELECT unnest([1, 2])", [[1], [2]]),
    ("describe", "SELECT column_name FROM (DESCRIBE w)", [["id"], ["name"]]),
    ("comments", "/* hi */ SELECT 1 -- bye", [[1]]),
    ("sleep_is_just_slow", "SELECT sleep_ms(1) IS NULL", [[True]]),
    (
        "information_schema_tables",
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'nope'",
        [[0]],
    ),
    ("duckdb_tables_view", "SELECT count(*) FROM duckdb_tables WHERE table_name = 'nope'", [[0]]),
    ("pg_tables", "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'nope'", [[0]]),
    ("dataset_named_like_a_view_column", "SELECT count(*) FROM w AS views", [[2]]),
]


@pytest.mark.parametrize(("name", "sql", "expected"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_read_only_statements_run(core: QueryCore, name: str, sql: str, expected: list) -> None:
    assert core.execute_rows(sql, 10).rows == expected


def test_describe_summarize_show_and_explain(core: QueryCore) -> None:
    assert [r[0] for r in core.execute_rows("DESCRIBE w", 10).rows] == ["id", "name"]
    assert [r[0] for r in core.execute_rows("SHOW w", 10).rows] == ["id", "name"]
    assert len(core.execute_rows("SUMMARIZE w", 10).rows) == 2
    assert core.execute_rows("EXPLAIN SELECT * FROM w", 10).rows
    assert core.execute_rows("EXPLAIN ANALYZE SELECT count(*) FROM w", 10).rows


def test_show_tables_lists_datasets_with_native_scans(sandbox: Sandbox) -> None:
    core = QueryCore(sandbox.catalog, sandbox.store, QuerySettings(), scan="native")
    try:
        assert core.execute_rows("SHOW TABLES", 10).rows == [["w"]]
    finally:
        core.close()


def test_lake_parquet_is_readable_natively(sandbox: Sandbox) -> None:
    core = QueryCore(sandbox.catalog, sandbox.store, QuerySettings(), scan="native")
    try:
        rows = core.execute_rows(f"SELECT count(*) FROM read_parquet('{sandbox.part}')", 10).rows
        assert rows == [[2]]
    finally:
        core.close()


def test_no_local_file_is_readable_with_arrow_scans(sandbox: Sandbox) -> None:
    """With a non-local store nothing on the local disk is allowed, not even the lake directory."""
    core = QueryCore(sandbox.catalog, sandbox.store, QuerySettings(), scan="arrow")
    try:
        with pytest.raises(errors.PermissionDenied):
            core.execute_rows(f"SELECT * FROM read_parquet('{sandbox.part}')", 10)
        assert core.execute_rows("SELECT count(*) FROM w", 10).rows == [[2]]
    finally:
        core.close()


# Layer 1 alone: the statement check -----------------------------------------------


@pytest.mark.parametrize(
    "sql",
    ["DROP VIEW w", "SELECT * FROM read_text('/x')", "SELECT current_setting('threads')", "INSTALL httpfs"],
)
def test_statement_check_alone_refuses(sql: str) -> None:
    con = duckdb.connect()
    try:
        with pytest.raises(errors.PermissionDenied):
            check_query(con, sql)
    finally:
        con.close()


def test_statement_check_reports_tables_read() -> None:
    con = duckdb.connect()
    try:
        checked = check_query(con, "WITH x AS (SELECT * FROM Alpha) SELECT * FROM x JOIN beta USING (id)")
        assert {"alpha", "beta"} <= checked.tables
        assert not checked.explain
        assert check_query(con, "EXPLAIN ANALYZE SELECT * FROM gamma").explain
    finally:
        con.close()


# Layer 2 alone: the hardened engine, statement check bypassed ---------------------------


@pytest.fixture
def hardened(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    lake = tmp_path / "lake" / "datasets"
    lake.mkdir(parents=True)
    temp = tmp_path / "spill"
    temp.mkdir()
    con = duckdb.connect()
    harden(con, [f"{lake}/"], EngineLimits(str(temp)))
    yield con, tmp_path
    con.close()


ENGINE_ATTACKS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "COPY (SELECT 1) TO '{tmp}/x.csv'",
    "EXPORT DATABASE '{tmp}/export'",
    "ATTACH '{tmp}/x.db'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET lock_configuration = false",
    "PRAGMA threads = 1",
    "SELECT * FROM read_parquet('{tmp}/lake/datasets/../../outside.parquet')",
]


@pytest.mark.parametrize("sql", ENGINE_ATTACKS)
def test_hardened_engine_alone_refuses(hardened: tuple[duckdb.DuckDBPyConnection, Path], sql: str) -> None:
    con, tmp = hardened
    pq.write_table(pa.table({"a": [1]}), tmp / "outside.parquet")
    cursor = con.cursor()
    with pytest.raises(duckdb.Error) as info:
        cursor.execute(sql.format(tmp=tmp)).fetchall()
    assert isinstance(info.value, (duckdb.PermissionException, duckdb.InvalidInputException)), info.value
    assert not (tmp / "x.csv").exists()
    assert not (tmp / "x.db").exists()
    assert not (tmp / "export").exists()


def test_hardened_engine_settings(hardened: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, _ = hardened
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'autoinstall_known_extensions', 'autoload_known_extensions', 'allow_community_extensions', "
            "'lock_configuration', 'python_enable_replacements')"
        ).fetchall()
    )
    assert settings == {
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_community_extensions": "false",
        "lock_configuration": "true",
        "python_enable_replacements": "false",
    }


def test_verified_statements_are_not_reparsed_but_refusals_are_rechecked(monkeypatch) -> None:
    import duckdb as _duckdb

    from lakehouse.servers.query import sandbox

    con = _duckdb.connect()
    calls = []
    real = sandbox._serialize

    def counting(c, text):
        calls.append(text)
        return real(c, text)

    monkeypatch.setattr(sandbox, "_serialize", counting)
    query = "SELECT 40 + 2 AS answer_for_the_cache_test"
    first = sandbox.check_query(con, query)
    second = sandbox.check_query(con, query)
    assert len(calls) == 1 and first.tables == second.tables and second.explain is False
    bad = "SELECT * FROM read_text('/etc/hostname') -- cache test"
    for _ in range(2):
        with pytest.raises(errors.PermissionDenied):
            sandbox.check_query(con, bad)
    assert len(calls) == 3  # refusals are never cached


# Nothing a caller sees holds a server path ------------------------------------------------


def test_results_and_errors_name_lake_files_by_key(sandbox: Sandbox) -> None:
    core = QueryCore(sandbox.catalog, sandbox.store, QuerySettings(), scan="native")
    key = "datasets/w/v1/part-0.parquet"
    try:
        for sql in (
            f"SELECT DISTINCT file_name FROM parquet_metadata('{sandbox.part}')",
            f"SELECT DISTINCT file_name FROM parquet_schema('{sandbox.part}')",
            f"SELECT file_name FROM parquet_file_metadata('{sandbox.part}')",
            f"SELECT DISTINCT filename FROM read_parquet('{sandbox.part}', filename = true)",
            f"SELECT list(file_name) FROM parquet_file_metadata('{sandbox.part}')",
        ):
            rows = core.execute_rows(sql, 10).rows
            assert rows in ([[key]], [[[key]]]), (sql, rows)
        plan = core.execute_rows("EXPLAIN ANALYZE SELECT * FROM w", 10).rows
        assert plan and sandbox.base not in str(plan)

        missing = f"{sandbox.base}/datasets/w/v9/none.parquet"
        with pytest.raises(errors.LakehouseError) as info:
            core.execute_rows(f"SELECT * FROM read_parquet('{missing}')", 10)
        assert "datasets/w/v9/none.parquet" in info.value.message
        assert sandbox.base not in info.value.message and str(sandbox.root) not in info.value.message
    finally:
        core.close()


def test_arrow_stream_results_are_scrubbed_too(sandbox: Sandbox) -> None:
    core = QueryCore(sandbox.catalog, sandbox.store, QuerySettings(), scan="native")
    try:
        with core.execute(f"SELECT file_name FROM parquet_file_metadata('{sandbox.part}')") as stream:
            names = [v for batch in stream for v in batch.column(0).to_pylist()]
        assert names == ["datasets/w/v1/part-0.parquet"]
    finally:
        core.close()


class _InvalidatedConnection:
    """What every call on a DuckDB database answers after a fatal error."""

    def extract_statements(self, sql: str) -> list:
        raise duckdb.FatalException(
            "FATAL Error: Failed: database has been invalidated because of a previous fatal error."
        )


def test_a_fatal_engine_error_is_not_reported_as_a_syntax_error() -> None:
    with pytest.raises(duckdb.FatalException):
        check_query(_InvalidatedConnection(), "SELECT 1")  # type: ignore[arg-type]
