"""Streaming decompression and transcoding: the corpus cases and chunk-boundary behaviour."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.servers.ingest import decode
from lakehouse.servers.settings import IngestSettings
from tests.data.ingest_fidelity import make
from tests.support import ingest_corpus as corpus

LIMITS = decode.DecodeLimits.from_settings(IngestSettings())
ENCODED = [c for c in corpus.manifest()["text"] if not corpus.is_plain_text(corpus.raw(c["file"]))]
TEXT = ("id,name\n" + "".join(f"{i},café {i} – ok\n" for i in range(3000))).encode()


@pytest.mark.parametrize("case", ENCODED, ids=[corpus.case_id(c) for c in ENCODED])
def test_corpus_case(case: dict[str, Any], tmp_path: Path) -> None:
    corpus.check_text_case(case, tmp_path)


def test_corpus_is_what_make_py_writes() -> None:
    """Committed files match the generator (compressed ones by content: codec versions differ)."""
    for name, build in make.FILES.items():
        committed, fresh = corpus.raw(name), build()
        if name.endswith((".gz", ".zst")) and not name.startswith(("truncated", "corrupt")):
            unpack = b"".join
            assert unpack(decode.decompress([committed], "auto", LIMITS)) == unpack(
                decode.decompress([fresh], "auto", LIMITS)
            ), name
        elif not name.endswith((".gz", ".zst")):
            assert committed == fresh, f"{name} is stale: run python tests/data/ingest_fidelity/make.py"


def split_at(data: bytes, *cuts: int) -> list[bytes]:
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def unpack(blob: bytes, chunks: list[bytes] | None = None, compression: str = "auto", limits=LIMITS) -> bytes:
    return b"".join(decode.decompress(chunks if chunks is not None else [blob], compression, limits))


# Compression --------------------------------------------------------------------


def test_gzip_members_split_at_every_byte() -> None:
    first, second = TEXT[:1000], TEXT[1000:2000]
    blob = gzip.compress(first, mtime=0) + gzip.compress(second, mtime=0)
    member_end = len(gzip.compress(first, mtime=0))
    for cut in range(len(blob) + 1):
        assert unpack(blob, split_at(blob, cut)) == first + second, cut
    assert unpack(blob, split_at(blob, member_end)) == first + second  # a member boundary on a chunk edge


def test_zstd_frames_in_small_chunks() -> None:
    frames = [pa.compress(TEXT[i : i + 20_000], codec="zstd", asbytes=True) for i in range(0, len(TEXT), 20_000)]
    blob = b"".join(frames)
    for size in (1, 5, 4096):
        assert unpack(blob, list(corpus.chunks(blob, size))) == TEXT


def test_output_comes_in_bounded_pieces() -> None:
    limits = decode.DecodeLimits(piece_bytes=4096, max_output_bytes=1 << 30, max_ratio=10_000, ratio_grace_bytes=0)
    data = b"0123456789" * 100_000
    for blob in (gzip.compress(data, mtime=0), pa.compress(data, codec="zstd", asbytes=True)):
        pieces = list(decode.decompress([blob], "auto", limits))
        assert b"".join(pieces) == data
        assert max(len(p) for p in pieces) <= 4096


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_bombs_are_refused_by_ratio_and_by_size(codec: str) -> None:
    zeros = b"\0" * (32 << 20)
    blob = gzip.compress(zeros, mtime=0) if codec == "gzip" else pa.compress(zeros, codec="zstd", asbytes=True)
    ratio = decode.DecodeLimits(piece_bytes=1 << 20, max_output_bytes=1 << 40, max_ratio=100, ratio_grace_bytes=1 << 20)
    with pytest.raises(errors.InvalidArgument) as info:
        unpack(blob, limits=ratio)
    assert info.value.reason == "COMPRESSION_RATIO_TOO_HIGH"
    size = decode.DecodeLimits(piece_bytes=1 << 20, max_output_bytes=4 << 20, max_ratio=1 << 30, ratio_grace_bytes=0)
    with pytest.raises(errors.ResourceExhausted) as info:
        unpack(blob, limits=size)
    assert info.value.reason == "DECOMPRESSED_TOO_LARGE"


def test_errors_from_the_upload_stream_pass_through_the_codecs() -> None:
    blob = pa.compress(TEXT, codec="zstd", asbytes=True)

    def stream():
        yield blob[:50]
        raise errors.Cancelled("client went away", reason="CANCELLED")

    with pytest.raises(errors.Cancelled):
        b"".join(decode.decompress(stream(), "zstd", LIMITS))


@pytest.mark.parametrize(
    ("blob", "compression", "reason"),
    [
        (bz2.compress(TEXT), "auto", "UNSUPPORTED_COMPRESSION"),
        (TEXT, "lz4", "INVALID_FIELD"),
        (TEXT, "gzip", "CORRUPT_COMPRESSED_INPUT"),
        (gzip.compress(TEXT, mtime=0) + b"trailing junk", "auto", "CORRUPT_COMPRESSED_INPUT"),
    ],
)
def test_compression_refusals(blob: bytes, compression: str, reason: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        unpack(blob, compression=compression)
    assert info.value.reason == reason
    assert "compression" in info.value.message


def test_plain_upload_passes_through_untouched() -> None:
    chunks = [TEXT[:10], TEXT[10:]]
    out = list(decode.decompress(chunks, "auto", LIMITS))
    assert out == chunks and out[1] is chunks[1]


# Encoding -------------------------------------------------------------------------


def transcode(data: bytes, encoding: str, chunks: list[bytes] | None = None) -> bytes:
    return b"".join(decode.transcode(chunks if chunks is not None else [data], encoding))


def test_utf8_multibyte_sequences_split_at_every_byte() -> None:
    data = "a,b\n1,日本€é\n".encode()
    for cut in range(len(data) + 1):
        assert transcode(data, "utf-8", split_at(data, cut)) == data
    assert transcode(data, "utf-8", [bytes([b]) for b in data]) == data


def test_utf8_bom_dropped_even_when_split() -> None:
    data = decode.UTF8_BOM + b"a,b\n"
    for cut in range(1, 4):
        assert transcode(data, "", split_at(data, cut)) == b"a,b\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16le", "utf-16be", "latin-1", "cp1252"])
def test_transcoding_at_every_split(encoding: str) -> None:
    text = "name,city\nJosé,Zürich\n" + ("Ünïcödé,€\n" if encoding != "latin-1" else "Ünïcödé,x\n")
    codec = {"utf-16": "utf-16-le"}.get(encoding, encoding)
    data = ("\ufeff" if encoding == "utf-16" else "").encode(codec) + text.encode(codec)
    for cut in range(len(data) + 1):
        assert transcode(data, encoding, split_at(data, cut)).decode() == text, cut


def test_utf16_without_bom_guesses_the_byte_order() -> None:
    for codec in ("utf-16-le", "utf-16-be"):
        assert transcode("a,b\n1,2\n".encode(codec), "utf-16") == b"a,b\n1,2\n"


def test_invalid_utf8_names_line_column_and_parameter() -> None:
    data = b"a,b\n1,ok\n2,caf\xe9\n"
    for size in (1, 3, 100):
        with pytest.raises(errors.InvalidArgument) as info:
            transcode(data, "utf-8", list(corpus.chunks(data, size)))
        err = info.value
        assert err.reason == "INVALID_ENCODING"
        assert (err.metadata["line"], err.metadata["column"], err.metadata["byte"]) == ("3", "6", "14")
        assert "encoding=" in err.message


def test_truncated_multibyte_sequence_at_the_end() -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        transcode("a\né".encode()[:-1], "utf-8")
    assert info.value.metadata["line"] == "2"


def test_undefined_cp1252_byte_suggests_latin1() -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        transcode(b"a\nx\x81\n", "cp1252")
    assert info.value.metadata["line"] == "2" and "latin-1" in info.value.message


def test_unknown_encoding() -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        transcode(b"a\n", "ebcdic")
    assert info.value.violations[0].field == "encoding"


def test_peek_keeps_every_byte_and_knows_the_end() -> None:
    peeked = decode.peek(iter([b"ab", b"cd", b"ef"]), 3)
    assert (peeked.head, peeked.complete, b"".join(peeked.chunks)) == (b"abc", False, b"abcdef")
    whole = decode.peek(iter([b"ab", b"c"]), 3)
    assert (whole.head, whole.complete, b"".join(whole.chunks)) == (b"abc", True, b"abc")
