"""Spool an upload's (decoded) bytes to a temp file while watching its line lengths.

Why spool at all: DuckDB needs a seekable file to parse in parallel, and the
content hash (idempotency key, taken over the bytes as uploaded by
``source.UploadTap``) is only known at the end. Memory stays bounded by one chunk
whatever the upload size.

The line-length watch lets a pathological record (e.g. one 100 MB field) be
rejected while it is still arriving, instead of making DuckDB buffer it: for
line-oriented formats (CSV, TSV, NDJSON) a line longer than the limit means a
record longer than the limit.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lakehouse.api import errors
from lakehouse.api.ingest import RECORD_TOO_LARGE, SPOOL_UNAVAILABLE

NEWLINE = b"\n"
# First rung of the line-length ladder: DuckDB's default CSV line limit is about 2 MB,
# and its read buffers grow with the limit, so long limits are only used when needed.
LADDER_START_BYTES = 2 * 1024 * 1024
SPOOL_PREFIX = "ingest-"
SPOOL_SUFFIX = ".upload"


@dataclass(frozen=True)
class SpooledUpload:
    path: Path
    size: int  # bytes spooled (decompressed, transcoded, less removed lines)
    has_content: bool  # some byte other than ASCII whitespace
    line_bound: int | None  # no line is longer than this (None: some line exceeds the limit)


class LineWatch:
    """Finds, for a ladder of thresholds, whether any line exceeds each one, in
    O(len/threshold) C-level searches per chunk rather than one Python step per
    line. ``bound`` is the smallest threshold no line exceeds (None: even the
    largest, the limit, is exceeded)."""

    def __init__(self, thresholds: list[int]) -> None:
        self.thresholds = sorted(thresholds)
        self.run = 0  # bytes since the last newline
        self.exceeded = [False] * len(self.thresholds)

    @property
    def bound(self) -> int | None:
        for threshold, over in zip(self.thresholds, self.exceeded, strict=True):
            if not over:
                return threshold
        return None

    def feed(self, chunk: bytes) -> None:
        size = len(chunk)
        first = chunk.find(NEWLINE)
        if first < 0:
            self.run += size
            self.exceeded = [over or self.run > t for t, over in zip(self.thresholds, self.exceeded, strict=True)]
            return
        for i, limit in enumerate(self.thresholds):
            if not self.exceeded[i]:
                self.exceeded[i] = self._exceeds(chunk, first, limit)
        self.run = size - chunk.rfind(NEWLINE) - 1

    def _exceeds(self, chunk: bytes, first: int, limit: int) -> bool:
        if self.run + first > limit:
            return True
        size, pos = len(chunk), first + 1
        # From a line start, some newline must occur within limit+1 bytes.
        while size - pos > limit:
            last = chunk.rfind(NEWLINE, pos, pos + limit + 1)
            if last < 0:
                return True
            pos = last + 1
        return False


def line_ladder(limit: int) -> list[int]:
    """Thresholds from DuckDB's default line buffer up to ``limit``, doubling."""
    ladder, step = [], LADDER_START_BYTES
    while step < limit:
        ladder.append(step)
        step *= 2
    return [*ladder, limit]


@contextlib.contextmanager
def spool(
    chunks: Iterable[bytes], directory: Path, *, max_line_bytes: int, line_oriented: bool
) -> Iterator[SpooledUpload]:
    """Write ``chunks`` to a temp file under ``directory``; the file is removed on exit.

    When the format is ``line_oriented`` a line over ``max_line_bytes`` raises
    RECORD_TOO_LARGE as soon as it is seen.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=SPOOL_PREFIX, suffix=SPOOL_SUFFIX, dir=directory)
    except OSError as exc:
        raise _unavailable(exc) from exc
    path = Path(name)
    try:
        try:
            upload = _fill(fd, path, chunks, max_line_bytes, line_oriented)
        except OSError as exc:
            raise _unavailable(exc) from exc
        yield upload
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fill(fd: int, path: Path, chunks: Iterable[bytes], max_line_bytes: int, line_oriented: bool) -> SpooledUpload:
    watch = LineWatch(line_ladder(max_line_bytes))
    size = 0
    has_content = False
    with os.fdopen(fd, "wb", closefd=False) as out:
        for chunk in chunks:
            out.write(chunk)
            watch.feed(chunk)
            size += len(chunk)
            if not has_content:
                has_content = bool(bytes(chunk).strip())
            if line_oriented and watch.exceeded[-1]:
                raise _too_large(max_line_bytes)
    return SpooledUpload(path=path, size=size, has_content=has_content, line_bound=watch.bound)


def _unavailable(exc: OSError) -> errors.Unavailable:
    """The spool cannot take the upload; the message names the cause, not the server path."""
    cause = exc.strerror or type(exc).__name__
    return errors.Unavailable(f"cannot spool the upload: {cause}", reason=SPOOL_UNAVAILABLE)


def _too_large(limit: int) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        f"a record is longer than the {limit}-byte limit (ingest.max_line_bytes)",
        reason=RECORD_TOO_LARGE,
        metadata={"limit_bytes": str(limit)},
    )
