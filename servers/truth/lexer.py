"""The tokenizer of the truth condition language (the grammar is in ``parser.py``).

Tokens: identifiers (``[A-Za-z_][A-Za-z0-9_]*``, or any text in backticks, so a column
named ``zip code`` is ``\u0060zip code\u0060``), the keywords ``and or not in contains true
false null`` (lower case), numbers (``-``? digits, optional fraction and exponent),
strings in double or single quotes (backslash escapes ``\\" \\' \\\\ \\n \\t``), the
operators ``= != < <= > >=``, and ``( ) [ ] , .``. Every token carries its offset in the
condition, so an error can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

IDENT = "ident"
KEYWORD = "keyword"
NUMBER = "number"
STRING = "string"
OP = "op"
PUNCT = "punct"
END = "end"

KEYWORDS = frozenset({"and", "or", "not", "in", "contains", "true", "false", "null"})
COMPARISONS = ("<=", ">=", "!=", "=", "<", ">")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_PUNCT = "()[],."


class ConditionError(Exception):
    """A condition that does not parse: ``offset`` is the 0-based position in it."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any
    offset: int
    text: str  # as written (for messages)


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, then an END token at its length."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "\"'":
            value, end = _string(text, i)
            out.append(Token(STRING, value, i, text[i:end]))
            i = end
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ConditionError("unterminated `quoted` name", i)
            if end == i + 1:
                raise ConditionError("empty `quoted` name", i)
            out.append(Token(IDENT, text[i + 1 : end], i, text[i : end + 1]))
            i = end + 1
            continue
        if c.isdigit() or (c == "-" and i + 1 < n and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            assert m is not None  # a digit, or '-' then a digit, always starts a number
            end = m.end()
            if end < n and (text[end].isalnum() or text[end] == "_"):
                raise ConditionError(f"malformed number {text[i : end + 1]!r}", i)
            raw = m.group(0)
            value = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
            out.append(Token(NUMBER, value, i, raw))
            i = end
            continue
        m = _IDENT.match(text, i)
        if m:
            word = m.group(0)
            out.append(Token(KEYWORD if word in KEYWORDS else IDENT, word, i, word))
            i = m.end()
            continue
        if text.startswith("==", i):
            raise ConditionError("use = (not ==) to compare", i)
        op = next((o for o in COMPARISONS if text.startswith(o, i)), None)
        if op is not None:
            out.append(Token(OP, op, i, op))
            i += len(op)
            continue
        if c in _PUNCT:
            out.append(Token(PUNCT, c, i, c))
            i += 1
            continue
        raise ConditionError(f"unexpected character {c!r}", i)
    out.append(Token(END, None, n, ""))
    return out


def _string(text: str, start: int) -> tuple[str, int]:
    """The value of the string literal at ``start`` and the offset just past it."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(parts), i + 1
        if c == "\\":
            if i + 1 >= len(text):
                break
            escaped = _ESCAPES.get(text[i + 1])
            if escaped is None:
                raise ConditionError(f"unknown escape \\{text[i + 1]} in a string", i)
            parts.append(escaped)
            i += 2
            continue
        if c == "\n":
            raise ConditionError("a string must end on its line", start)
        parts.append(c)
        i += 1
    raise ConditionError("unterminated string", start)
