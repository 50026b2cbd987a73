"""Peer vector engines for bench/vector.py: each builds an index over the same
Parquet vectors and answers the same queries (hnswlib, chromadb, lancedb,
milvus-lite), plus the shared helpers both files use."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

K = 10
SETTLE_LIMIT_S = 180.0


def read_parquet_vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, float32 matrix) from an (id, embedding list<float32>) file."""

    table = pq.read_table(path)
    column = table.column("embedding").combine_chunks()
    matrix = column.flatten().to_numpy().reshape(len(column), -1)
    return table.column("id").to_numpy(), np.ascontiguousarray(matrix, dtype=np.float32)


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def short(exc: BaseException, limit: int = 90) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Peers -----------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    version: str
    index: str
    build_s: float = 0.0
    settle_s: float = 0.0  # background work (compaction, index merges) after the build returned
    search: Callable[[int], list[int]] | None = None
    close: Callable[[], None] = lambda: None
    max_queries: int = 0  # 0: all
    error: str = ""
    notes: list[str] = field(default_factory=list)


def peer_hnswlib(path: Path, params: dict, ef: int, queries: np.ndarray, tmp: Path) -> Peer:
    import hnswlib

    peer = Peer(
        "hnswlib",
        version_of("hnswlib"),
        f"HNSW cosine, M={params['m']}, ef_construction={params['ef_construction']}, ef={ef}",
    )
    started = time.perf_counter()
    ids, matrix = read_parquet_vectors(path)
    index = hnswlib.Index(space="cosine", dim=matrix.shape[1])
    index.init_index(max_elements=len(ids), ef_construction=params["ef_construction"], M=params["m"])
    index.add_items(matrix, ids, num_threads=os.cpu_count() or 1)
    peer.build_s = time.perf_counter() - started
    index.set_ef(ef)

    def search(i: int) -> list[int]:
        labels, _ = index.knn_query(queries[i : i + 1], k=K, num_threads=1)
        return labels[0].tolist()

    peer.search = search
    return peer


def peer_chromadb(path: Path, params: dict, ef: int, queries: np.ndarray, tmp: Path) -> Peer:
    import chromadb
    from chromadb.config import Settings

    peer = Peer(
        "chromadb",
        version_of("chromadb"),
        f"HNSW cosine, max_neighbors={params['m']}, "
        f"ef_construction={params['ef_construction']}, ef_search={ef}; PersistentClient",
    )
    client = chromadb.PersistentClient(path=str(tmp / "chroma"), settings=Settings(anonymized_telemetry=False))
    started = time.perf_counter()
    ids, matrix = read_parquet_vectors(path)
    collection = client.create_collection(
        "bench_vectors",
        configuration={
            "hnsw": {
                "space": "cosine",
                "max_neighbors": params["m"],
                "ef_construction": params["ef_construction"],
                "ef_search": ef,
            }
        },
        embedding_function=None,
    )
    batch = client.get_max_batch_size()
    str_ids = [str(i) for i in ids.tolist()]
    for start in range(0, len(ids), batch):
        collection.add(ids=str_ids[start : start + batch], embeddings=matrix[start : start + batch])
    collection.query(query_embeddings=queries[:1], n_results=K, include=[])  # index ready
    peer.build_s = time.perf_counter() - started
    peer.notes.append(f"chromadb: added in batches of {batch} (its max batch size); build time includes one query")

    def search(i: int) -> list[int]:
        result = collection.query(query_embeddings=queries[i : i + 1], n_results=K, include=[])
        return [int(x) for x in result["ids"][0]]

    peer.search = search
    return peer


def peer_lancedb(path: Path, params: dict, ef: int, queries: np.ndarray, tmp: Path) -> Peer:
    import lancedb
    from lancedb.index import HnswFlat, IvfPq

    peer = Peer("lancedb", version_of("lancedb"), "")
    db = lancedb.connect(str(tmp / "lance"))
    started = time.perf_counter()
    ids, matrix = read_parquet_vectors(path)
    dim = matrix.shape[1]
    data = pa.table(
        {"id": pa.array(ids), "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dim)}
    )
    table = db.create_table("bench_vectors", data)
    attempts = [
        (
            f"IVF_HNSW_FLAT (1 partition = one HNSW graph), cosine, m={params['m']}, "
            f"ef_construction={params['ef_construction']}, nprobes=1, ef={ef}",
            HnswFlat(
                distance_type="cosine", num_partitions=1, m=params["m"], ef_construction=params["ef_construction"]
            ),
            lambda q: q.nprobes(1).ef(ef),
        ),
        (
            "IVF_PQ cosine (default partitions / sub-vectors), nprobes=20, refine_factor=10",
            IvfPq(distance_type="cosine"),
            lambda q: q.nprobes(20).refine_factor(10),
        ),
    ]
    tune = None
    failures = []
    for label, config, tuner in attempts:
        try:
            table.create_index("vector", config=config)
            peer.index, tune = label, tuner
            break
        except Exception as exc:  # noqa: BLE001 - try the next index type
            failures.append(f"{label.split(' ')[0]}: {short(exc, 60)}")
    if tune is None:
        peer.index = "no index (flat scan)"
        tune = lambda q: q  # noqa: E731
    if failures:
        peer.notes.append("lancedb index attempts failed: " + "; ".join(failures))

    def query(i: int):
        return tune(table.search(queries[i]).distance_type("cosine").limit(K)).select(["id", "_distance"])

    query(0).to_arrow()  # index opened
    peer.build_s = time.perf_counter() - started
    peer.notes.append("lancedb: build time = write the Lance table + create the index + one query")

    def search(i: int) -> list[int]:
        return query(i).to_arrow().column("id").to_pylist()

    peer.search = search
    return peer


def peer_milvus(path: Path, params: dict, ef: int, queries: np.ndarray, tmp: Path) -> Peer:
    from pymilvus import DataType, MilvusClient

    peer = Peer(
        "milvus-lite",
        f"{version_of('milvus-lite')} (pymilvus {version_of('pymilvus')})",
        f"HNSW COSINE, M={params['m']}, efConstruction={params['ef_construction']}, ef={ef}; .db file",
    )
    client = MilvusClient(str(tmp / "milvus.db"))
    started = time.perf_counter()
    ids, matrix = read_parquet_vectors(path)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=matrix.shape[1])
    index_params = client.prepare_index_params()
    index_params.add_index(
        field_name="vector",
        index_type="HNSW",
        metric_type="COSINE",
        params={"M": params["m"], "efConstruction": params["ef_construction"]},
    )
    client.create_collection("bench_vectors", schema=schema, index_params=index_params)
    batch = 5000
    id_list = ids.tolist()
    for start in range(0, len(ids), batch):
        client.insert(
            "bench_vectors",
            [{"id": id_list[j], "vector": matrix[j]} for j in range(start, min(start + batch, len(ids)))],
        )
    client.flush("bench_vectors")
    client.load_collection("bench_vectors")
    search_params = {"params": {"ef": ef}}
    client.search("bench_vectors", data=[queries[0]], limit=K, search_params=search_params, output_fields=["id"])
    peer.build_s = time.perf_counter() - started
    described = client.describe_index("bench_vectors", "vector")
    peer.notes.append(
        f"milvus-lite: inserted in batches of {batch} rows, then flush + load + one query; index "
        f"{described.get('index_type')} state={described.get('state')} indexed_rows={described.get('indexed_rows')}"
    )

    def search(i: int) -> list[int]:
        hits = client.search(
            "bench_vectors", data=[queries[i]], limit=K, search_params=search_params, output_fields=["id"]
        )
        return [int(h["id"]) for h in hits[0]]

    def close() -> None:
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_all()

    peer.search, peer.close = search, close
    return peer


def wait_quiet(limit_s: float = SETTLE_LIMIT_S, window_s: float = 0.5) -> float:
    """Seconds until this process stops burning CPU in the background (less than 10% of one core
    over ``window_s``): peers that compact or merge index segments after a build keep working
    in their own threads, which would slow every engine measured after them."""
    started = time.perf_counter()
    while True:
        before = os.times()
        time.sleep(window_s)
        after = os.times()
        busy = (after.user - before.user) + (after.system - before.system)
        elapsed = time.perf_counter() - started
        if busy < 0.1 * window_s:
            return max(0.0, elapsed - window_s)
        if elapsed > limit_s:
            return float("inf")


PEER_BUILDERS: dict[str, tuple[str, Callable[..., Peer]]] = {
    "hnswlib": ("hnswlib", peer_hnswlib),
    "chromadb": ("chromadb", peer_chromadb),
    "lancedb": ("lancedb", peer_lancedb),
    "milvus": ("milvus-lite", peer_milvus),
}
