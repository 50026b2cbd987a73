"""Corpus builders: turn dataset rows into corpus items (id, text, metadata).

Two entry points: ``build_from_dataset`` reads a whole catalog dataset through
the query engine (so deltas are merged on read), and ``embed_version`` reads
only the files one ingest added (embed-on-ingest). Both send text to the vector
core, which embeds it with the corpus's model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.api.catalog import (
    DELTA_DELETE,
    DELTA_OP_COLUMN,
    CatalogApi,
    DataFile,
    DatasetVersion,
    validate_dataset_name,
)
from lakehouse.api.errors import InvalidArgument, NotFound
from lakehouse.api.query import QueryApi
from lakehouse.api.vector import DIMENSION_MISMATCH, MISSING_ID, MISSING_VECTOR, NOT_A_VECTOR_COLUMN, ColumnMapping
from lakehouse.servers.query import jsonvalues
from lakehouse.servers.sql import quote_ident
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.model import Item

TEXT_SEPARATOR = "\n"


def _vectors(column: pa.Array, name: str) -> np.ndarray:
    """A list<float> column as an (n, d) float32 matrix, converted in one step."""
    if not (
        pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type)
    ):
        raise InvalidArgument(f"column {name!r} is {column.type}, not a list of floats", reason=NOT_A_VECTOR_COLUMN)
    if column.null_count:
        raise InvalidArgument(f"column {name!r} has rows without a vector", reason=MISSING_VECTOR)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths.min() != lengths.max()):
        raise InvalidArgument(f"column {name!r} has vectors of different lengths", reason=DIMENSION_MISMATCH)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(len(column), int(lengths[0]) if len(lengths) else 0)


CHUNK_ID_SEPARATOR = "#"


def chunk_items(batch: pa.RecordBatch, mapping: ColumnMapping) -> list[Item]:
    """One item per chunk (``mapping.chunk_column``, a list of {page, text}): id
    ``<id>#<n>``, the chunk's text, and metadata naming the row id, page and chunk."""
    ids = batch.column(mapping.id_column).to_pylist()
    chunks = batch.column(mapping.chunk_column).to_pylist()
    meta_batch = batch.select(list(mapping.metadata_columns)) if mapping.metadata_columns else None
    meta_rows = jsonvalues.rows(meta_batch) if meta_batch is not None else [[] for _ in ids]
    items: dict[str, Item] = {}
    for row, raw_id in enumerate(ids):
        if raw_id is None:
            raise InvalidArgument(f"row {row} has no {mapping.id_column!r}: every item needs an id", reason=MISSING_ID)
        shared = dict(zip(mapping.metadata_columns, meta_rows[row], strict=True))
        for n, chunk in enumerate(chunks[row] or ()):
            item_id = f"{raw_id}{CHUNK_ID_SEPARATOR}{n}"
            metadata = {mapping.id_column: str(raw_id), "page": chunk.get("page"), "chunk": n, **shared}
            items[item_id] = Item(id=item_id, vector=None, text=chunk.get("text") or None, metadata=metadata)
    return list(items.values())


def items_from_batch(batch: pa.RecordBatch, mapping: ColumnMapping) -> list[Item]:
    """One item per row (or, with a chunk column, per chunk); the last row wins when an
    id repeats within the batch."""
    if mapping.chunk_column:
        return chunk_items(batch, mapping)
    ids = batch.column(mapping.id_column).to_pylist()
    vectors = _vectors(batch.column(mapping.vector_column), mapping.vector_column) if mapping.vector_column else None
    texts = [batch.column(c).to_pylist() for c in mapping.text_columns]
    meta_batch = batch.select(list(mapping.metadata_columns)) if mapping.metadata_columns else None
    meta_rows = jsonvalues.rows(meta_batch) if meta_batch is not None else [[] for _ in ids]
    items: dict[str, Item] = {}
    for row, raw_id in enumerate(ids):
        if raw_id is None:
            raise InvalidArgument(f"row {row} has no {mapping.id_column!r}: every item needs an id", reason=MISSING_ID)
        text = TEXT_SEPARATOR.join(str(col[row]) for col in texts if col[row] is not None)
        metadata = dict(zip(mapping.metadata_columns, meta_rows[row], strict=True))
        vector = vectors[row] if vectors is not None else None
        items[str(raw_id)] = Item(id=str(raw_id), vector=vector, text=text or None, metadata=metadata)
    return list(items.values())


def _ensure_corpus(vector, corpus: str) -> None:
    try:
        vector.get_corpus(corpus)
    except NotFound:
        vector.create_corpus(corpus)


def build_from_dataset(vector, query: QueryApi, corpus: str, dataset: str, mapping: ColumnMapping) -> int:
    """Upsert one item per row of the dataset's current version; returns items written.
    ``query``: the query API, local or remote."""
    validate_dataset_name(dataset)
    with query.stream(f"SELECT * FROM {quote_ident(dataset)} LIMIT 0") as probe:
        mapping.validate(probe.schema.names)
    _ensure_corpus(vector, corpus)
    columns = ", ".join(quote_ident(c) for c in mapping.columns)
    with query.stream(f"SELECT {columns} FROM {quote_ident(dataset)}") as stream:
        batches = (items_from_batch(batch, mapping) for batch in stream)
        return vector.add_batches(corpus, batches, upsert=True)


def _new_files(current: DatasetVersion, previous: DatasetVersion | None) -> tuple[list[DataFile], list[DataFile]]:
    before = set() if previous is None else {f.path for f in (*previous.files, *previous.deltas)}
    return [f for f in current.files if f.path not in before], [f for f in current.deltas if f.path not in before]


def _batches(store: ObjectStore, path: str, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    fs, base = store.filesystem()
    with fs.open_input_file(f"{base}/{path}") as fh:
        yield from pq.ParquetFile(fh).iter_batches(batch_size=batch_rows, columns=columns)


def embed_version(
    vector,
    catalog: CatalogApi,
    store: ObjectStore,
    corpus: str,
    version: DatasetVersion,
    mapping: ColumnMapping,
    batch_rows: int,
) -> int:
    """Embed-on-ingest: upsert the rows this version added (read ``batch_rows`` at a time,
    ``vector.build_batch_rows``); apply its deletes."""
    mapping.validate(version.schema.names)
    previous = catalog.get_version(version.dataset, version.version - 1) if version.version > 1 else None
    files, deltas = _new_files(version, previous)
    _ensure_corpus(vector, corpus)
    written = 0
    for f in files:
        for batch in _batches(store, f.path, mapping.columns, batch_rows):
            items = items_from_batch(batch, mapping)
            if items:
                vector.upsert(corpus, items)
                written += len(items)
    for f in deltas:
        for batch in _batches(store, f.path, [*mapping.columns, DELTA_OP_COLUMN], batch_rows):
            is_delete = pc.equal(batch.column(DELTA_OP_COLUMN), DELTA_DELETE)
            deleted = batch.filter(is_delete).column(mapping.id_column).to_pylist()
            if deleted:
                vector.delete(corpus, [str(i) for i in deleted])
            items = items_from_batch(batch.filter(pc.invert(is_delete)), mapping)
            if items:
                vector.upsert(corpus, items)
                written += len(items)
    return written
