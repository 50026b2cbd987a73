"""Key-ordered listing over a directory-like backend, shared by the local and S3 stores.

Listing pages are keyed by the last key returned, so keys must come out in true
lexicographic (UTF-8 byte) order. A directory walk that sorts names per level
gets this wrong: ``a-c`` < ``a/b`` because ``-`` sorts before ``/``, yet the
directory ``a`` sorts before the file ``a-c``. SeaweedFS's S3 listing has the
same flaw (and a ``start-after`` that skips keys), so both backends walk one
level at a time here, ordering a directory as ``name/`` among its siblings,
which is exactly where all of its keys fall.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from lakehouse.servers.storage.keys import SEPARATOR, is_valid_key

T = TypeVar("T")

# One level of the tree: (name from the bucket root, is_directory, payload).
# Directory names end with '/'. ``read_level(request)`` returns the entries of the
# directory holding ``request`` (everything up to its last '/'); it may already
# filter them to names starting with ``request``.
LevelReader = Callable[[str], Iterable[tuple[str, bool, T]]]


def ordered_walk(read_level: LevelReader[T], prefix: str, after: str) -> Iterator[tuple[str, T]]:
    """Yield (key, payload) for valid keys starting with ``prefix`` and greater than
    ``after``, in key order. Subtrees outside the prefix or entirely at or before
    ``after`` are never read."""
    yield from _walk(read_level, prefix, prefix, after)


def _walk(read_level: LevelReader[T], request: str, prefix: str, after: str) -> Iterator[tuple[str, T]]:
    level = level_of(request)
    visited: set[str] = set()
    for name, is_dir, payload in sorted(read_level(request), key=lambda entry: entry[0]):
        if is_dir:
            # S3 servers may report a level's own directory marker ("d/" when listing
            # "d/") or a prefix twice; only strictly deeper, unseen ones are walked.
            if len(name) <= len(level) or not name.startswith(level) or name in visited:
                continue
            visited.add(name)
            if not (name.startswith(prefix) or prefix.startswith(name)):
                continue
            if after >= name and not after.startswith(name):
                continue  # every key below sorts at or before the token
            yield from _walk(read_level, name, prefix, after)
        elif name.startswith(prefix) and name > after and is_valid_key(name):
            yield name, payload


def level_of(request: str) -> str:
    """The directory part of a request: ``a/b`` -> ``a/``, ``a/`` -> ``a/``, ``a`` -> ``""``."""
    return request[: request.rfind(SEPARATOR) + 1]


def take_page(items: Iterator[T], size: int, key_of: Callable[[T], str]) -> tuple[list[T], str]:
    """At most ``size`` items, and the token of the next page ("" when none is left)."""
    page: list[T] = []
    for item in items:
        if len(page) == size:
            return page, key_of(page[-1])
        page.append(item)
    return page, ""
