"""One query's hits as the graph walk left them: labels and scores of one generation's rows.

Building a ``Hit`` per result (id, decoded metadata, text, row) is most of the Python cost
of a batched search, and most hits are never read as objects: the servicer serializes them
from each row's cached stem (``lakehouse.api.vector.HitStems``). So the hits are built on
first read, and ``rows`` hands a serializer what it needs without building them.

A label's id, metadata and text never change once written (the index appends rows and only
tombstones old ones), so reading them after the search's read lock is released is safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any, overload

import orjson

from lakehouse.servers.vector.model import Hit


class RowSource:
    """The stored columns of one generation, as StoredHits read them."""

    __slots__ = ("ids", "metadata", "texts", "uid")

    def __init__(self, uid: int, ids: list[str], metadata: list[str], texts: list[str | None]) -> None:
        self.uid = uid
        self.ids = ids
        self.metadata = metadata  # each row's metadata as JSON text
        self.texts = texts


class StoredHits(Sequence[Hit]):
    __slots__ = ("_built", "_labels", "_scores", "_source", "_with_text")

    def __init__(self, source: RowSource, labels: list[int], scores: list[float], with_text: bool) -> None:
        self._source = source
        self._labels = labels
        self._scores = scores
        self._with_text = with_text
        self._built: list[Hit] | None = None

    def rows(self) -> Iterator[tuple[int, int, float, str | None]]:
        """(generation uid, label, score, text or None) of each hit, best first."""
        source = self._source
        texts = map(source.texts.__getitem__, self._labels) if self._with_text else repeat(None)
        return zip(repeat(source.uid), self._labels, self._scores, texts)

    def stem(self, label: int) -> tuple[str, dict[str, Any]]:
        """The id and the decoded metadata of one of these hits' rows."""
        return self._source.ids[label], orjson.loads(self._source.metadata[label])

    def _hits(self) -> list[Hit]:
        built = self._built
        if built is None:
            ids, metadata, loads = self._source.ids, self._source.metadata, orjson.loads
            built = self._built = [
                Hit(ids[label], score, loads(metadata[label]), text, (uid, label))
                for uid, label, score, text in self.rows()
            ]
        return built

    def __len__(self) -> int:
        return len(self._labels)

    @overload
    def __getitem__(self, index: int) -> Hit: ...
    @overload
    def __getitem__(self, index: slice) -> list[Hit]: ...
    def __getitem__(self, index: int | slice) -> Hit | list[Hit]:
        return self._hits()[index]

    def __iter__(self) -> Iterator[Hit]:
        return iter(self._hits())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self._hits() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment] # a list's equality, a list's (lack of) hash

    def __repr__(self) -> str:
        return repr(self._hits())
