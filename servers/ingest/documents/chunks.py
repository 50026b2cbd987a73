"""Retrieval chunks of a document: windows of ``documents.chunk_chars`` characters
overlapping by ``chunk_overlap_chars``, cut at whitespace where one is near. A chunk
never spans two pages, so a search hit on it can cite its page."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# How far back from a window's end a whitespace cut may land (share of the window).
CUT_SEARCH_SHARE = 0.2


@dataclass(frozen=True)
class Chunk:
    page: int  # 1-based
    text: str


def tidy(text: str) -> str:
    """Runs of spaces collapsed, blank-line runs made one: extraction leaves many."""
    return _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text)).strip()


def page_chunks(page: int, text: str, size: int, overlap: int) -> list[Chunk]:
    text = tidy(text)
    if not text:
        return []
    overlap = min(overlap, size // 2)
    out: list[Chunk] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", end - int(size * CUT_SEARCH_SHARE), end)
            cut = max(cut, text.rfind("\n", end - int(size * CUT_SEARCH_SHARE), end))
            if cut > start:
                end = cut
        out.append(Chunk(page, text[start:end].strip()))
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return [c for c in out if c.text]


def document_chunks(pages: tuple[str, ...], size: int, overlap: int) -> list[Chunk]:
    return [c for n, text in enumerate(pages, start=1) for c in page_chunks(n, text, size, overlap)]
