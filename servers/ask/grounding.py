"""Which sources an answer cites, and which of those were never retrieved."""

from __future__ import annotations

import re

# [3], [1, 4], [2][5]: one bracket may list several numbers.
_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def cited(answer: str) -> list[int]:
    """Every number cited, in order of first mention."""
    found: dict[int, None] = {}
    for m in _CITATION.finditer(answer):
        for part in re.split(r"[,;]", m.group(1)):
            found[int(part)] = None
    return list(found)


def ungrounded(answer: str, sources: int) -> tuple[int, ...]:
    """Cited numbers outside 1..sources: a model pointing at a source it was not given."""
    return tuple(n for n in cited(answer) if not 1 <= n <= sources)
