"""The session's real PostgreSQL 15 (``lakehouse.demo.postgres.LocalPostgres``: initdb in
a temporary directory, a free loopback port, scram-sha-256 passwords), torn down after.
Its superuser's password holds URI-special characters on purpose, and is known, so a
wrong one can be tested. The binaries come from ``scripts/setup-dev``; without them the
fixture fails, saying so (a source test never silently skips)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.demo.postgres import BIN_DIR, LocalPostgres, available

USER = "lakehouse"
PASSWORD = "s3cret-Pa55:word/with@odd&chars"  # URI-special characters on purpose
DATABASE = "lake_src"

Postgres = LocalPostgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    if not available():
        pytest.fail(f"PostgreSQL binaries not found in {BIN_DIR}: run scripts/setup-dev (it installs postgresql-15)")
    server = LocalPostgres(user=USER, password=PASSWORD, database=DATABASE).start()
    try:
        yield server
    finally:
        server.stop()
