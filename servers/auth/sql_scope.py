"""A scoped reader's SQL names only its profiles' datasets.

Run after the sandbox accepted the statement and only for a caller with a dataset scope:
the statement's syntax tree (DuckDB's own ``json_serialize_sql``, as the sandbox walks
it) must name, as tables, only datasets of the scope or its own CTEs. Anything else is
NOT_FOUND exactly like a dataset that does not exist, so names do not leak: another
profile's dataset, the op journal ``_ops``, and the catalog views (information_schema,
pg_catalog, duckdb_tables) that would list every dataset. Table functions are limited to
row generators: the Parquet readers would read another dataset's files by path, and
duckdb_tables() and friends list every view.
"""

from __future__ import annotations

from typing import Any

import duckdb

from lakehouse.api import errors
from lakehouse.api.query import SANDBOX_VIOLATION
from lakehouse.servers.auth.context import hidden_dataset
from lakehouse.servers.query import sandbox

# Table functions with no I/O and no view of the catalog.
SCOPED_TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree"}
)
_DATASET_SCHEMAS = ("", "main")


def _walk(tree: Any) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    """((schema, table) references, table functions, CTE names) anywhere in the tree."""
    tables: set[tuple[str, str]] = set()
    functions: set[str] = set()
    ctes: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in ("BASE_TABLE", "SHOW_REF") and node.get("table_name"):
                tables.add((str(node.get("schema_name") or "").lower(), str(node["table_name"]).lower()))
            elif kind == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
                functions.add(str(node["function"].get("function_name", "")).lower())
            cte_map = node.get("cte_map")
            if isinstance(cte_map, dict):
                ctes.update(str(entry.get("key", "")).lower() for entry in cte_map.get("map", ()))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return tables, functions, ctes


def check_scope(con: duckdb.DuckDBPyConnection, text: str, explain: bool, scope: frozenset[str]) -> None:
    """NotFound for a table outside ``scope``; PermissionDenied for a table function that could
    reach one. ``text``: the statement the sandbox accepted (``explain``: it is an EXPLAIN)."""
    tree = sandbox._serialize(con, sandbox._explained_text(text) if explain else text)
    tables, functions, ctes = _walk(tree)
    allowed = {name.lower() for name in scope}
    for name in sorted(functions - SCOPED_TABLE_FUNCTIONS):
        raise errors.PermissionDenied(
            f"table function {name}() is not available to a profile scoped to datasets",
            reason=SANDBOX_VIOLATION,
            metadata={"function": name},
        )
    for schema, name in sorted(tables):
        if schema in _DATASET_SCHEMAS and (name in allowed or (not schema and name in ctes)):
            continue
        raise hidden_dataset(f"{schema}.{name}" if schema else name)
