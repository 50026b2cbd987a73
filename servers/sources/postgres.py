"""Reading PostgreSQL over ADBC (``adbc-driver-postgresql``): connections, what a pull
reads, how each type lands in the lake, and how the source's errors become ours.

Connection. ``postgresql://user:password@host:port/db`` with every part percent-quoted,
``connect_timeout`` (``sources.connect_timeout_s``), ``sslmode``, ``application_name``,
and session options: ``default_transaction_read_only=on`` and
``default_transaction_isolation=repeatable read`` (every statement of a pull, the key
check, the watermark and the stream, sees one snapshot, and Postgres itself refuses any
write), ``statement_timeout``, and fixed text formats (``DateStyle=ISO``,
``IntervalStyle=iso_8601``, ``TimeZone=UTC``, ``standard_conforming_strings=on``) so a
watermark written as text reads back as the same value.

What is read. A table name is split on dots outside double quotes (``schema.table``; at
most two parts, ``"a.b"`` for a dot inside a name) and each part is quoted as an
identifier, literally (so names are case-sensitive): ``workers; DROP TABLE x`` is one
identifier that names no table. A query must be one statement beginning with SELECT,
WITH, VALUES or TABLE (``check_query`` lexes strings, quoted identifiers, dollar quotes
and comments to find a second statement); the read-only transaction is what actually
stops a write (a data-modifying WITH, SELECT FOR UPDATE, nextval()), and it is reported
as QUERY_NOT_READ_ONLY. The query runs with the source user's privileges: give sources
a role that may only read what should be pulled.

Streaming. ``SELECT <columns> FROM (<table or query>) AS _lh_src [WHERE col > watermark]``
runs as one COPY in binary; ``cursor.fetch_record_batch()`` yields Arrow batches of about
``sources.batch_size_hint_bytes`` as they arrive, so memory is bounded by a batch plus
the Parquet writer's row group, whatever the table's size.

Types (PostgreSQL -> Arrow, as stored in the dataset):

===================================  ==================================================
PostgreSQL                           Arrow
===================================  ==================================================
int2, int4, int8 (serials)           int16, int32, int64
float4, float8                       float32, float64 (NaN and infinities kept)
numeric(p, s), p <= 38, 0 <= s <= p  decimal128(p, s); NaN is refused (UNSUPPORTED_VALUE:
                                     cast it in a query)
numeric (unbounded, or p > 38)       string, PostgreSQL's exact text ("12.50", "NaN");
                                     ``n::numeric(18,4)`` in a query gives a decimal
money                                int64 (minor units, as the driver reads it)
bool                                 bool
text, varchar, char(n), name         string (char(n) keeps its padding)
enum types                           string (the label)
date                                 date32
time                                 time64[us]
timestamp                            timestamp[us]
timestamptz                          timestamp[us, tz=UTC]
interval                             string, ISO 8601 ("P1DT2H")
json, jsonb                          string (the JSON text)
uuid                                 string ("a0eebc99-9c0b-...")
bytea                                binary
arrays of the above                  list<item> (of string for json, uuid, numeric,
                                     interval and other text-mapped items);
                                     multi-dimensional arrays are flattened by the
                                     driver: ``to_jsonb(a)`` in a query keeps the shape
anything else (inet, point, ranges,  string: PostgreSQL's text form (``col::text``)
xml, bit, tsvector, composites ...)
NULL                                 null, in every type
===================================  ==================================================

Errors. Connecting: a wrong password or user (or no pg_hba entry) is PERMISSION_DENIED
(SOURCE_AUTH_FAILED); refused, timed out or unresolvable is UNAVAILABLE
(SOURCE_UNREACHABLE); a missing database NOT_FOUND. Statements map by SQLSTATE
(``_SQLSTATE``): an unknown table NOT_FOUND, syntax INVALID_ARGUMENT, a write
INVALID_ARGUMENT (QUERY_NOT_READ_ONLY), a cancelled statement DEADLINE_EXCEEDED, a
dropped connection UNAVAILABLE. Every message is the source's own first line, with the
password (plain and percent-quoted) replaced by ``***``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.api.errors import UNKNOWN_COLUMN
from lakehouse.api.sources import (
    DUPLICATE_COLUMN,
    INVALID_QUERY,
    INVALID_TABLE_NAME,
    MULTIPLE_STATEMENTS,
    QUERY_NOT_READ_ONLY,
    SOURCE_AUTH_FAILED,
    SOURCE_CONNECTION_LOST,
    SOURCE_DATABASE_NOT_FOUND,
    SOURCE_ERROR,
    SOURCE_PERMISSION_DENIED,
    SOURCE_TIMEOUT,
    SOURCE_UNREACHABLE,
    TABLE_NOT_FOUND,
    UNSUPPORTED_VALUE,
)
from lakehouse.servers.settings import SourcesSettings

SCRUBBED = "***"
SOURCE_ALIAS = "_lh_src"
READ_ONLY_KEYWORDS = ("select", "with", "values", "table")
MAX_NAME_PARTS = 2  # schema.table
DECIMAL_MAX_PRECISION = 38
# PostgreSQL's typmod of numeric(p, s): ((p << 16) | (s & 0x7ff)) + VARHDRSZ.
_VARHDRSZ = 4
_PG_TYPE = b"POSTGRESQL:type"
_PG_TYPMOD = b"POSTGRESQL:typmod"
_BATCH_SIZE_OPTION = "adbc.postgresql.batch_size_hint_bytes"
_MS_PER_S = 1000


# Errors ----------------------------------------------------------------------


class Scrubber:
    """Removes a password (as given, and as it appears percent-quoted in a URI) from text."""

    def __init__(self, password: str) -> None:
        self._needles = sorted({p for p in (password, quote(password, safe="")) if p}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            text = text.replace(needle, SCRUBBED)
        return text


def _first_line(text: str) -> str:
    """The source's own words: the first line of libpq's message, without the driver's
    prefixes, the echoed statement and the SQLSTATE suffix."""
    text = re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", text.strip())
    for marker in ("ERROR:  ", "FATAL:  "):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    line = text.strip().split("\n", 1)[0]
    return re.sub(r"\s*\.?\s*SQLSTATE: \w+$", "", line).strip()


# SQLSTATE (class or full code) -> (error class, reason). Full codes win over classes.
_SQLSTATE: dict[str, tuple[type[errors.LakehouseError], str]] = {
    "42P01": (errors.NotFound, TABLE_NOT_FOUND),  # undefined_table
    "3F000": (errors.NotFound, TABLE_NOT_FOUND),  # invalid_schema_name
    "42703": (errors.InvalidArgument, UNKNOWN_COLUMN),  # undefined_column
    "42501": (errors.PermissionDenied, SOURCE_PERMISSION_DENIED),  # insufficient_privilege
    "25006": (errors.InvalidArgument, QUERY_NOT_READ_ONLY),  # read_only_sql_transaction
    "57014": (errors.DeadlineExceeded, SOURCE_TIMEOUT),  # query_canceled (statement_timeout)
    "40001": (errors.Aborted, SOURCE_ERROR),  # serialization_failure
    "40P01": (errors.Aborted, SOURCE_ERROR),  # deadlock_detected
    "42": (errors.InvalidArgument, INVALID_QUERY),  # syntax error or access rule violation
    "0A": (errors.InvalidArgument, INVALID_QUERY),  # feature not supported
    "22": (errors.InvalidArgument, INVALID_QUERY),  # data exception (division by zero, bad cast)
    "08": (errors.Unavailable, SOURCE_CONNECTION_LOST),  # connection exception
    "57": (errors.Unavailable, SOURCE_CONNECTION_LOST),  # operator intervention (terminated)
    "53": (errors.Unavailable, SOURCE_ERROR),  # insufficient resources
    "28": (errors.PermissionDenied, SOURCE_AUTH_FAILED),  # invalid authorization
}
_AUTH_MARKERS = ("password authentication failed", "authentication failed", "no pg_hba.conf entry")
_UNREACHABLE_MARKERS = (
    "timeout expired",
    "connection refused",
    "could not translate host name",
    "no route to host",
    # An address with no route at all fails at once (ENETUNREACH) rather than timing out.
    "network is unreachable",
)
_LOST_MARKERS = ("terminating connection", "server closed the connection", "connection to server was lost")
_READ_ONLY_MARKERS = ("in a read-only transaction", "data-modifying")
_SQLSTATE_RE = re.compile(r"SQLSTATE: ([0-9A-Z]{5})")


def source_error(exc: BaseException, scrub: Scrubber, context: str) -> errors.LakehouseError:
    """The client-facing error for a driver exception (``context``: what was being done).

    By SQLSTATE when the driver reports one; otherwise (a failed sign-in, an error while
    rows stream) by libpq's words: an ``ERROR`` is the statement's fault, a ``FATAL`` or a
    broken stream the connection's."""
    if isinstance(exc, errors.LakehouseError):
        return exc
    raw = str(exc)
    words = scrub(_first_line(raw))
    lowered = words.lower()
    state = getattr(exc, "sqlstate", None) or ""
    if not state and (found := _SQLSTATE_RE.search(raw)):
        state = found.group(1)
    kind, reason = _SQLSTATE.get(state) or _SQLSTATE.get(state[:2]) or (None, "")
    if any(m in lowered for m in _READ_ONLY_MARKERS):
        kind, reason = errors.InvalidArgument, QUERY_NOT_READ_ONLY
    if kind is None:
        if any(m in lowered for m in _AUTH_MARKERS):
            kind, reason = errors.PermissionDenied, SOURCE_AUTH_FAILED
        elif "database" in lowered and "does not exist" in lowered:
            kind, reason = errors.NotFound, SOURCE_DATABASE_NOT_FOUND
        elif any(m in lowered for m in _UNREACHABLE_MARKERS):
            kind, reason = errors.Unavailable, SOURCE_UNREACHABLE
        elif any(m in lowered for m in _LOST_MARKERS) or "FATAL:" in raw:
            kind, reason = errors.Unavailable, SOURCE_CONNECTION_LOST
        elif "ERROR:" in raw:
            kind, reason = errors.InvalidArgument, INVALID_QUERY  # failed while running (1/0, a bad cast)
        elif isinstance(exc, OSError):
            kind, reason = errors.Unavailable, SOURCE_CONNECTION_LOST
        else:
            kind, reason = errors.FailedPrecondition, SOURCE_ERROR
    metadata = {"sqlstate": state} if state else {}
    return kind(scrub(f"{context}: {words}"), reason=reason, metadata=metadata)  # the context too


@contextlib.contextmanager
def mapped(scrub: Scrubber, context: str) -> Iterator[None]:
    """Driver (and pyarrow) exceptions inside become scrubbed lakehouse errors, unchained."""
    try:
        yield
    except errors.LakehouseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the driver raises many types; all are mapped
        raise source_error(exc, scrub, context) from None


# Names and queries -----------------------------------------------------------


def quote_ident(name: str) -> str:
    if "\x00" in name:
        raise errors.invalid_field("table", "a name cannot contain NUL", reason=INVALID_TABLE_NAME)
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A string literal (standard_conforming_strings is on for every pull session)."""
    if "\x00" in text:
        raise errors.invalid_field("incremental_column", "a watermark cannot contain NUL")
    return "'" + text.replace("'", "''") + "'"


def table_parts(name: str) -> list[str]:
    """``schema.table`` -> the identifiers, split on dots outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(name):
        ch = name[i]
        if quoted:
            if ch == '"' and name[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                current.append(ch)
        elif ch == '"' and not current:
            quoted = True
        elif ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    if quoted or not all(parts) or len(parts) > MAX_NAME_PARTS:
        raise errors.invalid_field(
            "table",
            f'{name!r} is not a table name: use table or schema.table (quote a part containing a dot: "a.b")',
            reason=INVALID_TABLE_NAME,
        )
    return parts


def table_sql(name: str) -> str:
    return "SELECT * FROM " + ".".join(quote_ident(p) for p in table_parts(name))


_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$]")


def check_query(query: str) -> str:
    """The query without trailing semicolons and blanks, if it is one statement that
    starts with SELECT, WITH, VALUES or TABLE; INVALID_ARGUMENT otherwise."""
    end = _statement_end(query)
    statement = query[:end].rstrip()
    if _has_code(query[end:]):
        raise errors.invalid_field(
            "query", "give one statement (a second one follows the first ';')", reason=MULTIPLE_STATEMENTS
        )
    keyword = _first_keyword(statement)
    if keyword not in READ_ONLY_KEYWORDS:
        raise errors.invalid_field(
            "query",
            f"a pull reads one SELECT, WITH ... SELECT, VALUES or TABLE statement, not {keyword.upper() or 'nothing'}",
            reason=QUERY_NOT_READ_ONLY,
        )
    if "\x00" in statement:
        raise errors.invalid_field("query", "a query cannot contain NUL", reason=INVALID_QUERY)
    return statement


def _skip_quoted(text: str, i: int) -> int:
    """Index just past the string, identifier, dollar quote or comment starting at ``i``
    (which must start one), or len(text) when it is unterminated."""
    ch = text[i]
    if text.startswith("--", i):
        nl = text.find("\n", i)
        return len(text) if nl < 0 else nl + 1
    if text.startswith("/*", i):
        depth, j = 0, i
        while j < len(text):
            if text.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif text.startswith("*/", j):
                depth, j = depth - 1, j + 2
                if depth == 0:
                    return j
            else:
                j += 1
        return len(text)
    if ch in "'\"":
        escapes = ch == "'" and i > 0 and text[i - 1] in "eE" and (i < 2 or not _IDENT_CHAR.match(text[i - 2]))
        j = i + 1
        while j < len(text):
            if escapes and text[j] == "\\":
                j += 2
                continue
            if text[j] == ch:
                if text[j + 1 : j + 2] == ch:
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(text)
    tag = _DOLLAR_TAG.match(text, i)
    assert tag is not None
    close = text.find(tag.group(0), tag.end())
    return len(text) if close < 0 else close + len(tag.group(0))


def _starts_quoted(text: str, i: int) -> bool:
    ch = text[i]
    if ch in "'\"" or text.startswith("--", i) or text.startswith("/*", i):
        return True
    if ch == "$" and (i == 0 or not _IDENT_CHAR.match(text[i - 1])):
        return _DOLLAR_TAG.match(text, i) is not None
    return False


def _statement_end(text: str) -> int:
    i = 0
    while i < len(text):
        if _starts_quoted(text, i):
            i = _skip_quoted(text, i)
        elif text[i] == ";":
            return i
        else:
            i += 1
    return len(text)


def _has_code(text: str) -> bool:
    """Whether anything but blanks, semicolons and comments is in ``text``."""
    i = 0
    while i < len(text):
        if text.startswith("--", i) or text.startswith("/*", i):
            i = _skip_quoted(text, i)
        elif text[i] in " \t\r\n;":
            i += 1
        else:
            return True
    return False


def _first_keyword(text: str) -> str:
    i = 0
    while i < len(text):
        if text.startswith("--", i) or text.startswith("/*", i):
            i = _skip_quoted(text, i)
        elif text[i] in " \t\r\n(":
            i += 1
        else:
            word = re.match(r"[A-Za-z_]+", text[i:])
            return word.group(0).lower() if word else text[i]
    return ""


# Types -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of what a pull reads: how it is selected and how it lands."""

    name: str
    pg_type: str
    cast: str  # appended to the column in the SELECT list ("" or "::text" ...)
    arrow_type: pa.DataType  # what the dataset stores
    decimal: bool = False  # arrives as text, stored as arrow_type (a decimal)

    @property
    def select(self) -> str:
        ident = f"{SOURCE_ALIAS}.{quote_ident(self.name)}"
        return f"{ident}{self.cast} AS {quote_ident(self.name)}" if self.cast else ident


def _extension(t: pa.DataType) -> str:
    return getattr(t, "extension_name", "") if isinstance(t, pa.BaseExtensionType) else ""


def _needs_text(t: pa.DataType) -> bool:
    """Types written as PostgreSQL's text: those Parquet cannot hold or the driver gives as wire bytes."""
    return _extension(t) in ("arrow.uuid", "arrow.opaque") or pa.types.is_interval(t)


def _numeric(typmod: int) -> pa.DataType | None:
    """decimal128(p, s) for numeric(p, s) when it fits; None for unbounded ones."""
    if typmod < _VARHDRSZ:
        return None
    value = typmod - _VARHDRSZ
    precision, scale = (value >> 16) & 0xFFFF, ((value & 0x7FF) ^ 0x400) - 0x400
    if 1 <= precision <= DECIMAL_MAX_PRECISION and 0 <= scale <= precision:
        return pa.decimal128(precision, scale)
    return None


def column_of(f: pa.Field) -> Column:
    meta = f.metadata or {}
    pg_type = meta.get(_PG_TYPE, b"").decode() or str(f.type)
    t = f.type
    ext = _extension(t)
    if ext == "arrow.json":
        return Column(f.name, pg_type, "", pa.string())
    if ext == "arrow.opaque" and getattr(t, "type_name", "") == "numeric":
        decimal = _numeric(int(meta.get(_PG_TYPMOD, b"-1") or -1))
        if decimal is not None:
            return Column(f.name, pg_type, "", decimal, decimal=True)
        return Column(f.name, pg_type, "::text", pa.string())
    if _needs_text(t):
        return Column(f.name, pg_type, "::text", pa.string())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = t.value_type
        if _extension(item) or pa.types.is_interval(item):
            return Column(f.name, pg_type, "::text[]", pa.list_(pa.string()))
        return Column(f.name, pg_type, "", pa.list_(item))  # without the driver's item metadata
    return Column(f.name, pg_type, "", t)


def _plain(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def convert(column: Column, array: pa.Array) -> pa.Array:
    """A streamed column as the dataset stores it."""
    array = _plain(array)
    if column.decimal:
        try:
            return pc.cast(array, column.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise errors.InvalidArgument(
                f"column {column.name!r} ({column.pg_type}) holds a value {column.arrow_type} cannot: {exc};"
                " cast it in a query (e.g. to text or float8)",
                reason=UNSUPPORTED_VALUE,
                metadata={"column": column.name},
            ) from None
    if array.type != column.arrow_type:
        return pc.cast(array, column.arrow_type)
    return array


# Connections -----------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect (the password travels beside it, never inside a repr)."""

    host: str
    port: int
    database: str
    user: str


def uri(endpoint: Endpoint, password: str, settings: SourcesSettings) -> str:
    """The libpq URI of a pull session (see the module docstring for the options)."""
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    auth = quote(endpoint.user, safe="") + (":" + quote(password, safe="") if password else "")
    session = [
        "-c default_transaction_read_only=on",
        "-c default_transaction_isolation=repeatable\\ read",
        f"-c statement_timeout={int(settings.statement_timeout_s * _MS_PER_S)}",
        "-c DateStyle=ISO",
        "-c IntervalStyle=iso_8601",
        "-c TimeZone=UTC",
        "-c standard_conforming_strings=on",
    ]
    params = {
        "connect_timeout": str(settings.connect_timeout_s),
        "sslmode": settings.ssl_mode,
        "application_name": settings.application_name,
        "passfile": os.devnull,  # never the server user's ~/.pgpass
        "options": " ".join(session),
    }
    return f"postgresql://{auth}@{host}:{endpoint.port}/{quote(endpoint.database, safe='')}?" + urlencode(
        params, quote_via=quote
    )


class Session:
    """One connection, in one read-only repeatable-read transaction, for one pull."""

    def __init__(self, endpoint: Endpoint, password: str, settings: SourcesSettings) -> None:
        self._scrub = Scrubber(password)
        self._settings = settings
        self._where = f"{endpoint.user}@{endpoint.host}:{endpoint.port}/{endpoint.database}"
        from adbc_driver_postgresql import dbapi

        with mapped(self._scrub, f"cannot connect to {self._where}"):
            self._conn = dbapi.connect(uri(endpoint, password, settings), autocommit=False)

    @property
    def scrub(self) -> Scrubber:
        return self._scrub

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> Any:
        cursor = self._conn.cursor()
        cursor.adbc_statement.set_options(**{_BATCH_SIZE_OPTION: str(self._settings.batch_size_hint_bytes)})
        return cursor

    def rows(self, sql: str, context: str) -> list[tuple]:
        """A small result (checks, the watermark)."""
        with mapped(self._scrub, context), contextlib.closing(self.cursor()) as cur:
            cur.execute(sql)
            return cur.fetchall()

    def describe(self, base: str, context: str) -> list[Column]:
        """The columns ``base`` returns, without reading a row."""
        with mapped(self._scrub, context), contextlib.closing(self.cursor()) as cur:
            cur.execute(f"SELECT * FROM (\n{base}\n) AS {SOURCE_ALIAS} LIMIT 0")
            schema = cur.fetch_record_batch().schema
        names = [f.name for f in schema]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise errors.InvalidArgument(
                f"the query returns more than one column named {repeated}: give each its own alias",
                reason=DUPLICATE_COLUMN,
                metadata={"columns": ",".join(repeated)},
            )
        return [column_of(f) for f in schema]

    def reader(self, sql: str, context: str) -> tuple[Any, pa.RecordBatchReader]:
        """The cursor and the batch reader of a streaming SELECT (close the cursor after)."""
        cursor = self.cursor()
        try:
            with mapped(self._scrub, context):
                cursor.execute(sql)
                return cursor, cursor.fetch_record_batch()
        except BaseException:
            with contextlib.suppress(Exception):
                cursor.close()
            raise


# The table a pull reads ------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """What a pull reads: the base statement, its columns, and the incremental filter."""

    base: str  # SELECT * FROM "t", or the user's query
    label: str  # for messages: table "t" / the query
    columns: tuple[Column, ...]
    where: str = ""  # "" or ' WHERE _lh_src."col" > '...''

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def select(self, names: list[str] | None = None, where: bool = True) -> str:
        chosen = [self.column(n) for n in names] if names else list(self.columns)
        listed = ", ".join(c.select for c in chosen if c is not None)
        return f"SELECT {listed} FROM (\n{self.base}\n) AS {SOURCE_ALIAS}{self.where if where else ''}"

    def source_ref(self, name: str) -> str:
        return f"{SOURCE_ALIAS}.{quote_ident(name)}"


class PgTable:
    """A relation seen the way the ingest core sees a parsed upload (its ``TableSource``).

    The key check of an upsert is two queries on the source, in the pull's snapshot, over
    exactly the rows the stream reads: one null key, then one key that occurs twice
    (GROUP BY ... HAVING count(*) > 1 LIMIT 1). Postgres does the work with its own
    indexes and spill files; nothing is held here."""

    def __init__(self, session: Session, relation: Relation) -> None:
        self._session = session
        self._relation = relation
        self._cursor: Any = None
        self.bytes_read = 0
        self.rows_read = 0

    def __enter__(self) -> PgTable:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._cursor is not None:
            with contextlib.suppress(Exception):
                self._cursor.close()
            self._cursor = None

    def columns(self) -> list[tuple[str, str]]:
        return [(c.name, str(c.arrow_type)) for c in self._relation.columns]

    def set_hints(self, hints: object) -> None:
        """Types come typed from the source; the core's final cast enforces the dataset's."""

    def key_problem(self, key: tuple[str, ...], unique: bool) -> str | None:
        rel = self._relation
        refs = [rel.source_ref(k) for k in key]
        source = f"(\n{rel.base}\n) AS {SOURCE_ALIAS}{rel.where}"
        context = f"cannot check the key of {rel.label}"
        nulls = " OR ".join(f"{r} IS NULL" for r in refs)
        if self._session.rows(f"SELECT 1 FROM {source}{' AND ' if rel.where else ' WHERE '}({nulls}) LIMIT 1", context):
            return f"a row has a null key value (key {list(key)})"
        if not unique:
            return None
        listed = ", ".join(f"{r}::text" for r in refs)
        groups = ", ".join(refs)
        found = self._session.rows(
            f"SELECT {listed}, count(*) FROM {source} GROUP BY {groups} HAVING count(*) > 1 LIMIT 1", context
        )
        if found:
            *values, times = found[0]
            return f"key {dict(zip(key, values, strict=True))} occurs {times} times in {rel.label}"
        return None

    def stream(self, batch_rows: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        rel = self._relation
        chosen = [rel.column(n) for n in columns] if columns else list(rel.columns)
        assert all(c is not None for c in chosen)
        schema = pa.schema([pa.field(c.name, c.arrow_type) for c in chosen])  # type: ignore[union-attr]
        self._cursor, reader = self._session.reader(rel.select(columns), f"cannot read {rel.label}")
        return schema, self._batches(reader, chosen, schema, batch_rows)  # type: ignore[arg-type]

    def _batches(
        self, reader: pa.RecordBatchReader, chosen: list[Column], schema: pa.Schema, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        context = f"cannot read {self._relation.label}"
        scrub = self._session.scrub
        while True:
            with mapped(scrub, context):
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
            self.bytes_read += batch.nbytes
            self.rows_read += batch.num_rows
            arrays = [convert(c, batch.column(i)) for i, c in enumerate(chosen)]
            out = pa.RecordBatch.from_arrays(arrays, schema=schema)
            for start in range(0, out.num_rows, batch_rows):
                yield out.slice(start, batch_rows)


def incremental_where(column: str, watermark: str) -> str:
    """Rows past ``watermark`` (PostgreSQL's text form of the column's type)."""
    return f" WHERE {SOURCE_ALIAS}.{quote_ident(column)} > {quote_literal(watermark)}"


def high_watermark(session: Session, rel: Relation, column: str) -> str | None:
    """The largest value of ``column`` among the rows the pull reads, as text (None: no such row)."""
    ref = rel.source_ref(column)
    sql = f"SELECT max({ref})::text FROM (\n{rel.base}\n) AS {SOURCE_ALIAS}{rel.where}"
    try:
        rows = session.rows(sql, f"cannot find the largest {column!r} of {rel.label}")
    except errors.InvalidArgument as exc:  # e.g. max(json) does not exist
        raise errors.invalid_field("incremental_column", exc.message) from None
    return rows[0][0] if rows else None
