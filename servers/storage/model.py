"""Plain types of object storage, shared by the storage service and the engines.

Engines (ingest, query) use an ``ObjectStore`` directly for the data plane: the
pyarrow filesystem it exposes reads and writes Parquet without a proxy hop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import pyarrow.fs as pafs

from lakehouse.api.storage import BucketInfo, ObjectInfo

__all__ = ["BucketInfo", "ObjectInfo", "ObjectStore"]


class ObjectStore(Protocol):
    """One bucket. Every method validates its key and raises lakehouse errors
    (NotFound, InvalidArgument, Unavailable, Unauthenticated, ...), never raw
    backend exceptions."""

    info: BucketInfo

    def put(self, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo: ...

    def get(self, key: str, chunk_bytes: int = 0) -> Iterator[bytes]: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def list(self, prefix: str = "", page_size: int = 0, page_token: str = "") -> tuple[list[ObjectInfo], str]: ...

    def delete(self, key: str) -> None: ...

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """(pyarrow filesystem, base path) so that ``base + '/' + key`` opens ``key``."""
        ...

    def check(self) -> None:
        """Raise Unavailable/Unauthenticated when the backend cannot be used."""
        ...
