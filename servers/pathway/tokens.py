"""Tokenization of a task text, version 1 (docs/pathway.md, "Tokenization").

The rules use no Unicode database: Python (3.11: Unicode 14) and Go (1.19: Unicode 13)
ship different tables, and Go's standard library has no normalisation, so anything that
consults categories, ``str.casefold`` or NFC could split the two implementations on a
character one of them does not know. Instead every code point is classified by the fixed
ranges below, identical in clients/go/pathway/tokens.go:

1. lowercase through ``LOWER`` (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic,
   fullwidth Latin; the Turkish U+0130 is left as it is, see the doc);
2. a separator (ASCII other than letters and digits, or a code point in ``SEPARATORS``)
   ends the current token;
3. a code point in ``SINGLES`` (CJK ideographs, kana, emoji and symbols) is a token of its
   own;
4. any other code point (letters of every script, combining marks, digits) joins the run
   it is in.

A token is the UTF-8 encoding of its code points. Lone surrogates (which no protobuf
string carries) are separators, as U+FFFD is.
"""

from __future__ import annotations

import re

# (first, last) inclusive code point ranges, disjoint (a unit test checks it), ascending.
SEPARATORS: tuple[tuple[int, int], ...] = (
    (0x0000, 0x002F),
    (0x003A, 0x0040),
    (0x005B, 0x0060),
    (0x007B, 0x00BF),  # ASCII punctuation, DEL, C1 controls, NBSP, Latin-1 symbols
    (0x00D7, 0x00D7),
    (0x00F7, 0x00F7),
    (0x2000, 0x206F),  # General Punctuation: spaces, zero-width characters, dashes, quotes
    (0x20A0, 0x20CF),  # currency symbols
    (0x2E00, 0x2E7F),  # Supplemental Punctuation
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xD800, 0xDFFF),  # surrogates
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFE10, 0xFE1F),
    (0xFE30, 0xFE6F),  # CJK compatibility and small form punctuation
    (0xFEFF, 0xFEFF),  # byte order mark
    (0xFF01, 0xFF0F),
    (0xFF1A, 0xFF20),
    (0xFF3B, 0xFF40),
    (0xFF5B, 0xFF65),  # fullwidth punctuation
    (0xFFF0, 0xFFFF),  # specials, U+FFFD
    (0x1F3FB, 0x1F3FF),  # emoji skin-tone modifiers
    (0xE0000, 0xE007F),  # tags
)
SINGLES: tuple[tuple[int, int], ...] = (
    (0x2190, 0x2BFF),  # arrows, mathematical operators, technical, shapes, dingbats
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x31FF),  # Bopomofo, Hangul compatibility jamo, Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x1F000, 0x1F3FA),  # emoji, pictographs, playing cards, mahjong ...
    (0x1F400, 0x1FAFF),  # ... around the skin-tone modifiers (separators)
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def _lower_table() -> dict[int, int]:
    table = {c: c + 0x20 for c in range(0x41, 0x5B)}
    table.update({c: c + 0x20 for c in range(0xC0, 0xDF) if c != 0xD7})
    # Latin Extended-A: case pairs (upper even, then upper odd from U+0139 to U+0148).
    for first, last, parity in ((0x0100, 0x012F, 0), (0x0132, 0x0137, 0), (0x0139, 0x0148, 1), (0x014A, 0x0177, 0)):
        table.update({c: c + 1 for c in range(first, last + 1) if c % 2 == parity})
    table.update({0x0178: 0x00FF, 0x0179: 0x017A, 0x017B: 0x017C, 0x017D: 0x017E})
    # Greek: capitals, then the accented ones.
    table.update({c: c + 0x20 for c in range(0x0391, 0x03AC) if c != 0x03A2})
    table.update({0x0386: 0x03AC, 0x0388: 0x03AD, 0x0389: 0x03AE, 0x038A: 0x03AF, 0x038C: 0x03CC})
    table.update({0x038E: 0x03CD, 0x038F: 0x03CE})
    # Cyrillic.
    table.update({c: c + 0x20 for c in range(0x0410, 0x0430)})
    table.update({c: c + 0x50 for c in range(0x0400, 0x0410)})
    # Fullwidth Latin capitals.
    table.update({c: c + 0x20 for c in range(0xFF21, 0xFF3B)})
    return table


LOWER: dict[int, int] = _lower_table()


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


# A SINGLES code point, or a run of code points that are neither separators nor singles.
_TOKEN = re.compile(f"[{_class(SINGLES)}]|[^{_class(SEPARATORS)}{_class(SINGLES)}]+")


def tokens(text: str) -> list[str]:
    """The tokens of ``text``, in order (docs/pathway.md)."""
    return _TOKEN.findall(text.translate(LOWER))


def token_bytes(token: str) -> bytes:
    """A token as hashed: its UTF-8 bytes (a lone surrogate never reaches a token)."""
    return token.encode("utf-8")
