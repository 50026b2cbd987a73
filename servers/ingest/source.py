"""From the bytes a caller uploads to a spooled file the parser can read, and how to read it.

The chain, all streaming (memory stays about one chunk whatever the upload size):

    upload -> UploadTap (hash, count, progress, cancel) -> decompress -> format
    -> [text: transcode to UTF-8 -> sniff the CSV dialect / scan JSON keys
        -> remove preamble and comment lines] -> spool

The source hash is taken over the bytes as uploaded. Only the options the caller
gave join it in the ingest's identity (``source_key``): what detection finds, the
same bytes always repeat.

Dialect and key problems are found on the first ``ingest.sniff_bytes`` of text,
before the rest of the upload is spooled: a file that cannot be read is refused
while it is still arriving.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from lakehouse.api import errors
from lakehouse.api.catalog import HASH_PREFIX
from lakehouse.api.errors import EMPTY_INPUT
from lakehouse.api.ingest import CANCELLED
from lakehouse.servers.ingest import decode, dialect, json_keys
from lakehouse.servers.ingest.formats import SourceFormat, check_content, resolve_format
from lakehouse.servers.ingest.lines import LineFilter
from lakehouse.servers.ingest.model import PHASE_UPLOAD, IngestProgress, IngestSpec, ReadOptions
from lakehouse.servers.ingest.spool import SpooledUpload, spool
from lakehouse.servers.settings import Settings

READ_KEY_SEPARATOR = "+read:"
READ_KEY_HEX = 16
# Bytes of the (decompressed) upload looked at to decide its format.
FORMAT_PROBE_BYTES = 64 * 1024
# Factor by which a sample of too few lines grows.
SAMPLE_GROWTH = 4
# Report upload progress at most once per this many bytes (plus once at the end).
PROGRESS_EVERY_BYTES = 8 * 1024 * 1024
# Which formats each read option means something for (anything else is refused, never ignored).
_CSV_ONLY = ("delimiter", "quote", "escape", "skip", "comment", "null")
_TABLE_ONLY = ("header", "columns")  # CSV and XLSX
_XLSX_ONLY = ("sheet", "sheet_dataset_pattern")
_TEXT_ONLY = ("encoding",)


class UploadTap:
    """The upload's chunks, passed through while they are hashed, counted and reported;
    a cancelled call stops the stream."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        on_progress: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> None:
        self._chunks = chunks
        self._report = on_progress
        self._cancelled = cancelled
        self._digest = hashlib.sha256()
        self.size = 0

    @property
    def source_hash(self) -> str:
        return HASH_PREFIX + self._digest.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        reported = 0
        for chunk in self._chunks:
            if self._cancelled():
                raise errors.Cancelled("ingest cancelled during upload", reason=CANCELLED)
            if not chunk:
                continue
            self._digest.update(chunk)
            self.size += len(chunk)
            if self.size - reported >= PROGRESS_EVERY_BYTES:
                reported = self.size
                self._report(IngestProgress(PHASE_UPLOAD, self.size, 0))
            yield chunk
        self._report(IngestProgress(PHASE_UPLOAD, self.size, 0))


@dataclass(frozen=True)
class Prepared:
    """A spooled upload and everything decided about reading it."""

    upload: SpooledUpload
    fmt: SourceFormat
    source_hash: str  # sha256 of the bytes as uploaded
    source_key: str  # source_hash, plus the options given: the ingest's identity
    bytes_in: int  # bytes as uploaded
    compression: str  # gzip, zstd or none
    encoding: str  # the API's name of the source encoding ("" for binary formats)
    csv: dialect.CsvDialect | None = None
    line_filter: LineFilter | None = None
    json_keys: json_keys.KeyReport | None = None

    @property
    def skipped_lines(self) -> int:
        return self.line_filter.removed if self.line_filter is not None else 0

    def original_line(self, spooled_line: int) -> int | None:
        """The upload's line number of a line of the spooled file."""
        if self.line_filter is None:
            return spooled_line
        return self.line_filter.original_line(spooled_line)

    def read_options(self) -> ReadOptions:
        base = ReadOptions(format=self.fmt.kind, compression=self.compression, encoding=self.encoding)
        if self.csv is not None:
            d = self.csv
            return replace(
                base,
                delimiter=d.delimiter if d.delimiter != dialect.UNIT_SEPARATOR else "",
                quote=d.quote,
                escape=d.escape,
                header=d.header,
                skip=d.skip,
                comment=d.comment,
                null=d.null,
            )
        if self.fmt.kind == "json":
            return replace(base, json_format=self.fmt.json_format)
        return base


def source_key(source_hash: str, spec: IngestSpec) -> str:
    """The ingest's identity: the bytes, and the read options the caller gave. Without
    options it is the plain hash, as before read options existed (so versions ingested
    then are still recognised); ``format`` stays out of it for the same reason."""
    given = spec.read.given()
    if not given:
        return source_hash
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"))
    return source_hash + READ_KEY_SEPARATOR + hashlib.sha256(canonical.encode()).hexdigest()[:READ_KEY_HEX]


def _check_options_apply(fmt: SourceFormat, spec: IngestSpec) -> None:
    given = spec.read.given()
    kind = "TSV" if fmt.tsv else fmt.kind.upper()
    allowed: tuple[str, ...] = ("compression",)
    if fmt.kind == "csv":
        allowed += _CSV_ONLY + _TABLE_ONLY + _TEXT_ONLY
    elif fmt.kind == "xlsx":
        allowed += _TABLE_ONLY + _XLSX_ONLY
    elif fmt.kind == "json":
        allowed += _TEXT_ONLY
    for name in given:
        if name not in allowed:
            raise errors.invalid_field(name, f"does not apply to {kind} uploads (the upload was read as {kind})")


@contextlib.contextmanager
def prepare(
    spec: IngestSpec,
    chunks: Iterable[bytes],
    settings: Settings,
    on_progress: Callable[[IngestProgress], None],
    cancelled: Callable[[], bool],
    known_names: Sequence[str] = (),
) -> Iterator[Prepared]:
    """Spool the upload, deciding how to read it on the way (see the module docstring).
    ``known_names``: columns of the dataset the upload goes into (header evidence)."""
    ingest = settings.ingest
    read = spec.read
    encoding = decode.normalize_encoding(read.encoding)  # refuse a bad name before reading
    tap = UploadTap(chunks, on_progress, cancelled)
    compression, stream = decode.decompressing(tap, read.compression, decode.DecodeLimits.from_settings(ingest))
    probe = decode.peek(stream, FORMAT_PROBE_BYTES)
    fmt = resolve_format(spec.format, probe.head)
    _check_options_apply(fmt, spec)
    csv_dialect: dialect.CsvDialect | None = None
    line_filter: LineFilter | None = None
    keys: json_keys.KeyReport | None = None
    body: Iterator[bytes] = probe.chunks
    if fmt.text:
        sample = _sample(decode.transcode(probe.chunks, encoding), settings)
        if sample.complete and not sample.head.strip():
            raise errors.InvalidArgument("the upload is empty", reason=EMPTY_INPUT)
        check_content(fmt, sample.head, sample.complete)
        text = dialect.sample_text(sample.head, sample.complete)
        body = sample.chunks
        if fmt.kind == "csv":
            options = dialect.parse_options(
                delimiter=read.delimiter,
                quote=read.quote,
                escape=read.escape,
                header=read.header,
                skip=read.skip,
                comment=read.comment,
                null=read.null,
                tsv=fmt.tsv,
            )
            limits = dialect.SniffLimits.from_settings(ingest)
            found = dialect.sniff(text, options, limits, complete=sample.complete, known_names=known_names)
            csv_dialect = dialect.with_columns(found, read.columns)
            line_filter = LineFilter.for_dialect(csv_dialect, ingest)
            if line_filter.active:
                body = line_filter.filter(body)
        else:
            keys = json_keys.scan(text)
    with spool(body, settings.spool_dir, max_line_bytes=ingest.max_line_bytes, line_oriented=fmt.line_oriented) as up:
        yield Prepared(
            upload=up,
            fmt=fmt,
            source_hash=tap.source_hash,
            source_key=source_key(tap.source_hash, spec),
            bytes_in=tap.size,
            compression=compression,
            encoding=decode.ENCODINGS[encoding] if fmt.text else "",
            csv=csv_dialect,
            line_filter=line_filter,
            json_keys=keys,
        )


def _sample(stream: Iterator[bytes], settings: Settings) -> decode.Peeked:
    """The first ``ingest.sniff_bytes`` of text, extended (up to ``max_line_bytes``) until it
    holds ``sniff_min_lines`` whole lines or the whole upload."""
    ingest = settings.ingest
    size = ingest.sniff_bytes
    peeked = decode.peek(stream, size)
    while not peeked.complete and peeked.head.count(b"\n") < ingest.sniff_min_lines and size < ingest.max_line_bytes:
        size = min(size * SAMPLE_GROWTH, ingest.max_line_bytes)
        peeked = decode.peek(peeked.chunks, size)
    return peeked
