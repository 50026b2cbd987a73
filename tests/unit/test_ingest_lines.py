"""Preamble/comment line removal while streaming, and mapping line numbers back."""

from __future__ import annotations

import random
import re
from pathlib import Path

import duckdb
import pytest

from lakehouse.servers.ingest import dialect
from lakehouse.servers.ingest.lines import LineFilter, first_inconsistent_line, physical_line
from lakehouse.servers.settings import IngestSettings

PIECES = [
    b"1,2\n",
    b"# c\n",
    b"#\n",
    b'3,"a\n#b"\n',
    b"\n",
    b"x,#y\n",
    b'"q""#",1\n',
    b"#long " * 3 + b"\n",
    b"# crlf\r\n",
]


def reference(text: bytes, skip: int, comment: bytes, quote: bytes) -> tuple[bytes, list[int]]:
    """Line by line: what the filter must keep, and the upload lines it must remove."""
    parts = text.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    kept, removed, in_quote = [], [], False
    for number, line in enumerate(lines, start=1):
        if number <= skip or (not in_quote and line.startswith(comment)):
            removed.append(number)
            continue
        kept.append(line)
        in_quote ^= line.count(quote) % 2 == 1
    return b"".join(kept), removed


def split_randomly(text: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(len(text) + 1), min(len(text), rng.randint(0, 8))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def test_matches_a_line_by_line_reference_at_any_chunking() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        text = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 25)))
        if rng.random() < 0.3:
            text += b"#no newline at the end"
        skip = rng.choice([0, 0, 1, 3])
        line_filter = LineFilter(skip=skip, comment="#", quote='"', escape='"', max_runs=10_000)
        got = b"".join(line_filter.filter(split_randomly(text, rng)))
        want, removed = reference(text, skip, b"#", b'"')
        assert got == want, text
        assert line_filter.removed == len(removed), text
        kept_numbers = [n for n in range(1, text.count(b"\n") + 2) if n not in removed]
        for spooled, original in enumerate(kept_numbers[: got.count(b"\n") + 1], start=1):
            assert line_filter.original_line(spooled) == original, (text, spooled)


def test_data_bytes_are_never_touched() -> None:
    text = b'id,address\n1,Apt #5\n# note\n2,"x\n# not a comment: inside quotes"\n'
    line_filter = LineFilter(skip=0, comment="#", quote='"', escape='"', max_runs=10)
    assert b"".join(line_filter.filter([text])) == b'id,address\n1,Apt #5\n2,"x\n# not a comment: inside quotes"\n'
    assert line_filter.removed == 1


def test_backslash_escaped_quotes_keep_the_parity() -> None:
    text = b'a,b\n1,"x \\" y"\n# gone\n2,z\n'
    line_filter = LineFilter(skip=0, comment="#", quote='"', escape="\\", max_runs=10)
    assert b"".join(line_filter.filter([text])) == b'a,b\n1,"x \\" y"\n2,z\n'


def test_without_a_comment_character_chunks_pass_through() -> None:
    line_filter = LineFilter(skip=2, comment="", quote='"', escape='"', max_runs=10)
    chunks = [b"title\nno", b"tes\na,b\n", b"1,2\n"]
    out = list(line_filter.filter(chunks))
    assert out == [b"a,b\n", b"1,2\n"] and out[1] is chunks[2]
    assert line_filter.original_line(1) == 3


def test_line_map_is_bounded() -> None:
    text = b"".join(b"%d\n# c\n" % i for i in range(100))
    line_filter = LineFilter(skip=0, comment="#", quote="", escape="", max_runs=10)
    b"".join(line_filter.filter([text]))
    assert line_filter.removed == 100
    assert line_filter.original_line(5) == 9
    assert line_filter.original_line(50) is None  # past the remembered runs: unknown, not wrong


def test_physical_line_converts_duckdbs_record_numbers(tmp_path: Path) -> None:
    """DuckDB numbers records (a quoted multi-line field counts once); the error must
    name the line a person sees. Three 3-line records push the bad row down 6 lines.
    (Within its own type sample DuckDB names no line at all: see first_inconsistent_line.)"""
    rows = 30_000  # past DuckDB's own sample, where it reports a line number
    text = "a,b\n" + '1,"x\ny\nz"\n' * 3 + "".join(f"{i},v\n" for i in range(rows)) + "9,2,3\n"
    path = tmp_path / "f.csv"
    path.write_text(text)
    found = dialect.sniff(
        "a,b\n1,2\n", dialect.parse_options(), dialect.SniffLimits.from_settings(IngestSettings()), complete=True
    )
    with duckdb.connect() as con, pytest.raises(duckdb.Error) as info:
        con.sql(
            "SELECT * FROM read_csv($p, " + ", ".join(f"{k} = ${k}" for k in dialect.read_csv_options(found)) + ")",
            params={"p": str(path), **dialect.read_csv_options(found)},
        ).fetchall()
    record = int(re.search(r"Line: (\d+)", str(info.value)).group(1))
    assert record == 1 + 3 + rows + 1
    line = physical_line(path, found, record, max_bytes=1 << 20)
    assert line == text.count("\n")  # the last line of the file
    assert text.splitlines()[line - 1] == "9,2,3"
    assert physical_line(path, found, record, max_bytes=20) is None


def test_first_inconsistent_line_finds_what_duckdb_would_not_name(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('a,b\n1,"x\ny"\n2,v\n3,4,5\n6,w\n')
    found = dialect.sniff(
        "a,b\n1,2\n", dialect.parse_options(), dialect.SniffLimits.from_settings(IngestSettings()), complete=True
    )
    assert first_inconsistent_line(path, found, max_bytes=1 << 20) == (5, 3)
    path.write_text("a,b\n1,2\n")
    assert first_inconsistent_line(path, found, max_bytes=1 << 20) is None
