"""Write record batches as zstd Parquet files on object storage, hashing as they go.

Files go through the store's pyarrow filesystem (the data plane, no proxy hop).
Row groups hold exactly ``row_group_rows`` rows (the last one fewer) and a file
rotates after ``rows_per_file`` rows, so memory is bounded by one row group.
Every key is remembered before it is opened, so a failed attempt can remove
even a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.api import errors
from lakehouse.api.catalog import HASH_PREFIX, DataFile
from lakehouse.api.storage import STORAGE_UNAVAILABLE
from lakehouse.servers.storage.model import ObjectStore


@contextlib.contextmanager
def storage_errors(key: str) -> Iterator[None]:
    """Filesystem failures become Unavailable; a lakehouse error passes through."""
    try:
        yield
    except errors.LakehouseError:
        raise
    except OSError as exc:  # includes pyarrow's IO errors
        raise errors.Unavailable(
            f"object storage failed writing {key}: {exc}", reason=STORAGE_UNAVAILABLE, metadata={"key": key}
        ) from exc


class HashingSink:
    """File-like wrapper for ParquetWriter: counts and sha256-hashes every byte written."""

    def __init__(self, stream: pa.NativeFile) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.size = 0
        self.closed = False
        self._discarding = False

    def write(self, data: bytes) -> int:
        if self._discarding:
            return len(data)
        self._digest.update(data)
        self.size += len(data)
        self._stream.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._stream.close()

    def discard(self) -> None:
        """Close the stream and swallow later writes: the file is being thrown away, and
        a writer finishing into a broken stream (possibly from a finalizer) must not raise."""
        self._discarding = True
        with contextlib.suppress(Exception):
            self.close()

    @property
    def content_hash(self) -> str:
        return HASH_PREFIX + self._digest.hexdigest()


def _make_durable(fs: pafs.FileSystem, path: str) -> None:
    """Local files must be on disk before the catalog commit refers to them
    (pyarrow does not fsync). Object stores are durable once the upload completes."""
    if not isinstance(fs, pafs.LocalFileSystem):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class PartWriter:
    """Writes one schema's batches into files at ``key_for(0)``, ``key_for(1)``, ..."""

    def __init__(
        self,
        store: ObjectStore,
        key_for: Callable[[int], str],
        schema: pa.Schema,
        *,
        row_group_rows: int,
        rows_per_file: int,
        compression: str,
    ) -> None:
        self._fs, self._base = store.filesystem()
        self._key_for = key_for
        self.schema = schema
        self._row_group_rows = row_group_rows
        self._rows_per_file = rows_per_file
        self._compression = compression
        self.keys: list[str] = []  # every key opened, for cleanup
        self.files: list[DataFile] = []
        self._sink: HashingSink | None = None
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    @property
    def bytes_written(self) -> int:
        return sum(f.bytes for f in self.files) + (self._sink.size if self._sink else 0)

    def _path(self, key: str) -> str:
        return f"{self._base.rstrip('/')}/{key}"

    def _open(self) -> None:
        key = self._key_for(len(self.files))
        self.keys.append(key)
        path = self._path(key)
        with storage_errors(key):
            try:
                stream = self._fs.open_output_stream(path)
            except FileNotFoundError:
                # Local directories must exist; object stores have none to create.
                self._fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
                stream = self._fs.open_output_stream(path)
            self._sink = HashingSink(stream)
            self._writer = pq.ParquetWriter(self._sink, self.schema, compression=self._compression)

    def write(self, batch: pa.RecordBatch) -> None:
        offset = 0
        while offset < batch.num_rows:
            room = self._rows_per_file - self._file_rows - self._pending_rows
            take = min(room, batch.num_rows - offset)
            self._pending.append(batch.slice(offset, take))
            self._pending_rows += take
            offset += take
            while self._pending_rows >= self._row_group_rows:
                self._flush(self._row_group_rows)
            if self._file_rows + self._pending_rows >= self._rows_per_file:
                self._flush(self._pending_rows)
                self._finish_file()

    def _flush(self, rows: int) -> None:
        if rows <= 0:
            return
        if self._writer is None:
            self._open()
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        head, rest = table.slice(0, rows), table.slice(rows)
        key = self.keys[-1]
        with storage_errors(key):
            self._writer.write_table(head, row_group_size=self._row_group_rows)
        self._file_rows += rows
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows

    def _finish_file(self) -> None:
        if self._writer is None:
            return
        key = self.keys[-1]
        with storage_errors(key):
            self._writer.close()
            self._sink.close()
            _make_durable(self._fs, self._path(key))
        self.files.append(
            DataFile(path=key, rows=self._file_rows, bytes=self._sink.size, content_hash=self._sink.content_hash)
        )
        self._writer, self._sink, self._file_rows = None, None, 0

    def close(self) -> list[DataFile]:
        """Flush what is buffered and return the finished files (none for an empty input)."""
        self._flush(self._pending_rows)
        self._finish_file()
        return list(self.files)

    def abort(self) -> None:
        """Drop the open file without finishing it (the caller deletes the keys). The
        sink is discarded first so closing the Parquet writer cannot fail, and it is
        closed now rather than by a finalizer at some arbitrary later moment."""
        if self._sink is not None:
            self._sink.discard()
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        self._writer, self._sink, self._pending, self._pending_rows = None, None, [], 0
