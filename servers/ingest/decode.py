"""Streaming transforms of an upload's bytes before it is spooled: decompress, then transcode.

Both work on the chunk iterator the servicer hands the core, so memory stays bounded
by about one chunk (decompressed output comes in pieces of at most
``DecodeLimits.piece_bytes``) whatever the upload's size, and a failure names the
byte (and line) where it happened and the API parameter that would fix it.

- Compression: ``auto`` looks at the magic bytes (gzip ``1f 8b``, zstd ``28 b5 2f fd``).
  gzip uses the standard library's zlib (multi-member files included); zstd uses
  pyarrow's streaming codec, already a dependency (concatenated frames included).
  A decompression bomb is refused by output size and by expansion ratio.
- Encoding: ``utf-8`` is validated, not copied (ASCII chunks cost one ``isascii``);
  ``utf-16`` (byte-order mark, or the NUL pattern when there is none), ``latin-1`` and
  ``cp1252`` are transcoded to UTF-8 with incremental decoders. A UTF-8 BOM is dropped.
"""

from __future__ import annotations

import codecs
import io
import itertools
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.ingest import (
    COMPRESSED_INPUT,
    COMPRESSION_RATIO_TOO_HIGH,
    CORRUPT_COMPRESSED_INPUT,
    DECOMPRESSED_TOO_LARGE,
    INVALID_ENCODING,
    TRUNCATED_COMPRESSED_INPUT,
    UNSUPPORTED_COMPRESSION,
)
from lakehouse.servers.settings import IngestSettings

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Recognized only to refuse them clearly.
OTHER_MAGIC = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
MAGIC_BYTES = 6  # enough for every magic above
COMPRESSIONS: tuple[str, ...] = ("auto", "gzip", "zstd", "none")
# zlib: accept a gzip or a zlib header (32 + 15-bit window).
GZIP_WBITS = 32 + zlib.MAX_WBITS
ZSTD_CODEC = "zstd"

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
BOM_CHAR = "\ufeff"
# codec name (as codecs.lookup spells it) -> the API's name for it
ENCODINGS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16le",
    "utf-16-be": "utf-16be",
    "iso8859-1": "latin-1",
    "cp1252": "cp1252",
}
# Bytes looked at to guess a BOM-less UTF-16 file's byte order.
UTF16_PROBE_BYTES = 256
NEWLINE = b"\n"


@dataclass(frozen=True)
class DecodeLimits:
    """Tunables (``ingest.decode_piece_bytes``, ``max_decompressed_bytes``, ...)."""

    piece_bytes: int
    max_output_bytes: int
    max_ratio: int
    ratio_grace_bytes: int

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> DecodeLimits:
        return cls(
            ingest.decode_piece_bytes,
            ingest.max_decompressed_bytes,
            ingest.max_compression_ratio,
            ingest.decompress_ratio_grace_bytes,
        )


@dataclass(frozen=True)
class Peeked:
    """The first bytes of a stream, and the whole stream again (head included)."""

    head: bytes
    complete: bool  # the stream ended within the head
    chunks: Iterator[bytes]


def peek(chunks: Iterable[bytes], size: int) -> Peeked:
    """Read more than ``size`` bytes (or to the end) without losing them: ``complete``
    is exact because a stream that fits in ``size`` was read to its end."""
    it = iter(chunks)
    taken: list[bytes] = []
    have = 0
    while have <= size:
        chunk = next(it, None)
        if chunk is None:
            head = b"".join(taken)
            return Peeked(head[:size], len(head) <= size, iter(taken))
        if chunk:
            taken.append(chunk)
            have += len(chunk)
    return Peeked(b"".join(taken)[:size], False, itertools.chain(taken, it))


# Compression -----------------------------------------------------------------


def detect_compression(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` from the magic bytes (other known magics are refused)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in OTHER_MAGIC.items():
        if head.startswith(magic):
            raise errors.invalid_field(
                "compression",
                f"the upload is {name}-compressed; only gzip and zstd are read",
                UNSUPPORTED_COMPRESSION,
            )
    return "none"


def decompress(chunks: Iterable[bytes], compression: str, limits: DecodeLimits) -> Iterator[bytes]:
    """The decompressed stream (``compression``: auto, gzip, zstd or none)."""
    return decompressing(chunks, compression, limits)[1]


def decompressing(chunks: Iterable[bytes], compression: str, limits: DecodeLimits) -> tuple[str, Iterator[bytes]]:
    """The compression in effect (gzip, zstd or none) and the decompressed stream."""
    compression = (compression or "auto").lower()
    if compression not in COMPRESSIONS:
        raise errors.invalid_field("compression", f"use one of {list(COMPRESSIONS)}, got {compression!r}")
    peeked = peek(chunks, MAGIC_BYTES)
    found = detect_compression(peeked.head)
    if compression == "auto":
        compression = found
    elif compression == "none" and found != "none":
        raise errors.invalid_field(
            "compression",
            f"the upload is {found}-compressed but compression=none was given; pass compression=auto or {found}",
            COMPRESSED_INPUT,
        )
    if compression == "none":
        return compression, peeked.chunks
    meter = _Meter(compression, limits)
    if compression == "gzip":
        return compression, _gunzip(peeked.chunks, limits.piece_bytes, meter)
    return compression, _unzstd(peeked.chunks, limits.piece_bytes, meter)


class _Meter:
    """Counts bytes in and out and refuses a bomb as soon as it shows."""

    def __init__(self, name: str, limits: DecodeLimits) -> None:
        self.name = name
        self.limits = limits
        self.bytes_in = 0
        self.bytes_out = 0

    def out(self, n: int) -> None:
        self.bytes_out += n
        lim = self.limits
        if self.bytes_out > lim.max_output_bytes:
            raise errors.ResourceExhausted(
                f"the {self.name} upload expands to more than {lim.max_output_bytes} bytes",
                reason=DECOMPRESSED_TOO_LARGE,
                metadata={"limit_bytes": str(lim.max_output_bytes), "compression": self.name},
            )
        if self.bytes_out > lim.ratio_grace_bytes and self.bytes_out > lim.max_ratio * max(self.bytes_in, 1):
            raise errors.InvalidArgument(
                f"the {self.name} upload expands more than {lim.max_ratio} times "
                f"({self.bytes_in} bytes became over {self.bytes_out}): refused as a decompression bomb",
                reason=COMPRESSION_RATIO_TOO_HIGH,
                metadata={"limit_ratio": str(lim.max_ratio), "compression": self.name},
            )

    def corrupt(self, detail: str) -> errors.InvalidArgument:
        return errors.InvalidArgument(
            f"the {self.name} stream is corrupt near compressed byte {self.bytes_in}: {detail}; "
            "if the upload is not compressed, pass compression=none",
            reason=CORRUPT_COMPRESSED_INPUT,
            metadata={"compression": self.name, "byte": str(self.bytes_in), "parameter": "compression"},
        )

    def truncated(self) -> errors.InvalidArgument:
        return errors.InvalidArgument(
            f"the {self.name} stream ends early (after {self.bytes_in} compressed bytes): the upload is truncated",
            reason=TRUNCATED_COMPRESSED_INPUT,
            metadata={"compression": self.name, "byte": str(self.bytes_in)},
        )


def _gunzip(chunks: Iterator[bytes], piece: int, meter: _Meter) -> Iterator[bytes]:
    d = zlib.decompressobj(GZIP_WBITS)
    member_done = False  # the last member ended exactly at a chunk boundary
    for chunk in chunks:
        meter.bytes_in += len(chunk)
        data = chunk
        while data:
            if member_done:
                d, member_done = zlib.decompressobj(GZIP_WBITS), False
            try:
                out = d.decompress(data, piece)
            except zlib.error as exc:
                raise meter.corrupt(str(exc)) from None
            if out:
                meter.out(len(out))
                yield out
            if d.eof:
                data, member_done = d.unused_data, True  # a next gzip member, or nothing
            else:
                data = d.unconsumed_tail
    if not member_done:
        try:
            tail = d.flush()
        except zlib.error as exc:
            raise meter.corrupt(str(exc)) from None
        if tail:
            meter.out(len(tail))
            yield tail
        if not d.eof:
            raise meter.truncated()


class _ChunkFile(io.RawIOBase):
    """The chunk iterator as a readable file, for pyarrow's pull-based codec streams."""

    def __init__(self, chunks: Iterator[bytes], meter: _Meter) -> None:
        self._chunks = chunks
        self._meter = meter
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._meter.bytes_in += len(chunk)
            self._buf = memoryview(chunk)
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _unzstd(chunks: Iterator[bytes], piece: int, meter: _Meter) -> Iterator[bytes]:
    stream = pa.CompressedInputStream(pa.PythonFile(_ChunkFile(chunks, meter), mode="r"), ZSTD_CODEC)
    try:
        while True:
            try:
                out = stream.read(piece)
            except (OSError, pa.ArrowException) as exc:
                message = str(exc)
                if "truncated" in message.lower():
                    raise meter.truncated() from None
                raise meter.corrupt(message.removeprefix("ZSTD decompress failed: ")) from None
            if not out:
                return
            meter.out(len(out))
            yield out
    finally:
        stream.close()


# Encoding --------------------------------------------------------------------


def normalize_encoding(name: str) -> str:
    """The codec for an API encoding name (empty = utf-8), or INVALID_FIELD."""
    try:
        codec = codecs.lookup(name or UTF8).name
    except LookupError:
        codec = ""
    if codec not in ENCODINGS:
        allowed = sorted(set(ENCODINGS.values()))
        raise errors.invalid_field("encoding", f"unknown or unsupported encoding {name!r}; use one of {allowed}")
    return codec


def transcode(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """The stream as UTF-8 without a byte-order mark; invalid bytes raise INVALID_ENCODING."""
    codec = normalize_encoding(encoding)
    peeked = peek(chunks, UTF16_PROBE_BYTES)
    head = peeked.head
    if codec == UTF8:
        for bom, name in UTF16_BOMS.items():
            if head.startswith(bom) and not head.startswith(UTF8_BOM):
                raise errors.InvalidArgument(
                    f"line 1: the upload starts with a {name.upper()} byte-order mark: pass encoding=utf-16",
                    reason=INVALID_ENCODING,
                    metadata={"line": "1", "byte": "0", "parameter": "encoding"},
                )
        chunks_in = _drop(peeked.chunks, len(UTF8_BOM)) if head.startswith(UTF8_BOM) else peeked.chunks
        return _check_utf8(chunks_in, len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0)
    if codec == UTF16:
        # An explicit byte order, so positions decode alike anywhere in the file; the
        # BOM itself decodes to U+FEFF, dropped like a UTF-8 BOM.
        codec = UTF16_BOMS.get(head[:2]) or _utf16_order(head)
    return _decode(peeked.chunks, codec)


def _utf16_order(head: bytes) -> str:
    """Byte order of BOM-less UTF-16 text: mostly-ASCII text has its NULs on one side."""
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    return "utf-16-be" if even > odd else "utf-16-le"


def _encoding_error(encoding: str, line: int, byte: int, column: int) -> errors.InvalidArgument:
    if encoding == UTF8:
        hint = "pass encoding=latin-1, cp1252 or utf-16 if the file uses another encoding"
    elif encoding == "cp1252":
        hint = "pass encoding=latin-1 if the file is ISO-8859-1"
    else:
        hint = "pass the file's encoding with encoding="
    return errors.InvalidArgument(
        f"line {line} (byte {byte}) is not valid {ENCODINGS.get(encoding, encoding)} text: {hint}",
        reason=INVALID_ENCODING,
        metadata={"line": str(line), "column": str(column), "byte": str(byte), "parameter": "encoding"},
    )


def _drop(chunks: Iterator[bytes], n: int) -> Iterator[bytes]:
    """The stream less its first ``n`` bytes (which may span chunks)."""
    for chunk in chunks:
        if n:
            cut = min(n, len(chunk))
            chunk, n = chunk[cut:], n - cut
        if chunk:
            yield chunk


def _check_utf8(chunks: Iterator[bytes], offset: int) -> Iterator[bytes]:
    """Validate without copying; ``offset``: bytes already dropped (a BOM)."""
    decoder = codecs.getincrementaldecoder(UTF8)("strict")
    lines = 0  # newlines before this chunk
    last_line_start = offset  # offset of the byte after the last newline
    for chunk in chunks:
        pending = decoder.getstate()[0]
        if pending or not chunk.isascii():
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = offset - len(pending) + exc.start
                prefix = (pending + chunk)[: exc.start]
                nl = prefix.rfind(NEWLINE)
                start = (at - exc.start + nl + 1) if nl >= 0 else last_line_start
                raise _encoding_error(UTF8, lines + prefix.count(NEWLINE) + 1, at, at - start + 1) from None
        n = chunk.count(NEWLINE)
        if n:
            lines += n
            last_line_start = offset + chunk.rfind(NEWLINE) + 1
        offset += len(chunk)
        if chunk:
            yield chunk
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _encoding_error(UTF8, lines + 1, offset, offset - last_line_start + 1) from None


def _decode(chunks: Iterator[bytes], codec: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = 0  # bytes before this chunk
    lines = 0  # newlines decoded so far
    first = True
    for chunk in itertools.chain(chunks, [None]):
        data = b"" if chunk is None else chunk
        pending = decoder.getstate()[0]
        try:
            text = decoder.decode(data, final=chunk is None)
        except UnicodeDecodeError as exc:
            raise _locate(codec, pending + data, exc, offset - len(pending), lines) from None
        if first and text:
            first = False
            text = text.removeprefix(BOM_CHAR)
        offset += len(data)
        lines += text.count("\n")
        if text:
            yield text.encode(UTF8)


def _locate(codec: str, data: bytes, exc: UnicodeDecodeError, offset: int, lines: int) -> errors.InvalidArgument:
    """Line and column of a decoding failure (decoding the valid prefix again: error path only)."""
    valid = data[: exc.start].decode(codec, errors="ignore")
    nl = valid.rfind("\n")
    return _encoding_error(codec, lines + valid.count("\n") + 1, offset + exc.start, len(valid) - nl)
