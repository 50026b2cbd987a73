"""Paging of every listing (AIP-158): a page size (0 asks for the default, more than the
maximum is capped), a page token, and (items, next_token) with "" for the last page."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from pydantic import BaseModel, Field

from lakehouse.api import errors

T = TypeVar("T")

INVALID_PAGE = "INVALID_PAGE"
# What an internal drain asks for: as large a page as the listing allows.
LARGEST_PAGE = 2**31 - 1


class PagingSettings(BaseModel):
    """Page sizes of every listing (datasets, versions, objects, error records)."""

    default_page_size: int = Field(100, gt=0, description="Page size when the caller asks for 0.")
    max_page_size: int = Field(1000, gt=0, description="Larger requests are capped to this.")

    def size(self, requested: int) -> int:
        if requested < 0:
            raise errors.invalid_field("page_size", "must not be negative", reason=INVALID_PAGE)
        return min(requested or self.default_page_size, self.max_page_size)


def bad_page_token() -> errors.InvalidArgument:
    return errors.invalid_field("page_token", "is not a token this service issued", reason=INVALID_PAGE)


def drain_pages(fetch: Callable[[str], tuple[Sequence[T], str]]) -> Iterator[T]:
    """Every item of every page: ``fetch(token)`` returns one page and the next token."""
    token = ""
    while True:
        page, token = fetch(token)
        yield from page
        if not token:
            return
