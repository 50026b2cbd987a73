"""AuthCore: principals, API keys and profiles, in tables of the catalog's SQLite database.

The catalog component hosts AuthService because it owns the database: one file to back up
and snapshot, one writer lock, the same WAL visibility across processes on one home.

Keys are stored only as SHA-256 digests of the whole secret. A key is 32 random bytes
(256 bits) from ``secrets``, so it cannot be guessed or brute-forced from its digest, and
a slow password hash (argon2, bcrypt) would add nothing but tens of milliseconds to
every first check; a pepper would not strengthen a digest of a 256-bit secret either. The
key id (also random, and public: it is how a key is revoked) is the row's primary key,
so a check is one indexed lookup and one constant-time digest comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from lakehouse.api import errors
from lakehouse.api.auth import (
    ADMIN,
    ANY,
    INVALID_KIND,
    INVALID_NAME,
    INVALID_ROLE,
    INVALID_TTL,
    KEY_EXPIRED,
    KEY_NOT_FOUND,
    KEY_REVOKED,
    KEY_UNKNOWN,
    KINDS,
    PRINCIPAL_EXISTS,
    PRINCIPAL_NOT_FOUND,
    PROFILE_EXISTS,
    PROFILE_NOT_FOUND,
    ROLES,
    SERVICE,
    USER,
    ApiKey,
    CreatedKey,
    Identity,
    Principal,
    Profile,
)
from lakehouse.servers.catalog.codec import decode_time, encode_time
from lakehouse.servers.clock import utc_now
from lakehouse.servers.settings import AuthSettings

BUSY_TIMEOUT_S = 10.0
KEY_ID_BYTES = 8
SECRET_BYTES = 32
BOOTSTRAP_ADMIN = "admin"
INTERNAL_PRINCIPAL = "lakehouse-internal"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_SCOPE_RE = re.compile(r"^(\*|[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$")

_DDL = (
    """CREATE TABLE IF NOT EXISTS auth_principals (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS auth_keys (
        key_id TEXT PRIMARY KEY,
        principal TEXT NOT NULL REFERENCES auth_principals(name) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        description TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS auth_profiles (
        name TEXT PRIMARY KEY,
        principal TEXT NOT NULL REFERENCES auth_principals(name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        buckets TEXT NOT NULL,
        datasets TEXT NOT NULL,
        corpora TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS auth_profiles_by_principal ON auth_profiles (principal)",
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _unknown() -> errors.Unauthenticated:
    return errors.Unauthenticated("the API key is not valid", reason=KEY_UNKNOWN)


def _check_name(field: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise errors.invalid_field(
            field, "1-128 letters, digits, '.', '_', '-' or '@', starting with a letter or digit", reason=INVALID_NAME
        )


def _check_scope(field: str, names: tuple[str, ...]) -> None:
    for name in names:
        if not _SCOPE_RE.fullmatch(name):
            raise errors.invalid_field(field, f"{name!r} is not a name (or '*')", reason=INVALID_NAME)


class AuthCore:
    """Implements ``AuthApi`` on the catalog database. ``on_change`` callbacks run after every
    revoke and profile change (the interceptor's cache drops what it resolved)."""

    def __init__(
        self, db_path: Path, settings: AuthSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._path = Path(db_path)
        self._settings = settings or AuthSettings()
        self._clock = clock
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self.on_change: list[Callable[[], None]] = []
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._write() as conn:
            for stmt in _DDL:
                conn.execute(stmt)

    # Connections ---------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except errors.LakehouseError:
            raise
        except sqlite3.Error as exc:
            raise errors.Unavailable(f"auth database unavailable: {exc}", reason="CATALOG_UNAVAILABLE") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._guard() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _changed(self) -> None:
        for callback in list(self.on_change):
            callback()

    # Principals ----------------------------------------------------------

    def create_principal(self, name: str, kind: str = USER) -> Principal:
        _check_name("name", name)
        kind = kind or USER
        if kind not in KINDS:
            raise errors.invalid_field("kind", f"one of {', '.join(KINDS)}", reason=INVALID_KIND)
        now = self._clock()
        with self._write() as conn:
            self._insert_principal(conn, name, kind, now)
        return Principal(name, kind, now)

    @staticmethod
    def _insert_principal(conn: sqlite3.Connection, name: str, kind: str, now: datetime) -> None:
        try:
            conn.execute("INSERT INTO auth_principals VALUES (?, ?, ?)", (name, kind, encode_time(now)))
        except sqlite3.IntegrityError:
            raise errors.AlreadyExists(
                f"principal already exists: {name}", reason=PRINCIPAL_EXISTS, metadata={"principal": name}
            ) from None

    def list_principals(self) -> list[Principal]:
        with self._guard() as conn:
            rows = conn.execute("SELECT name, kind, created_at FROM auth_principals ORDER BY name").fetchall()
        return [Principal(n, k, decode_time(c)) for n, k, c in rows]

    def _principal(self, conn: sqlite3.Connection, name: str) -> Principal:
        row = conn.execute("SELECT name, kind, created_at FROM auth_principals WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise errors.NotFound(
                f"principal not found: {name}", reason=PRINCIPAL_NOT_FOUND, metadata={"principal": name}
            )
        return Principal(row[0], row[1], decode_time(row[2]))

    # Keys ----------------------------------------------------------------

    def create_key(self, principal: str, ttl_s: int = 0, description: str = "") -> CreatedKey:
        _check_name("principal", principal)
        if ttl_s < 0:
            raise errors.invalid_field("ttl_s", "must not be negative", reason=INVALID_TTL)
        with self._write() as conn:
            self._principal(conn, principal)
            return self._insert_key(conn, principal, ttl_s or self._settings.default_key_ttl_s, description)

    def _insert_key(self, conn: sqlite3.Connection, principal: str, ttl_s: int, description: str) -> CreatedKey:
        now = self._clock()
        key_id = secrets.token_hex(KEY_ID_BYTES)
        secret = f"{self._settings.key_prefix}{key_id}.{secrets.token_urlsafe(SECRET_BYTES)}"
        expires = now + timedelta(seconds=ttl_s) if ttl_s else None
        conn.execute(
            "INSERT INTO auth_keys VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (
                key_id,
                principal,
                digest(secret),
                encode_time(now),
                encode_time(expires) if expires else None,
                description,
            ),
        )
        return CreatedKey(ApiKey(key_id, principal, now, expires, None, description), secret)

    def revoke_key(self, key_id: str) -> ApiKey:
        with self._write() as conn:
            row = self._key_row(conn, key_id)
            if row is None:
                raise errors.NotFound(f"key not found: {key_id}", reason=KEY_NOT_FOUND, metadata={"key_id": key_id})
            if row[5] is None:
                conn.execute(
                    "UPDATE auth_keys SET revoked_at = ? WHERE key_id = ?", (encode_time(self._clock()), key_id)
                )
                row = self._key_row(conn, key_id)
        self._changed()
        return _key(row)

    @staticmethod
    def _key_row(conn: sqlite3.Connection, key_id: str) -> tuple | None:
        return conn.execute(
            "SELECT key_id, principal, digest, created_at, expires_at, revoked_at, description"
            " FROM auth_keys WHERE key_id = ?",
            (key_id,),
        ).fetchone()

    def authenticate(self, secret: str) -> Identity:
        """The identity ``secret`` stands for, or Unauthenticated (KEY_UNKNOWN, KEY_REVOKED, KEY_EXPIRED)."""
        prefix = self._settings.key_prefix
        if not isinstance(secret, str) or not secret.startswith(prefix):
            raise _unknown()
        key_id, dot, _ = secret[len(prefix) :].partition(".")
        if not dot or not key_id:
            raise _unknown()
        with self._guard() as conn:
            row = self._key_row(conn, key_id)
            # Compare even when there is no row: the reply takes the same time either way.
            if not hmac.compare_digest(digest(secret), row[2] if row else "0" * 64) or row is None:
                raise _unknown()
            key = _key(row)
            if key.revoked_at is not None:
                raise errors.Unauthenticated("the API key was revoked", reason=KEY_REVOKED, metadata={"key_id": key_id})
            if key.expires_at is not None and key.expires_at <= self._clock():
                raise errors.Unauthenticated("the API key has expired", reason=KEY_EXPIRED, metadata={"key_id": key_id})
            principal = self._principal(conn, key.principal)
            profiles = self._profiles(conn, key.principal)
        return Identity(principal, key, tuple(profiles))

    # Profiles ------------------------------------------------------------

    def create_profile(self, profile: Profile) -> Profile:
        _check_name("profile.name", profile.name)
        _check_name("profile.principal", profile.principal)
        if profile.role not in ROLES:
            raise errors.invalid_field("profile.role", f"one of {', '.join(ROLES)}", reason=INVALID_ROLE)
        for field in ("buckets", "datasets", "corpora"):
            _check_scope(f"profile.{field}", tuple(getattr(profile, field)))
        now = self._clock()
        with self._write() as conn:
            self._principal(conn, profile.principal)
            self._insert_profile(conn, profile, now)
        self._changed()
        return Profile(
            profile.name,
            profile.principal,
            profile.role,
            tuple(profile.buckets),
            tuple(profile.datasets),
            tuple(profile.corpora),
            now,
        )

    @staticmethod
    def _insert_profile(conn: sqlite3.Connection, p: Profile, now: datetime) -> None:
        try:
            conn.execute(
                "INSERT INTO auth_profiles VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    p.name,
                    p.principal,
                    p.role,
                    json.dumps(sorted(set(p.buckets))),
                    json.dumps(sorted(set(p.datasets))),
                    json.dumps(sorted(set(p.corpora))),
                    encode_time(now),
                ),
            )
        except sqlite3.IntegrityError:
            raise errors.AlreadyExists(
                f"profile already exists: {p.name}", reason=PROFILE_EXISTS, metadata={"profile": p.name}
            ) from None

    def list_profiles(self, principal: str = "") -> list[Profile]:
        with self._guard() as conn:
            return self._profiles(conn, principal)

    @staticmethod
    def _profiles(conn: sqlite3.Connection, principal: str = "") -> list[Profile]:
        sql = "SELECT name, principal, role, buckets, datasets, corpora, created_at FROM auth_profiles"
        rows = conn.execute(
            sql + (" WHERE principal = ?" if principal else "") + " ORDER BY name", (principal,) if principal else ()
        ).fetchall()
        return [
            Profile(n, p, r, tuple(json.loads(b)), tuple(json.loads(d)), tuple(json.loads(c)), decode_time(t))
            for n, p, r, b, d, c, t in rows
        ]

    def delete_profile(self, name: str) -> None:
        with self._write() as conn:
            if not conn.execute("DELETE FROM auth_profiles WHERE name = ?", (name,)).rowcount:
                raise errors.NotFound(
                    f"profile not found: {name}", reason=PROFILE_NOT_FOUND, metadata={"profile": name}
                )
        self._changed()

    # Bootstrap -----------------------------------------------------------

    def bootstrap(self, admin_file: Path, internal_file: Path) -> bool:
        """With no admin profile yet: create the admin and the internal service principal,
        each with an admin profile covering everything and a key written to its file (mode
        0600). True when it did; in one write transaction, so two processes starting at
        once create one admin."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM auth_profiles WHERE role = ? LIMIT 1", (ADMIN,)).fetchone():
                return False
            now = self._clock()
            written = []
            for name, kind, path in ((BOOTSTRAP_ADMIN, USER, admin_file), (INTERNAL_PRINCIPAL, SERVICE, internal_file)):
                if conn.execute("SELECT 1 FROM auth_principals WHERE name = ?", (name,)).fetchone() is None:
                    self._insert_principal(conn, name, kind, now)
                profile = Profile(f"{name}-admin", name, ADMIN, (ANY,), (ANY,), (ANY,))
                conn.execute("DELETE FROM auth_profiles WHERE name = ?", (profile.name,))
                self._insert_profile(conn, profile, now)
                written.append((path, self._insert_key(conn, name, 0, "bootstrap").secret))
            for path, secret in written:
                write_secret(path, secret)
        return True


def write_secret(path: Path, secret: str) -> None:
    """``secret`` in ``path``, readable by its owner only (created 0600, then moved in place)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    os.replace(tmp, path)


def _key(row: tuple) -> ApiKey:
    key_id, principal, _digest, created, expires, revoked, description = row
    return ApiKey(
        key_id,
        principal,
        decode_time(created),
        decode_time(expires) if expires else None,
        decode_time(revoked) if revoked else None,
        description,
    )
