"""The interceptor's decision (AuthInterceptor.check) and the SQL scope, without a server."""

from __future__ import annotations

import duckdb
import pytest

from lakehouse.api import errors
from lakehouse.api.auth import (
    KEY_MISSING,
    KEY_UNKNOWN,
    READER,
    ROLE_REQUIRED,
    TOO_MANY_AUTH_FAILURES,
    WRITER,
    Identity,
    Principal,
    Profile,
)
from lakehouse.api.catalog import DATASET_NOT_FOUND
from lakehouse.servers.auth.interceptor import Authenticator, AuthInterceptor
from lakehouse.servers.auth.sql_scope import check_scope
from lakehouse.servers.settings import AuthSettings

GOOD = "lh_good.secret"
READER_ID = Identity(Principal("r"), profiles=(Profile("rp", "r", READER, datasets=("sales",)),))
PEER = "ipv4:127.0.0.1:4000"


def _resolve(secret: str) -> Identity:
    if secret == GOOD:
        return READER_ID
    raise errors.Unauthenticated("the API key is not valid", reason=KEY_UNKNOWN)


@pytest.fixture
def gate():
    return AuthInterceptor(Authenticator(_resolve, 5.0), AuthSettings(max_failures=3))


def _md(key: str = "", xff: str = "") -> list[tuple[str, str]]:
    md = [("user-agent", "test")]
    if key:
        md.append(("authorization", f"Bearer {key}"))
    if xff:
        md.append(("x-forwarded-for", xff))
    return md


def test_a_good_key_with_the_role_passes(gate):
    assert gate.check("/lakehouse.v1.QueryService/Sql", READER, _md(GOOD), PEER) is READER_ID


def test_no_key_is_unauthenticated(gate):
    with pytest.raises(errors.Unauthenticated) as err:
        gate.check("/lakehouse.v1.QueryService/Sql", READER, _md(), PEER)
    assert err.value.reason == KEY_MISSING


def test_a_role_below_the_methods_is_denied(gate):
    with pytest.raises(errors.PermissionDenied) as err:
        gate.check("/lakehouse.v1.IngestService/Ingest", WRITER, _md(GOOD), PEER)
    assert err.value.reason == ROLE_REQUIRED and err.value.metadata["required_role"] == WRITER


def test_repeated_failures_from_one_source_are_rate_limited(gate):
    for _ in range(3):
        with pytest.raises(errors.Unauthenticated):
            gate.check("/lakehouse.v1.QueryService/Sql", READER, _md("lh_bad.x", "192.0.2.7"), PEER)
    with pytest.raises(errors.ResourceExhausted) as err:
        gate.check("/lakehouse.v1.QueryService/Sql", READER, _md(GOOD, "192.0.2.7"), PEER)
    assert err.value.reason == TOO_MANY_AUTH_FAILURES and int(err.value.metadata["retry_after_s"]) > 0
    # Another client behind the same gateway is not blocked.
    assert gate.check("/lakehouse.v1.QueryService/Sql", READER, _md(GOOD, "192.0.2.8"), PEER) is READER_ID


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM sales",
        "SELECT * FROM SALES s JOIN sales t USING (id)",
        "WITH x AS (SELECT * FROM sales) SELECT * FROM x",
        "SELECT * FROM main.sales, range(3)",
    ],
)
def test_sql_over_the_scope_passes(con, sql):
    check_scope(con, sql, False, frozenset({"sales"}))


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT * FROM payroll", "payroll"),
        ("SELECT * FROM sales JOIN payroll USING (id)", "payroll"),
        ("SELECT * FROM sales WHERE id IN (SELECT id FROM payroll)", "payroll"),
        ("SELECT * FROM information_schema.tables", "information_schema.tables"),
        ("SELECT * FROM _ops", "_ops"),
        ("SELECT * FROM other.sales", "other.sales"),
    ],
)
def test_sql_outside_the_scope_is_not_found(con, sql, name):
    with pytest.raises(errors.NotFound) as err:
        check_scope(con, sql, False, frozenset({"sales"}))
    assert err.value.reason == DATASET_NOT_FOUND and err.value.metadata["dataset"] == name


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM read_parquet('datasets/payroll/v1/part-0.parquet')", "SELECT * FROM duckdb_tables()"]
)
def test_table_functions_that_reach_other_datasets_are_refused(con, sql):
    with pytest.raises(errors.PermissionDenied):
        check_scope(con, sql, False, frozenset({"sales"}))


def test_explain_is_scoped_too(con):
    with pytest.raises(errors.NotFound):
        check_scope(con, "EXPLAIN SELECT * FROM payroll", True, frozenset({"sales"}))


def test_a_request_naming_a_dataset_or_corpus_outside_the_scope_is_not_found():
    import grpc

    from lakehouse.servers.auth.interceptor import _scoped_fields, check_names
    from lakehouse.v1 import catalog_pb2, vector_pb2

    get = grpc.unary_unary_rpc_method_handler(lambda r, c: None, catalog_pb2.GetDatasetRequest.FromString)
    search = grpc.unary_unary_rpc_method_handler(lambda r, c: None, vector_pb2.SearchRequest.FromString)
    assert _scoped_fields(get) == ("dataset",) and _scoped_fields(search) == ("corpus",)
    scoped = Identity(Principal("r"), profiles=(Profile("rp", "r", READER, datasets=("sales",), corpora=("cvs",)),))
    check_names(scoped, catalog_pb2.GetDatasetRequest(dataset="sales"), ("dataset",))
    check_names(scoped, vector_pb2.SearchRequest(corpus="cvs"), ("corpus",))
    with pytest.raises(errors.NotFound) as err:
        check_names(scoped, catalog_pb2.GetDatasetRequest(dataset="payroll"), ("dataset",))
    assert err.value.reason == DATASET_NOT_FOUND
    with pytest.raises(errors.NotFound) as err:
        check_names(scoped, vector_pb2.SearchRequest(corpus="other"), ("corpus",))
    assert err.value.reason == "CORPUS_NOT_FOUND"
