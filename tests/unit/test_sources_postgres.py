"""The pure parts of reading PostgreSQL (servers/sources/postgres.py): names, the read-only
pre-check, the password scrubber, error mapping, the type table and the connection URI."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.sources import PullSpec
from lakehouse.servers.settings import SourcesSettings
from lakehouse.servers.sources import postgres
from lakehouse.servers.sources.core import pull_identity, source_key, watermark_of

PASSWORD = "pa:ss/w@rd&1"


@pytest.mark.parametrize(
    ("name", "sql"),
    [
        ("workers", 'SELECT * FROM "workers"'),
        ("hr.workers", 'SELECT * FROM "hr"."workers"'),
        ('"odd.name"', 'SELECT * FROM "odd.name"'),
        ('hr."Odd ""quoted"""', 'SELECT * FROM "hr"."Odd ""quoted"""'),
        ("workers; DROP TABLE x", 'SELECT * FROM "workers; DROP TABLE x"'),
        ('x" ; DROP TABLE y; --', 'SELECT * FROM "x"" ; DROP TABLE y; --"'),
        ("Workers", 'SELECT * FROM "Workers"'),
    ],
)
def test_table_names_are_quoted_identifiers(name, sql):
    assert postgres.table_sql(name) == sql


@pytest.mark.parametrize("name", ["", "a..b", "a.b.c", ".a", '"unterminated', "a.", "nul\x00"])
def test_bad_table_names_are_invalid_argument(name):
    with pytest.raises(errors.InvalidArgument) as info:
        postgres.table_sql(name)
    assert info.value.reason == "INVALID_TABLE_NAME"


@pytest.mark.parametrize(
    ("query", "cleaned"),
    [
        ("SELECT 1", "SELECT 1"),
        ("  select 1 ;  ", "  select 1"),
        ("SELECT ';' AS semi;", "SELECT ';' AS semi"),
        ('SELECT 1 AS "a;b"', 'SELECT 1 AS "a;b"'),
        ("SELECT $$;$$, $t$ ; $t$ -- trailing ;", "SELECT $$;$$, $t$ ; $t$ -- trailing ;"),
        ("SELECT E'it\\'s; fine'", "SELECT E'it\\'s; fine'"),
        ("/* lead; */ WITH a AS (SELECT 1) SELECT * FROM a", "/* lead; */ WITH a AS (SELECT 1) SELECT * FROM a"),
        ("VALUES (1), (2);", "VALUES (1), (2)"),
        ("TABLE workers", "TABLE workers"),
        ("(SELECT 1) UNION (SELECT 2)", "(SELECT 1) UNION (SELECT 2)"),
        ("SELECT 1; -- only a comment after", "SELECT 1"),
        ("SELECT a$b$c FROM t", "SELECT a$b$c FROM t"),
    ],
)
def test_read_only_queries_pass_the_pre_check(query, cleaned):
    assert postgres.check_query(query) == cleaned


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM x", "QUERY_NOT_READ_ONLY"),
        ("insert into x values (1)", "QUERY_NOT_READ_ONLY"),
        ("-- SELECT\nDROP TABLE x", "QUERY_NOT_READ_ONLY"),
        ("COPY x TO STDOUT", "QUERY_NOT_READ_ONLY"),
        ("", "QUERY_NOT_READ_ONLY"),
        ("SELECT 1; DROP TABLE x", "MULTIPLE_STATEMENTS"),
        ("SELECT ';'; DELETE FROM x", "MULTIPLE_STATEMENTS"),
        ("SELECT $$;$$; SELECT 2", "MULTIPLE_STATEMENTS"),
        ("SELECT 1 /* ; */; /* c */ SELECT 2", "MULTIPLE_STATEMENTS"),
    ],
)
def test_other_statements_are_refused_with_a_reason(query, reason):
    with pytest.raises(errors.InvalidArgument) as info:
        postgres.check_query(query)
    assert info.value.reason == reason
    assert info.value.violations[0].field == "query"


def test_scrubber_removes_the_password_plain_and_quoted():
    scrub = postgres.Scrubber(PASSWORD)
    text = f"user {PASSWORD} at postgresql://u:pa%3Ass%2Fw%40rd%261@h/db"
    assert PASSWORD not in scrub(text) and "pa%3Ass" not in scrub(text)
    assert scrub(text).count(postgres.SCRUBBED) == 2
    assert postgres.Scrubber("")("nothing to do") == "nothing to do"


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("message", "sqlstate", "kind", "reason"),
    [
        (
            'IO: [libpq] Failed to connect: connection to server at "h", port 1 failed: FATAL:  password '
            f'authentication failed for user "{PASSWORD}"\n',
            None,
            errors.PermissionDenied,
            "SOURCE_AUTH_FAILED",
        ),
        (
            'IO: [libpq] Failed to connect: connection to server at "h", port 1 failed: Connection refused\n\tIs',
            None,
            errors.Unavailable,
            "SOURCE_UNREACHABLE",
        ),
        (
            'Failed to connect: connection to server at "10.255.255.1", port 5432 failed: Network is unreachable',
            None,
            errors.Unavailable,
            "SOURCE_UNREACHABLE",
        ),
        (
            "IO: [libpq] Failed to connect: ... failed: timeout expired\n",
            None,
            errors.Unavailable,
            "SOURCE_UNREACHABLE",
        ),
        ('... FATAL:  database "nodb" does not exist\n', None, errors.NotFound, "SOURCE_DATABASE_NOT_FOUND"),
        (
            'NOT_FOUND: Failed to prepare query: ERROR:  relation "w" does not exist\nLINE 1: ...\n\nQuery was: x',
            "42P01",
            errors.NotFound,
            "TABLE_NOT_FOUND",
        ),
        (
            "ERROR:  cannot execute INSERT in a read-only transaction",
            "25006",
            errors.InvalidArgument,
            "QUERY_NOT_READ_ONLY",
        ),
        (
            "ERROR:  canceling statement due to statement timeout\n. SQLSTATE: 57014",
            "57014",
            errors.DeadlineExceeded,
            "SOURCE_TIMEOUT",
        ),
        ("ERROR:  syntax error at or near", "42601", errors.InvalidArgument, "INVALID_QUERY"),
        ("ERROR:  permission denied for table t", "42501", errors.PermissionDenied, "SOURCE_PERMISSION_DENIED"),
        (
            "FATAL:  terminating connection due to administrator command",
            "57P01",
            errors.Unavailable,
            "SOURCE_CONNECTION_LOST",
        ),
        ("something odd", "XX000", errors.FailedPrecondition, "SOURCE_ERROR"),
    ],
)
def test_driver_errors_map_by_sqlstate_or_words_and_never_show_the_password(message, sqlstate, kind, reason):
    error = postgres.source_error(_DriverError(message, sqlstate), postgres.Scrubber(PASSWORD), "doing it")
    assert type(error) is kind and error.reason == reason, error
    assert PASSWORD not in error.message and "Query was" not in error.message and "SQLSTATE" not in error.message
    assert error.message.startswith("doing it: ")


def test_a_dropped_stream_is_connection_lost():
    error = postgres.source_error(OSError("[libpq] Execution error: whatever"), postgres.Scrubber(""), "reading")
    assert isinstance(error, errors.Unavailable) and error.reason == "SOURCE_CONNECTION_LOST"


def _field(t: pa.DataType, pg: str, typmod: int | None = None) -> pa.Field:
    meta = {b"POSTGRESQL:type": pg.encode()}
    if typmod is not None:
        meta[b"POSTGRESQL:typmod"] = str(typmod).encode()
    return pa.field("c", t, metadata=meta)


NUMERIC = pa.opaque(pa.string(), "numeric", "PostgreSQL")


@pytest.mark.parametrize(
    ("field", "cast", "stored"),
    [
        (_field(pa.int16(), "int2"), "", pa.int16()),
        (_field(NUMERIC, "numeric", -1), "::text", pa.string()),
        (_field(NUMERIC, "numeric", (5 << 16 | 2) + 4), "", pa.decimal128(5, 2)),
        (_field(NUMERIC, "numeric", (50 << 16 | 2) + 4), "::text", pa.string()),
        (_field(pa.json_(), "jsonb"), "", pa.string()),
        (_field(pa.uuid(), "uuid"), "::text", pa.string()),
        (_field(pa.month_day_nano_interval(), "interval"), "::text", pa.string()),
        (_field(pa.opaque(pa.binary(), "inet", "PostgreSQL"), "inet"), "::text", pa.string()),
        (_field(pa.list_(pa.field("item", pa.int32(), metadata={b"k": b"v"})), "_int4"), "", pa.list_(pa.int32())),
        (_field(pa.list_(pa.uuid()), "_uuid"), "::text[]", pa.list_(pa.string())),
        (_field(pa.timestamp("us", tz="UTC"), "timestamptz"), "", pa.timestamp("us", tz="UTC")),
        (_field(pa.binary(), "bytea"), "", pa.binary()),
    ],
)
def test_type_table(field, cast, stored):
    column = postgres.column_of(field)
    assert (column.cast, column.arrow_type) == (cast, stored)
    assert column.arrow_type.equals(stored, check_metadata=True)


def test_decimal_conversion_refuses_nan_with_a_reason():
    column = postgres.column_of(_field(NUMERIC, "numeric", (5 << 16 | 2) + 4))
    good = postgres.convert(column, pa.ExtensionArray.from_storage(NUMERIC, pa.array(["1.50", None])))
    assert good.type == pa.decimal128(5, 2) and good.to_pylist()[1] is None
    with pytest.raises(errors.InvalidArgument) as info:
        postgres.convert(column, pa.ExtensionArray.from_storage(NUMERIC, pa.array(["nan"])))
    assert info.value.reason == "UNSUPPORTED_VALUE"


def test_uri_quotes_every_part_and_sets_the_session():
    settings = SourcesSettings(connect_timeout_s=3, statement_timeout_s=1.5)
    endpoint = postgres.Endpoint(host="::1", port=5433, database="my db", user="us@r")
    text = postgres.uri(endpoint, PASSWORD, settings)
    parts = urlsplit(text)
    assert parts.hostname == "::1" and parts.port == 5433 and unquote(parts.path) == "/my db"
    assert unquote(parts.username) == "us@r" and unquote(parts.password) == PASSWORD
    query = parse_qs(parts.query)
    assert query["connect_timeout"] == ["3"] and query["sslmode"] == ["prefer"]
    options = query["options"][0]
    assert "default_transaction_read_only=on" in options and "statement_timeout=1500" in options
    assert "repeatable\\ read" in options


def test_watermarks_ride_in_the_source_identity():
    identity = pull_identity(PullSpec("d", "src", table="t", incremental_column="updated_at"))
    other = pull_identity(PullSpec("d", "src", table="t", incremental_column="id"))
    assert identity != other and identity.startswith("postgres:")
    key = source_key(identity, "2024-05-06 07:08:09+00;watermark=x")
    assert watermark_of(key, identity) == "2024-05-06 07:08:09+00;watermark=x"
    assert watermark_of(key, other) is None and watermark_of("sha256:abc", identity) is None
    assert source_key(identity, None) == identity
