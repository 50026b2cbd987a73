"""Spool an upload to a temp file while hashing it and watching its line lengths.

Why spool at all: DuckDB needs a seekable file to sniff and parse in parallel,
and the content hash (idempotency key) is only known at the end. Memory stays
bounded by one chunk whatever the upload size.

The line-length watch lets a pathological record (e.g. one 100 MB field) be
rejected while it is still arriving, instead of making DuckDB buffer it: for
line-oriented formats (CSV, TSV, NDJSON) a line longer than the limit means a
record longer than the limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lakehouse.servers import errors

NEWLINE = b"\n"
# Bytes kept in memory from the start of the upload to sniff its format.
HEAD_BYTES = 64 * 1024
# Report upload progress at most once per this many bytes (plus once at the end).
PROGRESS_EVERY_BYTES = 8 * 1024 * 1024
# First rung of the line-length ladder: DuckDB's default CSV line limit is about 2 MB,
# and its read buffers grow with the limit, so long limits are only used when needed.
LADDER_START_BYTES = 2 * 1024 * 1024
SPOOL_PREFIX = "ingest-"
SPOOL_SUFFIX = ".upload"
HASH_PREFIX = "sha256:"
SPOOL_UNAVAILABLE = "SPOOL_UNAVAILABLE"


@dataclass(frozen=True)
class SpooledUpload:
    path: Path
    size: int
    source_hash: str  # "sha256:<hex>"
    head: bytes  # first HEAD_BYTES bytes
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
    chunks: Iterable[bytes],
    directory: Path,
    *,
    max_line_bytes: int,
    line_limit_applies: Callable[[bytes], bool],
    on_bytes: Callable[[int], None],
    cancelled: Callable[[], bool],
) -> Iterator[SpooledUpload]:
    """Write ``chunks`` to a temp file under ``directory``; the file is removed on exit.

    ``line_limit_applies(head)`` says whether the upload's format is line
    oriented; if it is, a line over ``max_line_bytes`` raises RECORD_TOO_LARGE
    as soon as it is seen.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=SPOOL_PREFIX, suffix=SPOOL_SUFFIX, dir=directory)
    except OSError as exc:
        raise _unavailable(exc) from exc
    path = Path(name)
    try:
        try:
            upload = _fill(fd, path, chunks, max_line_bytes, line_limit_applies, on_bytes, cancelled)
        except OSError as exc:
            raise _unavailable(exc) from exc
        yield upload
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fill(
    fd: int,
    path: Path,
    chunks: Iterable[bytes],
    max_line_bytes: int,
    line_limit_applies: Callable[[bytes], bool],
    on_bytes: Callable[[int], None],
    cancelled: Callable[[], bool],
) -> SpooledUpload:
    digest = hashlib.sha256()
    watch = LineWatch(line_ladder(max_line_bytes))
    head = bytearray()
    size = 0
    reported = 0
    has_content = False
    applies: bool | None = None  # decided once the head is complete
    with os.fdopen(fd, "wb", closefd=False) as out:
        for chunk in chunks:
            if cancelled():
                raise errors.Cancelled("ingest cancelled during upload", reason="CANCELLED")
            if not chunk:
                continue
            out.write(chunk)
            digest.update(chunk)
            watch.feed(chunk)
            size += len(chunk)
            if not has_content:
                has_content = bool(bytes(chunk).strip())
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            if applies is None and len(head) >= HEAD_BYTES:
                applies = line_limit_applies(bytes(head))
            if applies and watch.exceeded[-1]:
                raise _too_large(max_line_bytes)
            if size - reported >= PROGRESS_EVERY_BYTES:
                reported = size
                on_bytes(size)
    if applies is None:
        applies = line_limit_applies(bytes(head))
    if applies and watch.exceeded[-1]:
        raise _too_large(max_line_bytes)
    on_bytes(size)
    return SpooledUpload(
        path=path,
        size=size,
        source_hash=HASH_PREFIX + digest.hexdigest(),
        head=bytes(head),
        has_content=has_content,
        line_bound=watch.bound,
    )


def _unavailable(exc: OSError) -> errors.Unavailable:
    """The spool cannot take the upload; the message names the cause, not the server path."""
    cause = exc.strerror or type(exc).__name__
    return errors.Unavailable(f"cannot spool the upload: {cause}", reason=SPOOL_UNAVAILABLE)


def _too_large(limit: int) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        f"a record is longer than the {limit}-byte limit (ingest.max_line_bytes)",
        reason="RECORD_TOO_LARGE",
        metadata={"limit_bytes": str(limit)},
    )
