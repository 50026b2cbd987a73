"""The source registry: what each source is (a JSON file) and its password (another one).

Both files live in ``sources.dir`` (default ``<home>/sources``, created mode 0700).
The registry holds name, host, port, database, user and times; the passwords sit in
their own file, created with mode 0600 (``os.open`` with that mode, so it is never
wider, not even for a moment) and rewritten the same way, so only the server's OS
user can read them, and a listing or a backup of the registry never carries one.

Every change rewrites a file atomically: a temporary file in the same directory
(``O_CREAT | O_EXCL``), fsync, ``os.replace``, fsync of the directory. Changes are
serialized by a thread lock and an ``flock`` on a lock file, so two processes sharing a
home cannot lose each other's writes. The passwords are written first and removed last,
so a crash between the two files leaves at most an unused password, never a source
whose password was lost.

A damaged file stops the call with FAILED_PRECONDITION (SOURCE_REGISTRY_CORRUPT) rather
than being overwritten. No message here ever contains a password.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.api import errors
from lakehouse.api.sources import (
    SOURCE_EXISTS,
    SOURCE_NOT_FOUND,
    SOURCE_REGISTRY_CORRUPT,
    SOURCE_REGISTRY_UNWRITABLE,
    Source,
    SourceSpec,
)

DIR_MODE = 0o700
SECRETS_MODE = 0o600
REGISTRY_MODE = 0o644
REGISTRY_VERSION = 1
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Entry:
    """A registry entry as persisted (no password)."""

    name: str
    host: str
    port: int
    database: str
    user: str
    has_password: bool
    created_at: str  # ISO 8601, UTC
    updated_at: str

    def source(self) -> Source:
        return Source(
            name=self.name,
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            has_password=self.has_password,
            created_at=datetime.fromisoformat(self.created_at),
            updated_at=datetime.fromisoformat(self.updated_at),
        )


def not_found(name: str) -> errors.NotFound:
    return errors.NotFound(f"source not found: {name}", reason=SOURCE_NOT_FOUND, metadata={"source": name})


class SourceRegistry:
    def __init__(self, directory: Path, registry_file: str, secrets_file: str) -> None:
        self._dir = directory
        self._registry = directory / registry_file
        self._secrets = directory / secrets_file
        self._lock = threading.Lock()

    # Reads --------------------------------------------------------------

    def entries(self) -> dict[str, Entry]:
        return self._load_registry()

    def get(self, name: str) -> Entry:
        entry = self._load_registry().get(name)
        if entry is None:
            raise not_found(name)
        return entry

    def password(self, name: str) -> str:
        return self._load_secrets().get(name, "")

    # Writes -------------------------------------------------------------

    def put(self, spec: SourceSpec, replace: bool) -> Entry:
        with self._exclusive():
            entries = self._load_registry()
            old = entries.get(spec.name)
            if old is not None and not replace:
                raise errors.AlreadyExists(
                    f"source already exists: {spec.name} (set replace to change it)",
                    reason=SOURCE_EXISTS,
                    metadata={"source": spec.name},
                )
            now = _now()
            entry = Entry(
                name=spec.name,
                host=spec.host,
                port=spec.port,
                database=spec.database,
                user=spec.user,
                has_password=bool(spec.password),
                created_at=old.created_at if old is not None else now,
                updated_at=now,
            )
            secrets = self._load_secrets()
            if spec.password:
                secrets[spec.name] = spec.password
            else:
                secrets.pop(spec.name, None)
            self._write(self._secrets, {"version": REGISTRY_VERSION, "passwords": secrets}, SECRETS_MODE)
            entries[spec.name] = entry
            self._write_registry(entries)
            return entry

    def delete(self, name: str) -> None:
        with self._exclusive():
            entries = self._load_registry()
            if name not in entries:
                raise not_found(name)
            del entries[name]
            self._write_registry(entries)
            secrets = self._load_secrets()
            if secrets.pop(name, None) is not None:
                self._write(self._secrets, {"version": REGISTRY_VERSION, "passwords": secrets}, SECRETS_MODE)

    # Files --------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock:
            self._ensure_dir()
            try:
                fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), SECRETS_MODE)
            except OSError as exc:
                raise _unwritable(self._dir.name, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def _ensure_dir(self) -> None:
        try:
            self._dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(self._dir.name, exc) from None

    def _read(self, path: Path) -> dict | None:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise errors.FailedPrecondition(
                f"cannot read the source registry ({path.name}): {exc.strerror or type(exc).__name__}",
                reason=SOURCE_REGISTRY_CORRUPT,
            ) from None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return data
        except ValueError:
            # Never the parser's message: for the secrets file it may quote a password.
            raise errors.FailedPrecondition(
                f"the source registry ({path.name}) is damaged: not the JSON this server writes",
                reason=SOURCE_REGISTRY_CORRUPT,
            ) from None

    def _load_registry(self) -> dict[str, Entry]:
        data = self._read(self._registry)
        if data is None:
            return {}
        try:
            entries = [Entry(**item) for item in data["sources"]]
        except (KeyError, TypeError) as exc:
            raise errors.FailedPrecondition(
                f"the source registry ({self._registry.name}) is damaged: {exc}", reason=SOURCE_REGISTRY_CORRUPT
            ) from None
        return {e.name: e for e in entries}

    def _load_secrets(self) -> dict[str, str]:
        data = self._read(self._secrets)
        if data is None:
            return {}
        passwords = data.get("passwords")
        if not isinstance(passwords, dict) or not all(isinstance(v, str) for v in passwords.values()):
            raise errors.FailedPrecondition(
                f"the source registry ({self._secrets.name}) is damaged", reason=SOURCE_REGISTRY_CORRUPT
            )
        return dict(passwords)

    def _write_registry(self, entries: dict[str, Entry]) -> None:
        body = {"version": REGISTRY_VERSION, "sources": [asdict(entries[n]) for n in sorted(entries)]}
        self._write(self._registry, body, REGISTRY_MODE)

    def _write(self, path: Path, body: dict, mode: int) -> None:
        """Atomic replace of ``path`` by a file created with ``mode`` (never wider)."""
        data = json.dumps(body, indent=2, sort_keys=True).encode("utf-8")
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temp, mode)  # the umask may have narrowed it; never wider than asked
                os.replace(temp, path)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise _unwritable(path.name, exc) from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unwritable(what: str, exc: OSError) -> errors.Unavailable:
    return errors.Unavailable(
        f"cannot write the source registry ({what}): {exc.strerror or type(exc).__name__}",
        reason=SOURCE_REGISTRY_UNWRITABLE,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()
