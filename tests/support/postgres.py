"""A real PostgreSQL 15 for tests: initdb in a temporary directory, one server on a free
loopback port with password (scram-sha-256) authentication, torn down after.

When the tests run as root the cluster belongs to the ``postgres`` OS user (Postgres
refuses to run as root), so every server command goes through ``runuser``. The
superuser's password is known (``PASSWORD``), so a wrong one can be tested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.gateway.process import free_port

BIN_DIR = Path(os.environ.get("LAKEHOUSE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "lakehouse"
PASSWORD = "s3cret-Pa55:word/with@odd&chars"  # URI-special characters on purpose
DATABASE = "lake_src"
OS_USER = "postgres"  # who owns the cluster when the tests run as root
START_TIMEOUT_S = 30.0
# Enough for the tests' parallel connections plus a terminated backend's replacement.
MAX_CONNECTIONS = 40


def available() -> bool:
    return (BIN_DIR / "postgres").exists()


class Postgres:
    """One cluster: ``start()`` then ``stop()``; ``sql()`` runs statements as the superuser."""

    def __init__(self) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.user = USER
        self.password = PASSWORD
        self.database = DATABASE
        self._root = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
        self.data_dir = self._root / "data"
        self._as_root = os.geteuid() == 0

    def _run(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", OS_USER, "--"] if self._as_root else []
        return subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, **kw)

    def start(self) -> Postgres:
        if self._as_root:
            shutil.chown(self._root, OS_USER, OS_USER)
        pwfile = self._root / "pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._as_root:
            shutil.chown(pwfile, OS_USER, OS_USER)
        self._run(
            str(BIN_DIR / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--pwfile",
            str(pwfile),
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        )
        pwfile.unlink()
        conf = (
            f"listen_addresses = '{self.host}'\nport = {self.port}\nunix_socket_directories = '{self._root}'\n"
            f"max_connections = {MAX_CONNECTIONS}\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write(conf)
        self._run(
            str(BIN_DIR / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self._root / "server.log"),
            "-w",
            "-t",
            str(int(START_TIMEOUT_S)),
            "start",
        )
        self.sql(f"CREATE DATABASE {self.database}", database="postgres")
        return self

    def uri(self, database: str | None = None) -> str:
        from urllib.parse import quote

        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/"
            f"{database or self.database}"
        )

    def connect(self, database: str | None = None):
        """An autocommit ADBC connection as the superuser."""
        from adbc_driver_postgresql import dbapi

        return dbapi.connect(self.uri(database), autocommit=True)

    def sql(self, statements: str, database: str | None = None) -> list[tuple]:
        """Run statements (``;``-separated is fine); the last one's rows."""
        with self.connect(database) as conn, conn.cursor() as cur:
            rows: list[tuple] = []
            for statement in [s for s in statements.split(";\n") if s.strip()]:
                cur.execute(statement)
                try:
                    rows = cur.fetchall()
                except Exception:  # noqa: BLE001 - a statement without a result
                    rows = []
            return rows

    def stop(self) -> None:
        try:
            self._run(str(BIN_DIR / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        deadline = time.monotonic() + START_TIMEOUT_S
        while (self.data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self._root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL 15 cluster for the session (skipped when the binaries are missing:
    ``scripts/setup-dev`` installs them)."""
    if not available():
        pytest.skip(f"PostgreSQL binaries not found in {BIN_DIR} (run scripts/setup-dev)")
    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()
