"""JSON object keys that the lake cannot hold as they are: find them in a sample, say what happens.

The query engine's column names are case-insensitive, so ``Platform`` and
``platform`` cannot be two columns under those names. DuckDB's JSON reader (2.x)
keeps both top-level keys when its sample shows them, storing the later one as
``platform_1`` (the rule of ``names.unique``); nested objects with such keys it
cannot read at all, and it reports either case in engine terms ("malformed",
"try ignore_errors"). This module scans the head of the upload the same way, so
the ingest can report each rename and refuse nested clashes, duplicate keys and
empty keys with the line and a message about the file.

Note for callers: a rename cannot be expressed through read_json's ``columns=``:
naming ``platform_1`` there does not map the ``platform`` key to it (its values read
as NULL), and naming both spellings is refused. Read such uploads with detection
and cast in the SELECT instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lakehouse.api import errors
from lakehouse.api.ingest import JSON_DUPLICATE_KEY, JSON_EMPTY_KEY, JSON_KEY_CASE_COLLISION
from lakehouse.servers.ingest import names as naming

_WHITESPACE = " \t\r\n"
_SEPARATORS = _WHITESPACE + ","


@dataclass(frozen=True)
class KeyReport:
    """Top-level keys in first-seen order and the renames the dataset will show."""

    keys: tuple[str, ...]
    renames: tuple[naming.Rename, ...]

    @property
    def rename_map(self) -> dict[str, str]:
        """JSON key -> column name, for the renamed keys only."""
        return {r.original: r.name for r in self.renames}

    def describe(self) -> str:
        """One line for the API response ("" when nothing was renamed)."""
        parts = []
        for r in self.renames:
            first = next(k for k in self.keys if k.lower() == r.original.lower())
            parts.append(
                f"keys {first!r} and {r.original!r} differ only in case; {r.original!r} is stored as {r.name!r}"
            )
        return "; ".join(parts)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


def _objects(sample: str) -> Iterator[tuple[int, Any]]:
    """(line, value) of each top-level value: NDJSON, concatenated objects, or the items
    of one array. Stops at the first value that does not parse: the sample's cut-off
    tail, or malformed JSON that the reader reports with its own position."""
    n = len(sample)
    pos = len(sample) - len(sample.lstrip(_WHITESPACE))
    in_array = sample.startswith("[", pos)
    pos += in_array
    line = 1 + sample.count("\n", 0, pos)
    while True:
        start = pos
        while pos < n and sample[pos] in _SEPARATORS:
            pos += 1
        line += sample.count("\n", start, pos)
        if pos >= n or (in_array and sample[pos] == "]"):
            return
        try:
            value, end = _DECODER.raw_decode(sample, pos)
        except _DuplicateKey as dup:
            raise errors.InvalidArgument(
                f"line {line}: an object has the key {dup.key!r} twice; keys must be unique within an object",
                reason=JSON_DUPLICATE_KEY,
                metadata={"line": str(line), "key": dup.key},
            ) from None
        except json.JSONDecodeError:
            return
        yield line, value
        line += sample.count("\n", pos, end)
        pos = end


def scan(sample: str) -> KeyReport:
    """Check the keys of the objects in ``sample`` (the head of the upload, as text).

    Raises JSON_KEY_CASE_COLLISION for keys that differ only in case inside a nested
    object (at any depth, across records), JSON_DUPLICATE_KEY for a key repeated in
    one object and JSON_EMPTY_KEY for an empty key; returns the top-level renames."""
    order: list[str] = []
    known: set[str] = set()
    nested: dict[tuple[str, ...], dict[str, str]] = {}
    for line, value in _objects(sample):
        if not isinstance(value, dict):
            continue
        for key in value:
            if key not in known:
                known.add(key)
                order.append(key)
        _walk(value, line, nested)
    _, renames = naming.unique(order)
    return KeyReport(tuple(order), renames)


def _walk(value: dict[str, Any], line: int, seen: dict[tuple[str, ...], dict[str, str]]) -> None:
    """Check every object under ``value`` (iteratively: depth is the file's choice)."""
    stack: list[tuple[Any, tuple[str, ...], bool]] = [(value, (), True)]
    while stack:
        item, where, is_top = stack.pop()
        if isinstance(item, list):
            stack.extend((v, where, False) for v in item)
            continue
        if not isinstance(item, dict):
            continue
        spellings = seen.setdefault(where, {})
        for key, child in item.items():
            if not key:
                raise errors.InvalidArgument(
                    f"line {line}: an object{_at(where)} has an empty key; every key must be a name",
                    reason=JSON_EMPTY_KEY,
                    metadata={"line": str(line), "path": ".".join(where)},
                )
            first = spellings.setdefault(key.lower(), key)
            if first != key and not is_top:
                raise errors.InvalidArgument(
                    f"line {line}: the object{_at(where)} has keys {first!r} and {key!r} that differ only in "
                    "case; nested keys must differ by more than case (top-level keys are renamed, nested ones "
                    "cannot be)",
                    reason=JSON_KEY_CASE_COLLISION,
                    metadata={"line": str(line), "path": ".".join(where), "keys": f"{first},{key}"},
                )
            stack.append((child, (*where, key), False))


def _at(path: tuple[str, ...]) -> str:
    return f" at {'.'.join(path)!r}" if path else ""


_SUFFIXED_RE = re.compile(r"(.+)_(\d+)")


def renamed_columns(columns: Sequence[str], literal: Sequence[str] = ()) -> tuple[naming.Rename, ...]:
    """The renames in the JSON reader's column list: a name ``k_<n>`` whose ``k`` matches an
    earlier column regardless of case (the reader's rule, see ``names.unique``), unless the
    file has ``k_<n>`` as a key itself (``literal``: keys seen in the scanned sample). Finds
    the renames of keys that first occur past the sample, which ``scan`` cannot see."""
    seen = set(literal)
    out = []
    for index, name in enumerate(columns):
        match = _SUFFIXED_RE.fullmatch(name)
        if match is None or name in seen:
            continue
        base = match.group(1)
        if any(prev.lower() == base.lower() for prev in columns[:index]):
            out.append(naming.Rename(index, base, name))
    return tuple(out)
