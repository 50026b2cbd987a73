"""The PDFs in a ZIP archive, unpacked one at a time into the spool, each checked.

Hostile archives are refused whole, before anything is unpacked: a member whose path
escapes (absolute, ``..``, a drive letter), too many members, more bytes in all than
``documents.zip_max_uncompressed_bytes``, or a member expanding more than
``zip_max_ratio`` times (a zip bomb). Sizes are counted again while unpacking, since
an archive's size fields can lie. A member that is merely bad (not a PDF, encrypted)
is reported by name and the rest go on.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lakehouse.api import errors
from lakehouse.api.ingest import ARCHIVE_TOO_LARGE, MALFORMED_ARCHIVE, PDF_ENCRYPTED, UNSAFE_ARCHIVE_PATH
from lakehouse.servers.ingest.documents.pdf import DocumentRejected
from lakehouse.servers.settings import DocumentSettings

COPY_CHUNK_BYTES = 1024 * 1024
# Members below this size are never judged by their ratio: a tiny file compresses oddly.
RATIO_GRACE_BYTES = 1024 * 1024
ENCRYPTED_FLAG = 0x1
# Members that archivers add and nobody means to ingest.
_IGNORED_PREFIXES = ("__MACOSX/",)


@dataclass(frozen=True)
class Member:
    """A member as unpacked: its spool file belongs to whoever holds it (``release``)."""

    name: str
    path: Path | None  # the unpacked file; None when rejected
    rejection: DocumentRejected | None = None

    def release(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _unsafe(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in PurePosixPath(name.replace("\\", "/")).parts


def _ignored(info: zipfile.ZipInfo) -> bool:
    base = PurePosixPath(info.filename).name
    return info.is_dir() or info.filename.startswith(_IGNORED_PREFIXES) or base.startswith(".")


def _too_large(message: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"the archive is refused: {message}", reason=ARCHIVE_TOO_LARGE)


class Archive:
    """Open with ``Archive(path, limits, spool_dir)``; iterate ``members()``."""

    def __init__(self, path: Path, limits: DocumentSettings, spool_dir: Path) -> None:
        self._limits = limits
        self._spool = spool_dir
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise errors.InvalidArgument(
                f"the upload is not a readable ZIP archive: {exc}", reason=MALFORMED_ARCHIVE
            ) from exc
        try:
            self._infos = [i for i in self._zip.infolist() if not _ignored(i)]
            self._check()
        except BaseException:
            self._zip.close()
            raise

    def close(self) -> None:
        self._zip.close()

    def __len__(self) -> int:
        return len(self._infos)

    def _check(self) -> None:
        limits = self._limits
        for info in self._zip.infolist():
            if _unsafe(info.filename):
                raise errors.InvalidArgument(
                    f"the archive is refused: member {info.filename!r} would be written outside the archive's folder",
                    reason=UNSAFE_ARCHIVE_PATH,
                    metadata={"file_name": info.filename},
                )
        if len(self._infos) > limits.zip_max_members:
            raise _too_large(
                f"it has {len(self._infos)} members; at most {limits.zip_max_members} (documents.zip_max_members)"
            )
        total = sum(i.file_size for i in self._infos)
        if total > limits.zip_max_uncompressed_bytes:
            raise _too_large(
                f"it unpacks to {total} bytes; at most {limits.zip_max_uncompressed_bytes}"
                " (documents.zip_max_uncompressed_bytes)"
            )
        for info in self._infos:
            if info.file_size > RATIO_GRACE_BYTES and info.file_size > limits.zip_max_ratio * max(
                info.compress_size, 1
            ):
                raise _too_large(
                    f"member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}x"
                    f" (at most {limits.zip_max_ratio}x, documents.zip_max_ratio): a zip bomb"
                )

    def members(self) -> Iterator[Member]:
        """Each member unpacked to a spool file, which the caller releases when done with it
        (so several can be read at once while the next is unpacked)."""
        for info in self._infos:
            if info.flag_bits & ENCRYPTED_FLAG:
                yield Member(
                    info.filename, None, DocumentRejected(PDF_ENCRYPTED, "is password-protected in the archive")
                )
                continue
            yield self._unpack(info)

    def _unpack(self, info: zipfile.ZipInfo) -> Member:
        if info.file_size > self._limits.max_file_bytes:
            rejection = DocumentRejected(
                ARCHIVE_TOO_LARGE,
                f"is {info.file_size} bytes; at most {self._limits.max_file_bytes} (documents.max_file_bytes)",
            )
            return Member(info.filename, None, rejection)
        fd, name = tempfile.mkstemp(prefix="member-", suffix=".pdf", dir=self._spool)
        path = Path(name)
        try:
            rejection = self._copy(info, fd, min(info.file_size, self._limits.max_file_bytes))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        if rejection is not None:
            path.unlink(missing_ok=True)
            return Member(info.filename, None, rejection)
        return Member(info.filename, path)

    def _copy(self, info: zipfile.ZipInfo, fd: int, limit: int) -> DocumentRejected | None:
        written = 0
        try:
            with self._zip.open(info) as src:
                while piece := src.read(COPY_CHUNK_BYTES):
                    written += len(piece)
                    if written > limit:
                        raise _too_large(f"member {info.filename!r} unpacks to more bytes than its header declares")
                    os.write(fd, piece)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            return DocumentRejected(MALFORMED_ARCHIVE, f"cannot be unpacked: {exc}")
        return None
