"""Drain a paginated listing: every API that lists takes a page token and answers
(items, next_token), with "" for the last page."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def drain_pages(fetch: Callable[[str], tuple[Sequence[T], str]]) -> Iterator[T]:
    """Every item of every page: ``fetch(token)`` returns one page and the next token."""
    token = ""
    while True:
        page, token = fetch(token)
        yield from page
        if not token:
            return
