"""Reading and writing a corpus's objects: corpus record, generations, write log.

Every object goes through the ``ObjectStore`` (atomic puts on both backends), so a
reader sees a whole file or none. A generation's data files are written first and
its manifest (with sha256 of both) last; a generation without a manifest is an
orphan of a crashed build and is never loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.api import errors
from lakehouse.api.paging import LARGEST_PAGE, drain_pages
from lakehouse.api.vector import CORRUPT_DATA
from lakehouse.servers.clock import utc_now
from lakehouse.servers.storage.model import ObjectInfo, ObjectStore
from lakehouse.servers.vector.index import Rows
from lakehouse.servers.vector.layout import GRAPH_FILE, MANIFEST_FILE, VECTORS_FILE, corpus_key, generation_key, log_key
from lakehouse.servers.vector.model import HnswParams
from lakehouse.servers.vector.vectors import OPS, WriteBatch

FORMAT_VERSION = 1
PUT_CHUNK_BYTES = 8 * 1024 * 1024
JSON_TYPE = "application/json"
PARQUET_TYPE = "application/vnd.apache.parquet"
GRAPH_TYPE = "application/octet-stream"
ROW_GROUP_ROWS = 64 * 1024
# Float vectors barely compress and BYTE_STREAM_SPLIT keeps encoding cheap; the rest is zstd.
VECTOR_LEAF = "vector.list.element"
TEXT_COMPRESSION = "zstd"

KIND_CREATE = "create"
KIND_CHECKPOINT = "checkpoint"
KIND_REBUILD = "rebuild"


@dataclass
class CorpusRecord:
    """``corpus.json``: the definition plus the generation pointers, rewritten atomically."""

    name: str
    dimension: int
    metric: str
    hnsw_m: int
    ef_construction: int
    embedding_model: str
    created_at: str
    active: int
    previous: int = 0
    description: str = ""
    tags: list[str] = field(default_factory=list)
    format: int = FORMAT_VERSION


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass
class Manifest:
    corpus: str
    generation: int
    kind: str
    params: HnswParams
    rows: int
    count: int
    log_seq: int  # every log entry up to this seq is folded into the generation
    created_at: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        data["params"] = HnswParams(**data["params"])
        data["files"] = {name: FileEntry(**entry) for name, entry in data["files"].items()}
        return cls(**data)


def now() -> str:
    """The one clock (servers/clock.py), as manifests record it."""
    return utc_now().isoformat()


def corrupt(message: str) -> errors.Internal:
    return errors.Internal(message, reason=CORRUPT_DATA)


# Raw objects -----------------------------------------------------------------


def _chunks(data: memoryview) -> Iterator[memoryview]:
    for start in range(0, len(data), PUT_CHUNK_BYTES):
        yield data[start : start + PUT_CHUNK_BYTES]


def put_bytes(store: ObjectStore, key: str, data: bytes | memoryview, content_type: str) -> ObjectInfo:
    view = memoryview(data).cast("B")
    return store.put(key, _chunks(view) if len(view) else iter([b""]), content_type)  # type: ignore[arg-type]


def get_bytes(store: ObjectStore, key: str) -> bytes:
    return b"".join(store.get(key))


def list_all(store: ObjectStore, prefix: str) -> list[ObjectInfo]:
    return list(drain_pages(lambda token: store.list(prefix, page_size=LARGEST_PAGE, page_token=token)))


def delete_if_present(store: ObjectStore, key: str) -> None:
    """Garbage collection: an object already gone is fine."""
    try:
        store.delete(key)
    except errors.NotFound:
        pass


def sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


# Corpus record ---------------------------------------------------------------


def write_corpus(store: ObjectStore, record: CorpusRecord) -> ObjectInfo:
    return put_bytes(store, corpus_key(record.name), json.dumps(asdict(record), indent=1).encode(), JSON_TYPE)


def read_corpus(store: ObjectStore, name: str) -> CorpusRecord:
    raw = get_bytes(store, corpus_key(name))
    try:
        return CorpusRecord(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise corrupt(f"corpus {name!r}: unreadable {corpus_key(name)}: {exc}") from exc


# Parquet encoding --------------------------------------------------------------


def _vector_array(vectors: np.ndarray | None, count: int, dimension: int) -> pa.Array:
    kind = pa.list_(pa.float32(), dimension)
    if vectors is None:
        return pa.nulls(count, kind)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, dimension)


def _encode(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    others = [name for name in table.column_names if name != "vector"]
    compression = {name: TEXT_COMPRESSION for name in others}
    compression[VECTOR_LEAF] = "none"
    pq.write_table(
        table,
        sink,
        row_group_size=ROW_GROUP_ROWS,
        compression=compression,
        use_dictionary=False,
        write_statistics=others,  # min/max of vector components serve no reader
        column_encoding={VECTOR_LEAF: "BYTE_STREAM_SPLIT"},
    )
    return sink.getvalue()


def vectors_of(table: pa.Table, dimension: int) -> np.ndarray:
    """The ``vector`` column as an (n, dimension) float32 matrix."""
    column = table.column("vector").combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dimension).astype(np.float32, copy=False)


# Generations -------------------------------------------------------------------


def write_generation(
    store: ObjectStore, manifest: Manifest, graph: np.ndarray | bytes, rows: Rows
) -> tuple[Manifest, dict[str, int]]:
    """Data files first, manifest last. Returns the manifest with checksums and the sizes written."""
    n, dimension = len(rows.ids), manifest.params.dimension
    table = pa.table(
        {
            "id": pa.array(rows.ids, pa.string()),
            "label": pa.array(np.arange(n, dtype=np.int64)),
            "vector": _vector_array(rows.vectors, n, dimension),
            "metadata": pa.array(rows.metadata, pa.string()),
            "text": pa.array(rows.texts, pa.string()),
            "deleted": pa.array(rows.deleted, pa.bool_()),
        }
    )
    vectors = _encode(table)
    sizes: dict[str, int] = {}
    for filename, data, content_type in ((VECTORS_FILE, vectors, PARQUET_TYPE), (GRAPH_FILE, graph, GRAPH_TYPE)):
        view = memoryview(data).cast("B")
        manifest.files[filename] = FileEntry(sha256(view), len(view))
        key = generation_key(manifest.corpus, manifest.generation, filename)
        sizes[key] = put_bytes(store, key, view, content_type).size
    key = generation_key(manifest.corpus, manifest.generation, MANIFEST_FILE)
    sizes[key] = put_bytes(store, key, manifest.to_json(), JSON_TYPE).size
    return manifest, sizes


def read_manifest(store: ObjectStore, corpus: str, generation: int) -> Manifest:
    key = generation_key(corpus, generation, MANIFEST_FILE)
    raw = get_bytes(store, key)
    try:
        return Manifest.from_json(raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise corrupt(f"unreadable manifest {key}: {exc}") from exc


def read_vectors_file(store: ObjectStore, manifest: Manifest, columns: Sequence[str] | None = None) -> pa.Table:
    """vectors.parquet (``columns`` of it, or all), verified against the manifest's sha256."""
    key = generation_key(manifest.corpus, manifest.generation, VECTORS_FILE)
    data = get_bytes(store, key)
    if sha256(data) != manifest.files[VECTORS_FILE].sha256:
        raise corrupt(f"checksum mismatch in {key}")
    return pq.read_table(pa.BufferReader(data), columns=list(columns) if columns is not None else None)


def read_rows(store: ObjectStore, manifest: Manifest) -> Rows:
    """vectors.parquet, verified against the manifest; the source of truth, so corruption is fatal here."""
    key = generation_key(manifest.corpus, manifest.generation, VECTORS_FILE)
    try:
        table = read_vectors_file(store, manifest)
        labels = table.column("label").to_numpy()
        if not np.array_equal(labels, np.arange(len(labels))):
            raise ValueError("labels are not 0..n-1 in order")
        return Rows(
            table.column("id").to_pylist(),
            vectors_of(table, manifest.params.dimension),
            table.column("metadata").to_pylist(),
            table.column("text").to_pylist(),
            table.column("deleted").to_numpy(zero_copy_only=False).astype(bool),
        )
    except (pa.ArrowException, ValueError, KeyError) as exc:
        raise corrupt(f"unreadable {key}: {exc}") from exc


def read_graph(store: ObjectStore, manifest: Manifest) -> bytes | None:
    """hnsw.faiss bytes, or None when missing or not matching the manifest's checksum."""
    key = generation_key(manifest.corpus, manifest.generation, GRAPH_FILE)
    try:
        data = get_bytes(store, key)
    except errors.NotFound:
        return None
    return data if sha256(data) == manifest.files[GRAPH_FILE].sha256 else None


def rewrite_graph(store: ObjectStore, manifest: Manifest, graph: np.ndarray) -> tuple[Manifest, dict[str, int]]:
    """Replace a corrupt sidecar: the graph first, then the manifest carrying its new checksum."""
    view = memoryview(graph).cast("B")
    key = generation_key(manifest.corpus, manifest.generation, GRAPH_FILE)
    sizes = {key: put_bytes(store, key, view, GRAPH_TYPE).size}
    manifest.files[GRAPH_FILE] = FileEntry(sha256(view), len(view))
    key = generation_key(manifest.corpus, manifest.generation, MANIFEST_FILE)
    sizes[key] = put_bytes(store, key, manifest.to_json(), JSON_TYPE).size
    return manifest, sizes


# Write log ---------------------------------------------------------------------


def write_log(store: ObjectStore, corpus: str, batch: WriteBatch, dimension: int) -> ObjectInfo:
    n = len(batch.ids)
    table = pa.table(
        {
            "op": pa.array([batch.op] * n, pa.string()),
            "id": pa.array(batch.ids, pa.string()),
            "vector": _vector_array(batch.vectors, n, dimension),
            "metadata": pa.array(batch.metadata or [None] * n, pa.string()),
            "text": pa.array(batch.texts or [None] * n, pa.string()),
        }
    )
    return put_bytes(store, log_key(corpus, batch.seq), _encode(table), PARQUET_TYPE)


def read_log(store: ObjectStore, corpus: str, seq: int, dimension: int) -> WriteBatch:
    key = log_key(corpus, seq)
    try:
        table = pq.read_table(pa.BufferReader(get_bytes(store, key)))
        ops = set(table.column("op").to_pylist())
        if len(ops) > 1 or not ops <= set(OPS):
            raise ValueError(f"unexpected ops {sorted(map(str, ops))}")
        op = ops.pop() if ops else OPS[0]
        vectors = None if table.column("vector").null_count == len(table) else vectors_of(table, dimension)
        return WriteBatch(
            op,
            table.column("id").to_pylist(),
            vectors,
            table.column("metadata").to_pylist(),
            table.column("text").to_pylist(),
            seq,
        )
    except (pa.ArrowException, ValueError, KeyError) as exc:
        raise corrupt(f"unreadable log entry {key}: {exc}") from exc
