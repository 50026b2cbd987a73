"""Committed data files against their manifests: checked at commit, and on demand (fsck).

A manifest entry names a key on the lake with its size and ``sha256:<hex>``
content hash, the same digest ``ingest.writer.HashingSink`` computes while it
writes (``content_hash`` here reproduces it from the stored bytes). The rules:

- a dataset's versions may name only valid keys under its own prefix
  ``datasets/<name>/`` (so no path tricks and no other dataset's files), each
  at most once;
- at commit, every file the version adds (entries not already in the version it
  builds on, which were checked when that one was committed) exists with the
  manifest's size and, unless ``catalog.verify_content_hash`` is off, its hash;
- ``verify_datasets`` re-hashes committed files and reports, never repairs.

Sizes come from the data-plane filesystem (a stat or a HEAD: cheap on both
backends); hashes stream the object through ``ObjectStore.get``, which refuses
symlinks on a local lake.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from lakehouse.api import errors
from lakehouse.api.catalog import (
    DUPLICATE_FILE,
    FILE_HASH_MISMATCH,
    FILE_MISSING,
    FILE_SIZE_MISMATCH,
    FOREIGN_FILE,
    HASH_PREFIX,
    INVALID_CONTENT_HASH,
    INVALID_FILE_PATH,
    DataFile,
    Dataset,
    DatasetVersion,
    FileProblem,
    NewVersion,
    ProblemKind,
    VerifyReport,
)
from lakehouse.api.paging import drain_pages
from lakehouse.api.storage import STORAGE_UNAVAILABLE
from lakehouse.servers.ingest.layout import dataset_prefix
from lakehouse.servers.storage.keys import is_valid_key
from lakehouse.servers.storage.model import ObjectStore

if TYPE_CHECKING:
    from lakehouse.servers.catalog.core import CatalogCore

CONTENT_HASH_RE = re.compile(rf"^{re.escape(HASH_PREFIX)}[0-9a-f]{{64}}$")


_COMMIT_REASONS = {
    ProblemKind.MISSING: FILE_MISSING,
    ProblemKind.SIZE_MISMATCH: FILE_SIZE_MISMATCH,
    ProblemKind.HASH_MISMATCH: FILE_HASH_MISMATCH,
}


@dataclass(frozen=True)
class _Actual:
    """What the lake holds under one key."""

    size: int | None = None  # None: missing
    content_hash: str = ""  # "" when not hashed
    error: str = ""  # set when the object could not be read


def owns(dataset: str, path: str) -> bool:
    """Whether ``path`` is a file ``dataset`` may name, and so may delete."""
    return path.startswith(dataset_prefix(dataset)) and is_valid_key(path)


def content_hash(chunks: Iterable[bytes]) -> tuple[int, str]:
    """(size, "sha256:<hex>") of a byte stream, as the writer computes it."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, HASH_PREFIX + digest.hexdigest()


# At commit -------------------------------------------------------------------


def check_entries(new: NewVersion) -> None:
    """Pure checks of a new manifest: own-prefix valid keys, well-formed hashes, no repeats."""
    seen: set[str] = set()
    for f in (*new.files, *new.deltas):
        meta = {"dataset": new.dataset, "path": f.path}
        if not is_valid_key(f.path):
            raise errors.InvalidArgument(
                f"file {f.path!r} is not a valid lake key", reason=INVALID_FILE_PATH, metadata=meta
            )
        if not f.path.startswith(dataset_prefix(new.dataset)):
            raise errors.InvalidArgument(
                f"file {f.path!r} is not under {dataset_prefix(new.dataset)}; a version may name only"
                " its own dataset's files",
                reason=FOREIGN_FILE,
                metadata=meta,
            )
        if not CONTENT_HASH_RE.match(f.content_hash):
            raise errors.InvalidArgument(
                f"file {f.path!r}: content_hash must be {HASH_PREFIX}<64 lowercase hex digits>",
                reason=INVALID_CONTENT_HASH,
                metadata=meta,
            )
        if f.path in seen:
            raise errors.InvalidArgument(
                f"file {f.path!r} is listed more than once", reason=DUPLICATE_FILE, metadata=meta
            )
        seen.add(f.path)


def verify_new_files(store: ObjectStore, new: NewVersion, known: frozenset[DataFile], hash_content: bool) -> None:
    """FailedPrecondition unless every entry outside ``known`` matches the lake."""
    fs, base = store.filesystem()
    for f in (*new.files, *new.deltas):
        if f in known:
            continue
        actual = _measure(store, fs, base, f, hash_content)
        if actual.error:
            raise errors.Unavailable(
                f"cannot verify file {f.path!r}: {actual.error}",
                reason=STORAGE_UNAVAILABLE,
                metadata={"dataset": new.dataset, "path": f.path},
            )
        problem = _compare(f, actual, hash_content)
        if problem is not None:
            kind, expected, got = problem
            raise errors.FailedPrecondition(
                f"file {f.path!r} does not match the manifest ({kind.value}: expected {expected}, found"
                f" {got or 'nothing'})",
                reason=_COMMIT_REASONS[kind],
                metadata={"dataset": new.dataset, "path": f.path, "expected": expected, "actual": got},
            )


def _measure(store: ObjectStore, fs: pafs.FileSystem, base: str, f: DataFile, hash_content: bool) -> _Actual:
    """Size from a stat; the hash (when asked and the size matches) from a streamed read."""
    try:
        info = fs.get_file_info(f"{base.rstrip('/')}/{f.path}")
    except OSError as exc:
        return _Actual(error=f"storage error: {type(exc).__name__}")
    if info.type != pafs.FileType.File:
        return _Actual()
    if not hash_content or info.size != f.bytes:
        return _Actual(size=info.size)
    try:
        size, digest = content_hash(store.get(f.path))
    except errors.NotFound:
        return _Actual()  # removed since the stat
    except errors.LakehouseError as exc:
        return _Actual(size=info.size, error=exc.reason)
    return _Actual(size=size, content_hash=digest)


def _compare(f: DataFile, actual: _Actual, hashed: bool) -> tuple[ProblemKind, str, str] | None:
    if actual.size is None:
        return ProblemKind.MISSING, f.content_hash, ""
    if actual.size != f.bytes:
        return ProblemKind.SIZE_MISMATCH, str(f.bytes), str(actual.size)
    if hashed and actual.content_hash != f.content_hash:
        return ProblemKind.HASH_MISMATCH, f.content_hash, actual.content_hash
    return None


# On demand ---------------------------------------------------------------------


def verify_datasets(
    catalog: CatalogCore, store: ObjectStore, dataset: str = "", all_versions: bool = False
) -> VerifyReport:
    """Re-hash the files of one dataset (or all), current version or every kept one.

    Each key is read once however many versions name it; a problem is reported
    once per dataset and manifest entry, with the newest version naming it.
    """
    fs, base = store.filesystem()
    actuals: dict[str, _Actual] = {}
    problems: list[FileProblem] = []
    bytes_checked = 0
    datasets = 0
    for ds in _datasets(catalog, dataset):
        entries: dict[DataFile, int] = {}
        try:
            for version in _versions(catalog, ds, all_versions):
                for f in (*version.files, *version.deltas):
                    entries.setdefault(f, version.version)  # newest first, so the first one wins
        except errors.NotFound:
            if dataset:
                raise
            continue  # deleted while the lake was being walked
        datasets += 1
        for f, version in entries.items():
            if not is_valid_key(f.path):
                problems.append(
                    FileProblem(ds.name, version, f.path, ProblemKind.UNREADABLE, f.content_hash, "not a valid key")
                )
                continue
            actual = actuals.get(f.path)
            if actual is None:
                actual = actuals[f.path] = _measure(store, fs, base, f, hash_content=True)
                if actual.content_hash:
                    bytes_checked += actual.size or 0
            if actual.error:
                problem = (ProblemKind.UNREADABLE, f.content_hash, actual.error)
            else:
                problem = _compare(f, actual, hashed=bool(actual.content_hash))
            if problem is not None:
                problems.append(FileProblem(ds.name, version, f.path, *problem))
    return VerifyReport(datasets, len(actuals), bytes_checked, tuple(problems))


def _datasets(catalog: CatalogCore, name: str) -> Iterable[Dataset]:
    if name:
        yield catalog.get_dataset(name)
        return
    yield from drain_pages(lambda token: catalog.list_datasets(page_token=token))


def _versions(catalog: CatalogCore, ds: Dataset, all_versions: bool) -> Iterable[DatasetVersion]:
    if not all_versions:
        yield ds.current
        return
    yield from drain_pages(lambda token: catalog.list_versions(ds.name, page_token=token))
