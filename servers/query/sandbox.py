"""The query sandbox: which SQL may run, and the engine settings that hold if a check is missed.

Two independent layers, so that either alone stops the listed attacks:

1. ``check_query`` (the statement layer) parses the request with DuckDB's own parser:
   exactly one statement, of type SELECT (which includes WITH, VALUES, set operations,
   FROM-first, DESCRIBE, SHOW and SUMMARIZE) or ``EXPLAIN [ANALYZE] <SELECT>``. The
   statement's syntax tree (``json_serialize_sql``, which serializes SELECT only) is
   walked: every table function must be on an allow-list, a few scalar functions are
   denied, table names that look like file paths or URLs are refused, and so are
   DuckDB's built-in catalog views except an allow-list (the others show settings,
   view SQL with lake paths, database files). Results of the file functions and of
   EXPLAIN are marked (``names_files``) so the core scrubs server paths from them.
2. ``harden`` (the engine layer) configures the database once, before any user SQL:
   no external access except the lake's ``datasets/`` prefix (and DuckDB's private
   spill directory), no extension install/load, no Python replacement scans, a memory
   limit, then ``lock_configuration`` so no later SET/PRAGMA can undo it.

The caller adds a third layer: every user statement runs inside a transaction that is
always rolled back, on a connection of its own that is closed afterwards.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from lakehouse.api import errors
from lakehouse.api.query import (
    SANDBOX_VIOLATION,
    SQL_EMPTY,
    SQL_MULTIPLE_STATEMENTS,
    SQL_SYNTAX,
    SQL_TOO_COMPLEX,
    SQL_UNSUPPORTED,
)

# Table functions a query may call. Everything else (read_csv, read_text, read_blob,
# glob, query, query_table, arrow_scan — which dereferences raw pointers —,
# checkpoint, duckdb_secrets, *_external_resource, duckdb_views — whose SQL names
# server paths —, ...) is refused. The Parquet
# readers are allowed because the engine layer confines them to the lake.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        # Row generators: no I/O.
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "json_each",
        "json_tree",
        # Parquet files under the lake's datasets/ prefix (allowed_directories).
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        # Read-only catalog introspection.
        "duckdb_columns",
        "duckdb_tables",
        "duckdb_schemas",
        "duckdb_types",
        "duckdb_functions",
        "duckdb_keywords",
        "duckdb_constraints",
        "pragma_table_info",
        "pragma_version",
    }
)

# Scalar functions refused anywhere in a query: configuration disclosure, log
# writes, environment access (absent in this DuckDB, listed should one appear).
DENIED_FUNCTIONS = frozenset({"current_setting", "write_log", "getenv", "json_execute_serialized_sql"})

# Table functions whose results name files: their string results are scrubbed of
# server paths (the caller sees lake keys), like EXPLAIN ANALYZE's plan text.
FILE_TABLE_FUNCTIONS = frozenset(
    {
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
    }
)

# DuckDB's built-in catalog views a query may read, by (schema, name). Every other
# built-in view is refused: they run table functions the allow-list above refuses and
# show server internals — settings with the temp and allowed directories and the
# memory limit (pg_settings), view SQL with absolute lake paths (duckdb_views,
# information_schema.views, pg_views, sqlite_master), database files, logs. A view
# added by a later DuckDB is refused until it is listed here.
ALLOWED_SYSTEM_VIEWS = frozenset(
    {
        ("information_schema", name)
        for name in (
            "character_sets",
            "check_constraints",
            "columns",
            "constraint_column_usage",
            "constraint_table_usage",
            "key_column_usage",
            "referential_constraints",
            "schemata",
            "table_constraints",
            "tables",
        )
    }
    | {
        ("main", name)
        for name in (
            "duckdb_columns",
            "duckdb_constraints",
            "duckdb_schemas",
            "duckdb_tables",
            "duckdb_types",
        )
    }
    | {
        ("pg_catalog", name)
        for name in (
            "pg_am",
            "pg_attrdef",
            "pg_attribute",
            "pg_class",
            "pg_collation",
            "pg_constraint",
            "pg_database",
            "pg_depend",
            "pg_description",
            "pg_enum",
            "pg_index",
            "pg_namespace",
            "pg_sequence",
            "pg_sequences",
            "pg_tables",
            "pg_tablespace",
            "pg_type",
        )
    }
)
# Schemas an unqualified name is looked up in after the datasets (DuckDB's search path).
_SEARCH_PATH_SCHEMAS = ("main", "pg_catalog")

# Table names that DuckDB would turn into a file or URL scan (replacement scans).
_FILE_LIKE_NAME = re.compile(r"[/\\:]|\.[A-Za-z0-9]+$")

SERVER_TIME_ZONE = "UTC"
_EXPLAIN = "explain"
_ANALYZE = frozenset({"analyze", "analyse"})
_TABLE_FUNCTION_NODE = "TABLE_FUNCTION"
_BASE_TABLE_NODE = "BASE_TABLE"
# SHOW <name> names its table on the SHOW_REF node itself.
_SHOW_REF_NODE = "SHOW_REF"
_FUNCTION_CLASS = "FUNCTION"


class _VerifiedStatements:
    """Statement texts that already passed the checks below. The verdict depends on
    the text alone (the allow- and deny-lists are fixed), so repeated queries skip
    serializing and walking their syntax tree. Refusals are not cached."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[Any, str], tuple[bool, frozenset[str], bool]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, str]) -> tuple[bool, frozenset[str], bool] | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: tuple[Any, str], value: tuple[bool, frozenset[str], bool]) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


VERIFIED_CACHE_ENTRIES = 4096
_VERIFIED = _VerifiedStatements(VERIFIED_CACHE_ENTRIES)


@dataclass(frozen=True)
class CheckedQuery:
    """A request that passed the statement layer: the one statement to run and the
    table names it reads (lower-cased), so sources can be attached for exactly those."""

    statement: duckdb.Statement
    explain: bool
    tables: frozenset[str]
    # Whether results may name server files (EXPLAIN, file table functions): scrub them.
    names_files: bool = False


def violation(message: str, **metadata: str) -> errors.PermissionDenied:
    return errors.PermissionDenied(message, reason=SANDBOX_VIOLATION, metadata=dict(metadata))


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> CheckedQuery:
    """Parse ``sql`` and refuse anything but one read-only statement (see module doc)."""
    if not isinstance(sql, str) or not sql.strip():
        raise errors.invalid_field("sql", "the query is empty", reason=SQL_EMPTY)
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        _reraise_fatal(exc)
        raise errors.InvalidArgument(_clean(exc), reason=SQL_SYNTAX) from None
    if not statements:
        raise errors.invalid_field("sql", "the query holds no statement", reason=SQL_EMPTY)
    if len(statements) > 1:
        raise errors.invalid_field(
            "sql", f"exactly one statement per request, got {len(statements)}", reason=SQL_MULTIPLE_STATEMENTS
        )
    statement = statements[0]
    kind = statement.type
    cached = _VERIFIED.get((kind, statement.query))
    if cached is not None:
        return CheckedQuery(statement=statement, explain=cached[0], tables=cached[1], names_files=cached[2])
    if kind == duckdb.StatementType.SELECT:
        tree = _serialize(con, statement.query)
        explain = False
    elif kind == duckdb.StatementType.EXPLAIN:
        try:
            tree = _serialize(con, _explained_text(statement.query))
        except errors.InvalidArgument as exc:
            raise errors.InvalidArgument(
                f"only EXPLAIN [ANALYZE] <SELECT> is supported, without options ({exc.message})",
                reason=SQL_UNSUPPORTED,
            ) from None
        explain = True
    else:
        raise violation(
            f"only read-only queries may run here (SELECT, EXPLAIN); {kind.name} statements are refused",
            statement_type=kind.name,
        )
    table_functions, functions, tables, refs = _names(tree)
    for name in sorted(table_functions - ALLOWED_TABLE_FUNCTIONS):
        raise violation(f"table function {name}() is not allowed in queries", function=name)
    for name in sorted(functions & DENIED_FUNCTIONS):
        raise violation(f"function {name}() is not allowed in queries", function=name)
    for name in sorted(tables):
        if _FILE_LIKE_NAME.search(name):
            raise violation(
                f"{name!r} is not a dataset; files are read with read_parquet() inside the lake", table=name
            )
    for schema, name in sorted(refs):
        if _denied_system_view(schema, name):
            shown = f"{schema}.{name}" if schema else name
            raise violation(f"the catalog view {shown} is not available in queries", table=shown)
    checked = CheckedQuery(
        statement=statement,
        explain=explain,
        tables=frozenset(t.lower() for t in tables),
        names_files=explain or bool(table_functions & FILE_TABLE_FUNCTIONS),
    )
    _VERIFIED.put((kind, statement.query), (checked.explain, checked.tables, checked.names_files))
    return checked


@functools.cache
def _system_views() -> frozenset[tuple[str, str]]:
    """(schema, name) of DuckDB's built-in views, read once from a scratch database."""
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute("SELECT schema_name, view_name FROM duckdb_views() WHERE internal").fetchall()
    finally:
        con.close()
    return frozenset((str(schema).lower(), str(name).lower()) for schema, name in rows)


def _denied_system_view(schema: str, name: str) -> bool:
    """Whether a table reference can resolve to a built-in view that is not allowed."""
    schema, name = schema.lower(), name.lower()
    candidates = [schema] if schema else list(_SEARCH_PATH_SCHEMAS)
    views = _system_views()
    return any((s, name) in views and (s, name) not in ALLOWED_SYSTEM_VIEWS for s in candidates)


def _reraise_fatal(exc: BaseException) -> None:
    """Let a fatal engine error through unchanged: it is not the caller's syntax, and the
    core must see it to rebuild the engine."""
    from lakehouse.servers.query.engine_errors import fatal  # engine_errors imports this module

    if fatal(exc) is not None:
        raise exc


def _explained_text(text: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE]`` wraps, found with DuckDB's tokenizer
    (comments skipped). Options in parentheses are not supported: the remainder must
    itself be one SELECT, which ``_serialize`` then verifies."""
    words = list(_words(text))
    if not words or words[0][1].lower() != _EXPLAIN:
        raise errors.InvalidArgument("EXPLAIN could not be parsed", reason=SQL_UNSUPPORTED)
    position = 1
    if position < len(words) and words[position][1].lower() in _ANALYZE:
        position += 1
    if position >= len(words):
        raise errors.InvalidArgument("EXPLAIN needs a SELECT to explain", reason=SQL_UNSUPPORTED)
    return text[words[position][0] :]


def _words(text: str) -> Iterator[tuple[int, str]]:
    tokens = [(offset, kind) for offset, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]
    for index, (offset, _kind) in enumerate(tokens):
        end = tokens[index + 1][0] if index + 1 < len(tokens) else len(text)
        yield offset, text[offset:end].strip()


def _serialize(con: duckdb.DuckDBPyConnection, text: str) -> Any:
    """The statement's syntax tree; only a single SELECT serializes, so anything else is refused."""
    try:
        raw = con.execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0][0]
    except duckdb.Error as exc:
        _reraise_fatal(exc)
        raise errors.InvalidArgument(_clean(exc), reason=SQL_SYNTAX) from None
    try:
        tree = json.loads(raw)
    except RecursionError:
        raise errors.InvalidArgument("the query is nested too deeply", reason=SQL_TOO_COMPLEX) from None
    if tree.get("error"):
        message = str(tree.get("error_message", "unsupported statement"))
        if tree.get("error_type") == "parser":
            raise errors.InvalidArgument(message, reason=SQL_SYNTAX)
        raise errors.InvalidArgument(
            f"this statement form is not supported here ({message}); "
            "write it as a SELECT (e.g. SELECT * FROM (PIVOT ... ON ... IN (...) USING ...))",
            reason=SQL_UNSUPPORTED,
        )
    if len(tree.get("statements", ())) != 1:
        raise errors.invalid_field("sql", "exactly one statement per request", reason=SQL_MULTIPLE_STATEMENTS)
    return tree


def _names(tree: Any) -> tuple[set[str], set[str], set[str], set[tuple[str, str]]]:
    """(table functions, all functions, base table names, (schema, name) of base tables) anywhere in the tree."""
    table_functions: set[str] = set()
    functions: set[str] = set()
    tables: set[str] = set()
    refs: set[tuple[str, str]] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == _TABLE_FUNCTION_NODE and isinstance(node.get("function"), dict):
                table_functions.add(str(node["function"].get("function_name", "")).lower())
            if node.get("class") == _FUNCTION_CLASS:
                functions.add(str(node.get("function_name", "")).lower())
            if node.get("type") in (_BASE_TABLE_NODE, _SHOW_REF_NODE) and node.get("table_name"):
                tables.add(str(node["table_name"]))
                if node.get("type") == _BASE_TABLE_NODE:
                    refs.add((str(node.get("schema_name") or ""), str(node["table_name"])))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return table_functions, functions, tables, refs


def _clean(exc: BaseException) -> str:
    return str(exc).strip()


# Engine layer ---------------------------------------------------------------


@dataclass(frozen=True)
class EngineLimits:
    """What ``harden`` sets besides the security settings; empty/0 keeps DuckDB's default."""

    temp_directory: str
    threads: int = 0
    memory_limit: str = ""
    # Let DuckDB's allocator return freed memory to the system in the background: without
    # it, memory a failed or large query used stays resident (measured: 1.7 GB for minutes).
    background_allocator: bool = True


def harden(con: duckdb.DuckDBPyConnection, allowed_directories: list[str], limits: EngineLimits) -> None:
    """Configure the database for untrusted SQL, then lock the configuration.

    Order matters: ``allowed_directories`` can only be set while external access is
    still enabled, and nothing can be changed after ``lock_configuration``.
    """
    statements: list[tuple[str, object]] = [("temp_directory", limits.temp_directory)]
    if limits.threads:
        statements.append(("threads", limits.threads))
    if limits.memory_limit:
        statements.append(("memory_limit", limits.memory_limit))
    if limits.background_allocator:
        statements.append(("allocator_background_threads", True))
    statements += [
        # Lake files are immutable once committed, so their footers can be cached.
        ("parquet_metadata_cache", True),
        # Zoned timestamps come out in UTC whatever the host's zone.
        ("TimeZone", SERVER_TIME_ZONE),
        ("allowed_directories", list(allowed_directories)),
        ("allowed_paths", []),
        ("enable_external_access", False),
        ("autoinstall_known_extensions", False),
        ("autoload_known_extensions", False),
        ("allow_community_extensions", False),
        ("allow_unsigned_extensions", False),
        ("allow_persistent_secrets", False),
        ("python_enable_replacements", False),
        ("lock_configuration", True),
    ]
    for name, value in statements:
        con.execute(f"SET {name} = {_literal(value)}")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"
