"""Remove a CSV upload's preamble and comment lines while it streams, counting them.

Why here and not in DuckDB: DuckDB's ``comment`` option also cuts *data* lines at
the comment character (``1,Apt #5`` becomes ``1,Apt``), and its ``skip`` interacts
with its header guesses. Removing whole lines before spooling keeps every data byte
and lets the API report exactly how many lines were not data (``skipped_lines``).

Removed lines shift line numbers, so the filter remembers where it removed them and
maps a line of the spooled file back to the upload's (``original_line``). Parsers
count records, not physical lines, when a quoted field spans lines: ``physical_line``
converts on the error path by re-reading the spooled file.

Cost: without a comment character only the first ``skip`` lines are looked at; with
one, the work per chunk is a few C-level ``find``/``count`` calls plus one Python
step per comment line.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from lakehouse.servers.ingest.dialect import CsvDialect
from lakehouse.servers.settings import IngestSettings

NEWLINE = b"\n"


class LineFilter:
    """Drops the first ``skip`` lines, then every line starting with ``comment`` that
    does not fall inside a quoted field (quote parity is tracked by counting quote
    characters, doubled quotes keep it, a distinct escape before a quote is discounted)."""

    def __init__(self, *, skip: int, comment: str, quote: str, escape: str, max_runs: int) -> None:
        self._to_skip = skip
        self._comment = comment.encode()
        self._quote = quote.encode()
        self._escaped_quote = (escape + quote).encode() if escape and escape != quote else b""
        self._max_runs = max_runs
        self._line = 1  # upload line number at the current position
        self._at_start = True  # the current position starts a line
        self._in_quote = False
        self._in_comment = False  # inside a removed comment line that continues in the next chunk
        self._mid_skip = False  # inside a skipped line that continues in the next chunk
        self.removed = 0  # lines removed so far
        # Runs: spooled-file line k maps to upload line k + _added[j], j = last run with _kept_at[j] <= k.
        self._kept_at: list[int] = [1]
        self._added: list[int] = [0]
        self._exact_until: int | None = None  # past this spooled line the map is unknown (too many runs)

    @classmethod
    def for_dialect(cls, dialect: CsvDialect, ingest: IngestSettings) -> LineFilter:
        return cls(
            skip=dialect.skip,
            comment=dialect.comment,
            quote=dialect.quote,
            escape=dialect.escape,
            max_runs=ingest.line_map_max_runs,
        )

    @property
    def active(self) -> bool:
        """Whether the filter can remove anything (else the stream need not pass through it)."""
        return bool(self._to_skip or self._comment)

    # Streaming -------------------------------------------------------------

    def filter(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            kept = self.feed(chunk)
            if kept:
                yield kept

    def feed(self, chunk: bytes) -> bytes:
        pos = self._skip_lines(chunk)
        if pos >= len(chunk):
            return b""
        if not self._comment:
            self._at_start = chunk.endswith(NEWLINE)
            return chunk[pos:] if pos else chunk
        return self._drop_comments(chunk, pos)

    def _skip_lines(self, chunk: bytes) -> int:
        pos = 0
        while self._to_skip and pos < len(chunk):
            if not self._mid_skip:
                self._removed(self._line)  # counted when it starts: a last line may have no newline
                self._mid_skip = True
            end = chunk.find(NEWLINE, pos)
            if end < 0:
                return len(chunk)
            pos = end + 1
            self._to_skip -= 1
            self._mid_skip = False
            self._line += 1
            self._at_start = True
        return pos

    def _drop_comments(self, chunk: bytes, pos: int) -> bytes:
        out: list[bytes] = []
        if self._in_comment:
            end = chunk.find(NEWLINE, pos)
            if end < 0:
                return b""
            self._in_comment = False
            self._line += 1
            pos = end + 1
            self._at_start = True
        keep_from = parity_from = lines_from = pos
        scan = pos
        while scan < len(chunk):
            if self._at_start and scan == keep_from and chunk.startswith(self._comment, scan):
                start = scan
            else:
                hit = chunk.find(NEWLINE + self._comment, scan)
                if hit < 0:
                    break
                start = hit + 1
            self._in_quote ^= self._quotes(chunk, parity_from, start) % 2 == 1
            parity_from = start
            if self._in_quote:
                scan, self._at_start = start, False
                continue
            self._line += chunk.count(NEWLINE, lines_from, start)
            out.append(chunk[keep_from:start])
            self._removed(self._line)
            end = chunk.find(NEWLINE, start)
            if end < 0:
                self._in_comment = True
                return b"".join(out)
            self._line += 1
            keep_from = parity_from = lines_from = scan = end + 1
            self._at_start = True
        self._in_quote ^= self._quotes(chunk, parity_from, len(chunk)) % 2 == 1
        self._line += chunk.count(NEWLINE, lines_from)
        out.append(chunk[keep_from:])
        self._at_start = chunk.endswith(NEWLINE) and not self._in_quote
        return b"".join(out)

    def _quotes(self, chunk: bytes, start: int, end: int) -> int:
        if not self._quote or start >= end:
            return 0
        n = chunk.count(self._quote, start, end)
        return n - chunk.count(self._escaped_quote, start, end) if self._escaped_quote else n

    def _removed(self, line: int) -> None:
        """Note that upload line ``line`` was removed."""
        kept_next = line - self.removed  # the spooled line that now follows it
        self.removed += 1
        if self._kept_at[-1] == kept_next:
            self._added[-1] = self.removed
        elif self._exact_until is None:
            if len(self._kept_at) >= self._max_runs:
                self._exact_until = kept_next - 1
                return
            self._kept_at.append(kept_next)
            self._added.append(self.removed)

    # Line numbers ----------------------------------------------------------

    def original_line(self, spooled_line: int) -> int | None:
        """The upload's line number of a line of the spooled file (None: beyond what is remembered)."""
        if self._exact_until is not None and spooled_line > self._exact_until:
            return None
        j = bisect.bisect_right(self._kept_at, spooled_line) - 1
        return spooled_line + self._added[j]


def _csv_options(dialect: CsvDialect) -> dict[str, object]:
    options: dict[str, object] = {"delimiter": dialect.delimiter}
    if not dialect.quote:
        options.update(quoting=csv.QUOTE_NONE)
    elif dialect.escape and dialect.escape != dialect.quote:
        options.update(quotechar=dialect.quote, escapechar=dialect.escape, doublequote=False)
    else:
        options.update(quotechar=dialect.quote, doublequote=True)
    return options


def first_inconsistent_line(path: Path, dialect: CsvDialect, max_bytes: int) -> tuple[int, int] | None:
    """(physical line, field count) of the first record of the spooled file whose field
    count is not the dialect's; None when there is none within ``max_bytes``. For the
    error DuckDB raises without a line (a bad row inside its own type sample)."""
    width = len(dialect.names)
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(_bounded(handle, max_bytes), **_csv_options(dialect))  # type: ignore[arg-type]
        consumed = 0
        try:
            for record in reader:
                if record and len(record) != width:
                    return consumed + 1, len(record)
                consumed = reader.line_num
        except csv.Error:
            return consumed + 1, 0
    return None


def physical_line(path: Path, dialect: CsvDialect, record: int, max_bytes: int) -> int | None:
    """The physical line where record ``record`` (1-based, the header included, blank
    lines counted: how DuckDB numbers "lines") starts in the spooled file. Reads at
    most ``max_bytes``; None when the record lies further (or does not exist)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(_bounded(handle, max_bytes), **_csv_options(dialect))  # type: ignore[arg-type]
        consumed = index = 0
        try:
            for index, _ in enumerate(reader, start=1):  # noqa: B007 - index is read after the loop
                if index == record:
                    return consumed + 1
                consumed = reader.line_num
        except csv.Error:
            pass  # the record the parser could not end: it starts after the last good one
    return consumed + 1 if record == index + 1 else None


def _bounded(handle: Iterable[str], max_bytes: int) -> Iterator[str]:
    """The file's lines up to about ``max_bytes`` (counted in characters); the csv
    module's field limit is raised to match, as a record may be that long."""
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes))
    seen = 0
    for line in handle:
        seen += len(line)
        if seen > max_bytes:
            return
        yield line
