"""A bucket kept as a directory tree: the embedded default and the rescue bucket.

Keys map to files below ``root`` (``a/b.parquet`` -> ``root/a/b.parquet``) so the
data plane can use ``pyarrow.fs.LocalFileSystem`` on the same paths. Writes are
atomic (temp file in the target directory, fsync, ``os.replace``). No symlink
below the root is ever followed, so a key can never reach outside it.

The etag (MD5 of the content) and content type are kept in an extended
attribute stamped with the file's size and mtime; a file written by someone
else (e.g. pyarrow) has no or a stale stamp, and its MD5 is then computed once
and cached.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat as statmod
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow.fs as pafs

from lakehouse.api import errors
from lakehouse.api.paging import PagingSettings
from lakehouse.api.storage import KEY_CONFLICT, OBJECT_NOT_FOUND, STORAGE_FULL, STORAGE_UNAVAILABLE, UNSAFE_PATH
from lakehouse.servers.storage.keys import SEPARATOR, validate_key, validate_page, validate_prefix
from lakehouse.servers.storage.listing import level_of, ordered_walk, take_page
from lakehouse.servers.storage.model import BucketInfo, ObjectInfo

MiB = 1024 * 1024
DEFAULT_CHUNK_BYTES = 1 * MiB
# Block size when hashing a file that carries no valid etag stamp.
HASH_BLOCK_BYTES = 1 * MiB
META_XATTR = "user.lakehouse.meta"
# Temp files carry a backslash, which no valid key may contain: they can never be
# listed, read or overwritten through the API.
TEMP_PREFIX = ".lakehouse-tmp\\"
TEMP_FILE_MODE = 0o644
# A concurrent delete may prune the directory a put just created; retry that many times.
MKDIR_ATTEMPTS = 3
_XATTR_UNSUPPORTED = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES})


@dataclass(frozen=True)
class _Meta:
    """What the xattr stamp records; valid only while size and mtime still match."""

    md5: str
    size: int
    mtime_ns: int
    content_type: str = ""

    def encode(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> _Meta | None:
        try:
            data = json.loads(raw)
            return cls(str(data["md5"]), int(data["size"]), int(data["mtime_ns"]), str(data["content_type"]))
        except (ValueError, KeyError, TypeError):
            return None


def _unavailable(key: str, exc: OSError) -> errors.LakehouseError:
    """Map an OSError of the local filesystem to the domain error a client can act on."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return errors.ResourceExhausted(f"local storage is full writing {key!r}", reason=STORAGE_FULL)
    if isinstance(exc, (NotADirectoryError, IsADirectoryError, FileExistsError)):
        return errors.FailedPrecondition(
            f"key {key!r} conflicts with an existing object or prefix of the same name", reason=KEY_CONFLICT
        )
    return errors.Unavailable(f"local storage error on {key!r}: {exc.strerror or exc}", reason=STORAGE_UNAVAILABLE)


def _not_found(key: str) -> errors.NotFound:
    return errors.NotFound(f"object {key!r} not found", reason=OBJECT_NOT_FOUND, metadata={"key": key})


class LocalObjectStore:
    """One bucket on a local directory; implements ``model.ObjectStore``."""

    def __init__(
        self, name: str, root: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES, paging: PagingSettings | None = None
    ) -> None:
        self._root = Path(root).expanduser().resolve()
        self._chunk_bytes = chunk_bytes
        self._paging = paging or PagingSettings()
        self.info = BucketInfo(name=name, backend="local", location=str(self._root))

    @property
    def root(self) -> Path:
        return self._root

    # Paths --------------------------------------------------------------

    def _path(self, key: str, field_name: str = "key") -> Path:
        validate_key(key, field_name)
        path = self._root.joinpath(*key.split(SEPARATOR))
        self._guard(path, key)
        return path

    def _guard(self, path: Path, key: str) -> None:
        """Refuse any symlink on the way: with a resolved root and no dot segments,
        the resolved path equals the lexical one exactly when none is followed."""
        try:
            real = path.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise errors.PermissionDenied(f"key {key!r} resolves through a symlink", reason=UNSAFE_PATH) from exc
        if real != path:
            raise errors.PermissionDenied(
                f"key {key!r} resolves through a symlink; refusing to follow it", reason=UNSAFE_PATH
            )

    def _ensure_root(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise errors.Unavailable(
                f"cannot create bucket directory {self._root}: {exc.strerror or exc}",
                reason=STORAGE_UNAVAILABLE,
            ) from exc

    # Metadata -------------------------------------------------------------

    @staticmethod
    def _read_stamp(path: Path) -> _Meta | None:
        try:
            return _Meta.decode(os.getxattr(path, META_XATTR, follow_symlinks=False))
        except OSError:
            return None

    @staticmethod
    def _write_stamp(target: Path | int, meta: _Meta) -> None:
        """Best effort: without xattr support the etag is recomputed on every stat."""
        with contextlib.suppress(OSError):
            os.setxattr(target, META_XATTR, meta.encode())

    def _meta(self, path: Path, st: os.stat_result) -> _Meta:
        stamp = self._read_stamp(path)
        if stamp is not None and stamp.size == st.st_size and stamp.mtime_ns == st.st_mtime_ns:
            return stamp
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while block := handle.read(HASH_BLOCK_BYTES):
                digest.update(block)
        meta = _Meta(digest.hexdigest(), st.st_size, st.st_mtime_ns, stamp.content_type if stamp else "")
        # Stamp with the stat taken before hashing: a concurrent rewrite changes mtime
        # and so invalidates this stamp instead of hiding behind it.
        self._write_stamp(path, meta)
        return meta

    def _info(self, key: str, path: Path) -> ObjectInfo:
        st = os.stat(path, follow_symlinks=False)
        if not statmod.S_ISREG(st.st_mode):
            raise _not_found(key)
        meta = self._meta(path, st)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=meta.md5,
            modified_at=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
            content_type=meta.content_type,
        )

    # ObjectStore -----------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        """Write atomically; readers see the old object or the new one, never a part."""
        path = self._path(key)
        self._ensure_root()
        handle, temp = self._open_temp(key, path.parent)
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with handle:
                for chunk in chunks:  # the caller's own exceptions propagate unchanged
                    digest.update(chunk)
                    size += len(chunk)
                    self._write(handle, chunk, key)
                self._finish(handle, key)
                mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
                self._write_stamp(handle.fileno(), _Meta(digest.hexdigest(), size, mtime_ns, content_type))
            try:
                os.replace(temp, path)
                self._sync_dir(path.parent)
            except OSError as exc:
                raise _unavailable(key, exc) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return self._stat_path(key, path)

    def _open_temp(self, key: str, directory: Path) -> tuple[BinaryIO, Path]:
        temp = directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        for attempt in range(MKDIR_ATTEMPTS):
            try:
                directory.mkdir(parents=True, exist_ok=True)
                self._guard(directory, key)
                fd = os.open(temp, flags, TEMP_FILE_MODE)
                return os.fdopen(fd, "wb"), temp
            except FileNotFoundError as exc:  # parent pruned by a concurrent delete
                if attempt == MKDIR_ATTEMPTS - 1:
                    raise _unavailable(key, exc) from exc
            except OSError as exc:
                raise _unavailable(key, exc) from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _write(handle: BinaryIO, chunk: bytes, key: str) -> None:
        try:
            handle.write(chunk)
        except OSError as exc:
            raise _unavailable(key, exc) from exc

    @staticmethod
    def _finish(handle: BinaryIO, key: str) -> None:
        try:
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            raise _unavailable(key, exc) from exc

    @staticmethod
    def _sync_dir(directory: Path) -> None:
        """Make the rename durable; some filesystems cannot fsync a directory."""
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def get(self, key: str, chunk_bytes: int = 0) -> Iterator[bytes]:
        """Open now (so NotFound is raised by the call), stream on iteration."""
        if chunk_bytes < 0:
            raise errors.invalid_field("chunk_bytes", "must not be negative")
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise errors.PermissionDenied(f"key {key!r} is a symlink", reason=UNSAFE_PATH) from exc
            raise _unavailable(key, exc) from exc
        if not statmod.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _not_found(key)
        return self._stream(os.fdopen(fd, "rb"), key, chunk_bytes or self._chunk_bytes)

    @staticmethod
    def _stream(handle: BinaryIO, key: str, chunk_bytes: int) -> Iterator[bytes]:
        with handle:
            while True:
                try:
                    chunk = handle.read(chunk_bytes)
                except OSError as exc:
                    raise _unavailable(key, exc) from exc
                if not chunk:
                    return
                yield chunk

    def stat(self, key: str) -> ObjectInfo:
        return self._stat_path(key, self._path(key))

    def _stat_path(self, key: str, path: Path) -> ObjectInfo:
        try:
            return self._info(key, path)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(key) from None
        except OSError as exc:
            raise _unavailable(key, exc) from exc

    def list(self, prefix: str = "", page_size: int = 0, page_token: str = "") -> tuple[list[ObjectInfo], str]:
        """Keys in UTF-8 order after ``page_token``; the token of the next page is
        the last key returned, or "" on the last page."""
        validate_prefix(prefix)
        size, after = validate_page(page_size, page_token, self._paging)
        try:
            return take_page(self._infos(prefix, after), size, lambda info: info.key)
        except OSError as exc:
            raise _unavailable(prefix, exc) from exc

    def _infos(self, prefix: str, after: str) -> Iterator[ObjectInfo]:
        for key, path in ordered_walk(self._read_level, prefix, after):
            try:
                yield self._info(key, path)
            except (FileNotFoundError, NotADirectoryError, errors.NotFound):
                continue  # deleted while listing

    def _read_level(self, request: str) -> list[tuple[str, bool, Path]]:
        """Entries of one directory; symlinks and other special files are skipped."""
        rel = level_of(request)
        directory = self._root.joinpath(*rel.split(SEPARATOR)[:-1])
        entries: list[tuple[str, bool, Path]] = []
        if directory.resolve() != directory:
            return entries  # a prefix through a symlink names no keys
        try:
            with os.scandir(directory) as scan:
                for entry in scan:
                    if entry.is_dir(follow_symlinks=False):
                        entries.append((rel + entry.name + SEPARATOR, True, Path(entry.path)))
                    elif entry.is_file(follow_symlinks=False):
                        entries.append((rel + entry.name, False, Path(entry.path)))
        except (FileNotFoundError, NotADirectoryError):
            pass
        return entries

    def delete(self, key: str) -> None:
        """Remove the object, then prune directories it leaves empty."""
        path = self._path(key)
        try:
            st = os.stat(path, follow_symlinks=False)
            if not statmod.S_ISREG(st.st_mode):
                raise _not_found(key)
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(key) from None
        except OSError as exc:
            raise _unavailable(key, exc) from exc
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        while directory != self._root and self._root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty (or already gone): stop climbing
            directory = directory.parent

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        self._ensure_root()
        return pafs.LocalFileSystem(), str(self._root)

    def check(self) -> None:
        """The root must exist (created if missing) and be a writable directory."""
        self._ensure_root()
        if not self._root.is_dir() or not os.access(self._root, os.W_OK | os.X_OK):
            raise errors.Unavailable(
                f"bucket directory {self._root} is not a writable directory", reason=STORAGE_UNAVAILABLE
            )
