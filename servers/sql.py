"""SQL text the servers build for DuckDB: quoting, in one place (values travel as bound
parameters wherever the engine allows; names and the few literals it does not, go
through these)."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A quoted SQL identifier: any column or view name, safely."""
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    """A quoted SQL string literal (for DDL, where parameters cannot be bound)."""
    return "'" + text.replace("'", "''") + "'"
