"""Probe: VectorCore against raw FAISS, in process, on the same vectors. One command.

    python bench/vector_core_probe.py [--n 100000] [--dim 384] [--repeat 1] [--queries 500]

Data: ``--n`` unit vectors around ``--clusters`` random centres (gaussian spread
``--spread`` relative to the centre's norm, so a point's cosine to its centre is
about 1/sqrt(1 + spread^2) -- 0.55 at the default 1.5, a text-embedding-like
neighbourhood), written once to ``bench/data/vectors-<n>x<dim>.parquet``
(id, fixed_size_list<float32> vector). Queries are fresh draws from the same clusters.

* build: raw FAISS reads the Parquet file and runs ``IndexHNSWFlat.add`` (same M and
  efConstruction); the core reads it in ``build_batch_rows`` batches of ``Item`` and
  runs ``add_batches`` -- validation, the write log, FAISS adds, and the final
  checkpoint (vectors.parquet + hnsw.faiss + manifest on a local lake). Target:
  < 60 s and <= 1.15x raw FAISS.
* search: recall@10 against exact search (IndexFlatIP) and single-query latency,
  per efSearch, core vs raw FAISS (one thread), interleaved query by query. The
  chosen efSearch is the smallest reaching recall >= 0.95. Target: core p50 < 1 ms.
* filtered: 50%, 10%, 1% of the corpus allowed (string ids), recall against exact
  search over the allowed rows, p50, and which path ran (exact or graph). Beside it,
  raw FAISS with the same bitmap selector at the plain efSearch, and the core's graph
  walk forced (no exact fallback), to show what the fallback and widening buy.
* restart: a fresh VectorCore over the same lake (deserializes the sidecar).

Reports; never asserts. Tables are also kept in bench/data/vector_core_probe.table.txt.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from benchlib import DATA, Table, count_label, install_signal_handlers, interleaved, log, median, percentile

from lakehouse.servers.settings import VectorSettings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.vector.core import VectorCore
from lakehouse.servers.vector.model import Item

DEFAULT_N = 100_000
DEFAULT_DIM = 384
DEFAULT_CLUSTERS = 1000
DEFAULT_SPREAD = 1.5
DEFAULT_QUERIES = 500
DEFAULT_REPEAT = 1
EF_VALUES = (16, 24, 32, 48, 64, 96, 128)
FILTER_FRACTIONS = (0.5, 0.1, 0.01)
K = 10
SEED = 7
RECALL_TARGET = 0.95
BUILD_RATIO_TARGET = 1.15
BUILD_SECONDS_TARGET = 60.0
SEARCH_P50_TARGET_MS = 1.0
CORPUS = "bench"


def clustered(
    n: int, dim: int, clusters: int, spread: float, rng: np.random.Generator, centres: np.ndarray
) -> np.ndarray:
    labels = rng.integers(0, clusters, n)
    points = centres[labels] + (spread / np.sqrt(dim)) * rng.standard_normal((n, dim), dtype=np.float32)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def dataset(args: argparse.Namespace) -> tuple[Path, np.ndarray]:
    """The corpus file (written once) and the queries, both from one seed."""
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    queries = clustered(args.queries, args.dim, args.clusters, args.spread, rng, centres)
    path = DATA / f"vectors-{count_label(args.n)}x{args.dim}-c{args.clusters}-s{args.spread:g}.parquet"
    if not path.exists():
        vectors = clustered(args.n, args.dim, args.clusters, args.spread, rng, centres)
        table = pa.table(
            {
                "id": pa.array([f"v{i}" for i in range(args.n)]),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), args.dim),
            }
        )
        DATA.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="none", use_dictionary=False)
        log(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return path, queries


def read_vectors(table: pa.Table) -> np.ndarray:
    column = table.column("vector").combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1)


def read_matrix(path: Path) -> np.ndarray:
    return read_vectors(pq.read_table(path, columns=["vector"]))


def item_batches(path: Path, batch_rows: int) -> Iterator[list[Item]]:
    """What a servicer building from a dataset feeds ``add_batches``: the file is read the
    way raw FAISS reads it (``iter_batches`` is ~4x slower on fixed-size lists), then
    sliced into ``Item`` batches."""
    table = pq.read_table(path).combine_chunks()
    ids = table.column("id").to_pylist()
    vectors = read_vectors(table)
    for start in range(0, len(ids), batch_rows):
        yield [Item(ids[i], vectors[i]) for i in range(start, min(start + batch_rows, len(ids)))]


class Builds:
    """The two build variants; each keeps its latest result for the search phase and records
    its own timed span (setup and the core's background checkpoint are outside it)."""

    def __init__(self, path: Path, settings: VectorSettings, lake: Path) -> None:
        self.path, self.settings, self.lake = path, settings, lake
        self.raw: faiss.IndexHNSWFlat | None = None
        self.core: VectorCore | None = None
        self.times: dict[str, list[float]] = {"raw": [], "core": [], "checkpoint": []}

    def build_raw(self) -> None:
        self.raw = None
        gc.collect()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        started = time.perf_counter()
        matrix = read_matrix(self.path)
        index = faiss.IndexHNSWFlat(matrix.shape[1], self.settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.settings.ef_construction
        index.add(matrix)
        self.times["raw"].append(time.perf_counter() - started)
        self.raw = index

    def build_core(self) -> None:
        """Timed: reading the file into Items and ``add_batches`` until it returns (every item
        searchable and durable in the write log). Then, untimed, the background checkpoint
        that folds the log into a generation is waited for (and reported on its own)."""
        if self.core is not None:
            self.core.close()
            self.core = None
        shutil.rmtree(self.lake, ignore_errors=True)
        gc.collect()
        core = VectorCore(LocalObjectStore("lake", self.lake / "lake"), self.settings, None, self.lake / "state")
        dim = pq.read_schema(self.path).field("vector").type.list_size
        core.create_corpus(CORPUS, dimension=dim, metric="cosine")
        started = time.perf_counter()
        core.add_batches(CORPUS, item_batches(self.path, self.settings.build_batch_rows))
        added = time.perf_counter()
        core.wait_for_build(CORPUS)
        self.times["core"].append(added - started)
        self.times["checkpoint"].append(time.perf_counter() - added)
        self.core = core


def exact_ids(vectors: np.ndarray, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    base = vectors if rows is None else vectors[rows]
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    _, found = flat.search(queries, K)
    return found if rows is None else rows[found]


def recall(got: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(t.tolist())) / K for g, t in zip(got, truth, strict=True)]))


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    out = call()
    return (time.perf_counter() - started) * 1000, out


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def label(item_id: str) -> int:
    return int(item_id[1:])


def search_rows(table: Table, builds: Builds, vectors: np.ndarray, queries: np.ndarray) -> int:
    truth = exact_ids(vectors, queries)
    faiss.omp_set_num_threads(1)
    chosen = 0
    for ef in EF_VALUES:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        core_ms, raw_ms, core_got, raw_got = [], [], [], []
        for q in queries:  # interleaved query by query
            started = time.perf_counter()
            result = builds.core.search(CORPUS, vector=q, k=K, ef_search=ef)
            core_ms.append(ms_since(started))
            started = time.perf_counter()
            _, found = builds.raw.search(q[None, :], K, params=params)
            raw_ms.append(ms_since(started))
            core_got.append([label(h.id) for h in result.hits])
            raw_got.append(found[0].tolist())
        core_recall, raw_recall = recall(core_got, truth), recall(raw_got, truth)
        first = not chosen and core_recall >= RECALL_TARGET
        chosen = chosen or (ef if first else 0)
        p50 = median(core_ms)
        table.add(
            f"efSearch={ef}{' (chosen)' if first else ''}: recall@10 / p50 / p90 ms",
            f"{core_recall:.4f} / {p50:.3f} / {percentile(core_ms, 90):.3f}",
            f"{raw_recall:.4f} / {median(raw_ms):.3f} / {percentile(raw_ms, 90):.3f}",
            f"{p50 / median(raw_ms):.2f}x",
            f"p50 < {SEARCH_P50_TARGET_MS} ms" if first else "",
            (p50 < SEARCH_P50_TARGET_MS) if first else None,
        )
    return chosen


def filtered_rows(table: Table, builds: Builds, vectors: np.ndarray, queries: np.ndarray, ef: int) -> None:
    rng = np.random.default_rng(SEED + 1)
    corpus = builds.core._get(CORPUS)  # the forced-graph variant calls the generation directly
    graph_only = replace(corpus.tuning.search, exact_max_ids=0, exact_max_fraction=0.0)
    n = len(vectors)
    for fraction in FILTER_FRACTIONS:
        rows = np.sort(rng.choice(n, int(n * fraction), replace=False))
        allowed = [f"v{r}" for r in rows.tolist()]
        truth = exact_ids(vectors, queries, rows)
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        bits = np.packbits(mask, bitorder="little")
        raw_params = faiss.SearchParametersHNSW(efSearch=ef, sel=faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits)))
        core_ms, raw_ms, graph_ms, core_got, raw_got, graph_got, exact = [], [], [], [], [], [], set()
        for q in queries:  # core and raw FAISS interleaved query by query
            started = time.perf_counter()
            result = builds.core.search(CORPUS, vector=q, k=K, ef_search=ef, allowed_ids=allowed)
            core_ms.append(ms_since(started))
            started = time.perf_counter()
            _, found = builds.raw.search(q[None, :], K, params=raw_params)
            raw_ms.append(ms_since(started))
            core_got.append([label(h.id) for h in result.hits])
            exact.add(result.exact)
            raw_got.append(found[0].tolist())
        for q in queries:  # apart: its wide walks would evict the others' working set from the caches
            started = time.perf_counter()
            found = corpus.active.search(q[None, :], K, ef, allowed, None, graph_only)
            graph_ms.append(ms_since(started))
            graph_got.append([label(h.id) for h in found.hits[0]])
        path = "exact" if exact == {True} else "graph" if exact == {False} else "mixed"
        table.add(
            f"filtered {fraction:.0%} ({len(rows)} ids): recall@10 / p50 ms [{path}]",
            f"{recall(core_got, truth):.4f} / {median(core_ms):.3f}",
            f"{recall(raw_got, truth):.4f} / {median(raw_ms):.3f}",
            f"{median(core_ms) / median(raw_ms):.2f}x",
            f"recall >= {RECALL_TARGET}",
            recall(core_got, truth) >= RECALL_TARGET,
        )
        if path == "exact":
            table.add(
                f"  (graph walk forced, ef widened) {fraction:.0%}",
                f"{recall(graph_got, truth):.4f} / {median(graph_ms):.3f}",
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=DEFAULT_N)
    parser.add_argument("--dim", type=int, default=DEFAULT_DIM)
    parser.add_argument("--clusters", type=int, default=DEFAULT_CLUSTERS)
    parser.add_argument("--spread", type=float, default=DEFAULT_SPREAD)
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="timed builds of each variant")
    parser.add_argument("--hnsw-m", type=int, default=0, help="0: VectorSettings default")
    parser.add_argument("--ef-construction", type=int, default=0, help="0: VectorSettings default")
    args = parser.parse_args()
    install_signal_handlers()
    settings = VectorSettings()
    settings = settings.model_copy(
        update={
            "hnsw_m": args.hnsw_m or settings.hnsw_m,
            "ef_construction": args.ef_construction or settings.ef_construction,
        }
    )
    path, queries = dataset(args)
    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-vector-bench-"))
    builds = Builds(path, settings, tmp)
    try:
        interleaved({"raw FAISS": builds.build_raw, "VectorCore": builds.build_core}, args.repeat, warmup=0)
        core_s, raw_s = median(builds.times["core"]), median(builds.times["raw"])
        checkpoint_s = median(builds.times["checkpoint"])
        table = Table(
            f"VectorCore vs raw FAISS: {count_label(args.n)} x {args.dim}, {args.clusters} clusters, "
            f"M={settings.hnsw_m}, efConstruction={settings.ef_construction}, {os.cpu_count() or 1} cpus"
        )
        ok = core_s < BUILD_SECONDS_TARGET and core_s <= BUILD_RATIO_TARGET * raw_s
        table.add(
            "build from Parquet: searchable + durable (s)",
            f"{core_s:.2f}",
            f"{raw_s:.2f}",
            f"{core_s / raw_s:.2f}x",
            f"< {BUILD_SECONDS_TARGET:.0f} s, <= {BUILD_RATIO_TARGET}x",
            ok,
        )
        table.add("  then background checkpoint (s)", f"{checkpoint_s:.2f}")
        table.add(
            "  build + checkpoint (s)",
            f"{core_s + checkpoint_s:.2f}",
            f"{raw_s:.2f}",
            f"{(core_s + checkpoint_s) / raw_s:.2f}x",
        )
        vectors = read_matrix(path)
        chosen = search_rows(table, builds, vectors, queries)
        filtered_rows(table, builds, vectors, queries, chosen or settings.ef_search)
        builds.core.close()
        ms, core = timed(lambda: VectorCore(LocalObjectStore("lake", tmp / "lake"), settings, None, tmp / "state"))
        table.add("restart: load corpus (sidecar, no rebuild) ms", f"{ms:.0f}")
        info = core.get_corpus(CORPUS)
        table.add("bytes on the lake (MB)", f"{info.bytes / 1e6:.0f}")
        core.close()
        table.notes.append(f"builds: median of {args.repeat}, interleaved with raw FAISS (--repeat)")
        table.notes.append(f"queries: {len(queries)} single-query searches, one thread; chosen efSearch = {chosen}")
        table.notes.append("baseline of filtered rows: raw FAISS HNSW with the same bitmap selector, plain efSearch")
        table.emit("vector_core_probe")
    finally:
        if builds.core is not None:
            builds.core.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
