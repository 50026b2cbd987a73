"""A throwaway PostgreSQL cluster on loopback: initdb in a directory, one server on a
free port with password (scram-sha-256) authentication, removed on ``stop()``.

``lakehouse demo`` loads its workers table into one (so the demo pulls from a real
source), and the tests start one per session. Postgres refuses to run as root, so as
root every server command runs as the ``postgres`` OS user (``runuser``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from lakehouse.gateway.process import free_port

BIN_DIR = Path(os.environ.get("LAKEHOUSE_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"  # owner of the cluster when started as root
START_TIMEOUT_S = 30
MAX_CONNECTIONS = 40
HOST = "127.0.0.1"


def available() -> bool:
    """Whether the server binaries are installed (scripts/setup-dev installs them)."""
    return (BIN_DIR / "postgres").exists()


class LocalPostgres:
    """``start()``, use ``uri()`` / ``connect()``, then ``stop()``."""

    def __init__(self, user: str = "lakehouse", password: str | None = None, database: str = "lake_src") -> None:
        self.host = HOST
        self.port = free_port(HOST)
        self.user = user
        self.password = password if password is not None else secrets.token_urlsafe(16)
        self.database = database
        self._root = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
        self.data_dir = self._root / "data"
        self._as_root = os.geteuid() == 0

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", OS_USER, "--"] if self._as_root else []
        return subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)

    def start(self) -> LocalPostgres:
        if not available():
            raise RuntimeError(f"PostgreSQL server binaries not found in {BIN_DIR} (set LAKEHOUSE_PG_BIN)")
        pwfile = self._root / "pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._as_root:
            shutil.chown(self._root, OS_USER, OS_USER)
            shutil.chown(pwfile, OS_USER, OS_USER)
        initdb = [str(BIN_DIR / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--pwfile", str(pwfile)]
        self._run(*initdb, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C")
        pwfile.unlink()
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write(
                f"listen_addresses = '{self.host}'\nport = {self.port}\nunix_socket_directories = '{self._root}'\n"
                f"max_connections = {MAX_CONNECTIONS}\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        log = str(self._root / "server.log")
        self._run(
            str(BIN_DIR / "pg_ctl"), "-D", str(self.data_dir), "-l", log, "-w", "-t", str(START_TIMEOUT_S), "start"
        )
        self.sql(f"CREATE DATABASE {self.database}", database="postgres")
        return self

    def uri(self, database: str | None = None) -> str:
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{database or self.database}"

    def connect(self, database: str | None = None):
        """An autocommit ADBC connection as the superuser."""
        from adbc_driver_postgresql import dbapi

        return dbapi.connect(self.uri(database), autocommit=True)

    def sql(self, statements: str, database: str | None = None) -> list[tuple]:
        """Run statements (separated by ";" and a newline); the last one's rows."""
        with self.connect(database) as conn, conn.cursor() as cur:
            rows: list[tuple] = []
            for statement in [s for s in statements.split(";\n") if s.strip()]:
                cur.execute(statement)
                rows = cur.fetchall() if cur.description else []
            return rows

    def stop(self) -> None:
        try:
            self._run(str(BIN_DIR / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # not running
        deadline = time.monotonic() + START_TIMEOUT_S
        while (self.data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self._root, ignore_errors=True)
