"""The pathway tokenizer (docs/pathway.md): the rules case by case, the lowercase table
against Unicode's own lowercasing, the range tables (disjoint, and the same in the Go
port's source), and the golden file's tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lakehouse.servers.pathway import tokens
from lakehouse.servers.pathway.tokens import LOWER, SEPARATORS, SINGLES
from tests.support import pathway_golden

GO_SOURCE = Path(__file__).resolve().parents[2] / "clients" / "go" / "pathway" / "pathway.go"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Forklift operator, OSHA-30 in IL.", ["forklift", "operator", "osha", "30", "in", "il"]),
        ("snake_case and kebab-case", ["snake", "case", "and", "kebab", "case"]),
        ("ÉCOLE Café", ["école", "café"]),
        ("Straße STRASSE", ["straße", "strasse"]),  # no case folding: ß stays ß
        ("İstanbul ISTANBUL", ["İstanbul", "istanbul"]),  # U+0130 is left as it is
        ("Cafe\u0301", ["cafe\u0301"]),  # a combining mark stays in its word; no normalisation
        ("東京ok", ["東", "京", "ok"]),  # an ideograph is a token of its own
        ("👍🏽ok❤\ufe0f", ["👍", "ok", "❤"]),  # skin tone and variation selector separate
        ("a\u00a0b\u2003c\u3000d", ["a", "b", "c", "d"]),
        ("ＯＳＨＡ", ["ｏｓｈａ"]),
        ("", []),
        (" \t\n", []),
        ("a\ud800b", ["a", "b"]),  # a lone surrogate is a separator
    ],
)
def test_rules(text: str, expected: list[str]) -> None:
    assert tokens.tokens(text) == expected


def test_the_lowercase_table_is_unicode_lowercasing_where_it_maps() -> None:
    for upper, lower in LOWER.items():
        assert chr(upper).lower() == chr(lower), hex(upper)


def test_the_covered_blocks_map_every_capital_except_the_turkish_i() -> None:
    blocks = [(0x41, 0x5A), (0xC0, 0xDE), (0x100, 0x17F), (0x386, 0x3AB), (0x400, 0x42F), (0xFF21, 0xFF3A)]
    unmapped = []
    for first, last in blocks:
        for c in range(first, last + 1):
            lowered = chr(c).lower()
            if lowered != chr(c) and len(lowered) == 1 and c not in LOWER:
                unmapped.append(hex(c))
    assert unmapped == []
    assert 0x130 not in LOWER  # its lowercase is two code points in Python, one in Go


def _check_ranges(ranges: tuple[tuple[int, int], ...]) -> None:
    for (a, b), (c, _) in zip(ranges, ranges[1:], strict=False):
        assert a <= b < c, (hex(a), hex(b), hex(c))


def test_ranges_are_ascending_and_disjoint() -> None:
    _check_ranges(SEPARATORS)
    _check_ranges(SINGLES)
    seps = {c for a, b in SEPARATORS for c in range(a, min(b, 0x3FFFF) + 1)}
    assert not any(a <= c <= b for c in seps for a, b in SINGLES)
    assert not any(a in seps for a, _ in SINGLES)


def _go_spans(name: str) -> list[tuple[int, int]]:
    source = GO_SOURCE.read_text()
    block = re.search(rf"var {name} = \[\]span\{{(.*?)\n\}}", source, re.DOTALL)
    assert block, name
    return [(int(a, 16), int(b, 16)) for a, b in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", block.group(1))]


def test_the_go_port_has_the_same_tables() -> None:
    assert _go_spans("separators") == list(SEPARATORS)
    assert _go_spans("singles") == list(SINGLES)


def test_golden_tokens() -> None:
    golden = pathway_golden.load()
    for case in golden["cases"]:
        got = tokens.tokens(pathway_golden.case_text(case))
        assert len(got) == case["token_count"], case["name"]
        if "tokens" in case:
            assert got == case["tokens"], case["name"]


def test_no_unicode_database_is_consulted() -> None:
    """The rules must not depend on the interpreter's Unicode version (Go's differs)."""
    assert "unicodedata" not in tokens.__dict__
    source = Path(tokens.__file__).read_text()
    assert "import unicodedata" not in source and ".casefold()" not in source and ".lower()" not in source
