"""Embedding drift on 2 x 100K x 384 vectors: wall time and memory, beside a plain scipy loop.

    python bench/drift.py [--rows 100000] [--dim 384] [--rounds 3]

In process, no servers (the statistics are the cost; gRPC carries a small report):

a. ``DriftCore.embedding_drift`` end to end over two stored generations of a corpus on a
   local lake (each ``vectors.parquet`` read and checksummed, tombstones dropped, then the
   default method: KS per dimension + 32 random projections, Benjamini-Hochberg corrected,
   the centroid shift); the generation has a planted shift in 8 of its dimensions.
b. the per-dimension tests alone, ``servers/drift/embedding.ks_columns`` (``ks_2samp``
   on blocks of ``drift.embedding_chunk_columns`` columns, ``axis=0``), against the plain
   loop ``[scipy.stats.ks_2samp(a[:, j], b[:, j]) for j in range(dim)]``: same p-values.

Rounds alternate the variants (order reversed every other round); medians reported, and
the peak of Python-tracked memory (numpy arrays included) of one drift run. Reports,
never asserts.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import benchlib
import numpy as np
from benchlib import Table, log, median
from scipy import stats

from lakehouse.api.drift import EmbeddingDriftQuery, GenerationSample
from lakehouse.api.matrix import CorpusListing, HostedCorpus
from lakehouse.api.vector import CorpusInfo
from lakehouse.servers.drift import embedding
from lakehouse.servers.drift.core import DriftCore
from lakehouse.servers.settings import DriftSettings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.vector.index import Rows
from lakehouse.servers.vector.model import HnswParams
from lakehouse.servers.vector.persistence import KIND_CHECKPOINT, Manifest, write_generation

SEED = 36
CORPUS = "drift_bench"
SHIFTED_DIMS = 8
SHIFT = 0.02  # in units of a component's spread (unit vectors: ~1/sqrt(dim))
TARGET_S = 30.0


def unit_vectors(rows: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[:, :SHIFTED_DIMS] += shift
    return x


def store(lake: LocalObjectStore, gen: int, vectors: np.ndarray) -> None:
    n, dim = vectors.shape
    rows = Rows([f"i{i}" for i in range(n)], vectors, ["{}"] * n, [None] * n, np.zeros(n, bool))
    manifest = Manifest(CORPUS, gen, KIND_CHECKPOINT, HnswParams(dim, "cosine", 16, 64), n, n, 0, "")
    write_generation(lake, manifest, b"", rows)


class Listing:
    def __init__(self, info: CorpusInfo) -> None:
        self.info = info

    def list_corpora(self) -> CorpusListing:
        return CorpusListing([HostedCorpus(self.info, "local")], [])


class NoReports:
    def ingest(self, spec, chunks):
        return object()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    benchlib.install_signal_handlers()
    home = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    try:
        lake = LocalObjectStore("lake", home / "lake")
        a = unit_vectors(args.rows, args.dim, SEED)
        b = unit_vectors(args.rows, args.dim, SEED + 1, shift=SHIFT / np.sqrt(args.dim))
        store(lake, 1, a)
        store(lake, 2, b)
        info = CorpusInfo(CORPUS, args.dim, "cosine", 16, 64, "", args.rows, 0, 2, 1, (1, 2), 0, False, None)
        settings = DriftSettings(embedding_max_sample=args.rows)
        core = DriftCore(lake, lambda: Listing(info), NoReports, settings)
        query = EmbeddingDriftQuery(GenerationSample(CORPUS), GenerationSample(CORPUS))
        chunk = settings.embedding_chunk_columns

        def drift_run():
            return core.embedding_drift(query)

        def ours():
            return embedding.ks_columns(a, b, chunk, settings.embedding_workers)

        def ours_one():
            return embedding.ks_columns(a, b, chunk, 1)

        def loop():
            return [stats.ks_2samp(a[:, j], b[:, j]) for j in range(args.dim)]

        log(f"{args.rows} x {args.dim} per side; warm-up")
        report = drift_run()
        mine, theirs = ours(), loop()
        same = np.allclose(mine[1], [r.pvalue for r in theirs]) and np.allclose(mine[0], [r.statistic for r in theirs])
        times: dict[str, list[float]] = {"drift": [], "ours": [], "ours_one": [], "loop": []}
        for r in range(args.rounds):
            order = [("drift", drift_run), ("ours", ours), ("ours_one", ours_one), ("loop", loop)]
            for name, fn in order if r % 2 == 0 else reversed(order):
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
            log(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))
        tracemalloc.start()
        drift_run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        table = Table(f"embedding drift, 2 x {benchlib.count_label(args.rows)} x {args.dim} (in process)")
        t_drift = median(times["drift"])
        table.add(
            "EmbeddingDrift, 2 stored generations (s)",
            f"{t_drift:.2f}",
            "",
            "",
            f"< {TARGET_S:.0f} s",
            t_drift < TARGET_S,
        )
        table.add(
            "  peak traced memory of one run (MB)",
            f"{peak / 2**20:.0f}",
            f"{2 * a.nbytes / 2**20:.0f} (the vectors)",
            f"{peak / (2 * a.nbytes):.2f}x",
        )
        t_loop = median(times["loop"])
        for key, label in (("ours", f"{settings.embedding_workers} threads"), ("ours_one", "1 thread")):
            t = median(times[key])
            table.add(
                f"KS per dimension, {args.dim} tests, {label} (s)",
                f"{t:.2f}",
                f"{t_loop:.2f} (scipy loop)",
                f"{t / t_loop:.2f}x",
            )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        table.add("  process peak RSS (MB)", f"{rss:.0f}", "", "")
        table.notes.append(
            f"report: drifted={report.drifted}, {report.rejected}/{report.tests} rejected ({report.correction}), "
            f"centroid cosine {report.centroid_cosine:.5f}, L2 {report.centroid_l2:.5f}"
        )
        table.notes.append(f"per-dimension statistics and p-values identical to the scipy loop: {same}")
        table.notes.append(f"{benchlib.environment()}; {json.dumps({'rounds': args.rounds, 'chunk_columns': chunk})}")
        table.emit("drift")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
