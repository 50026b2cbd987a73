"""Matrix benchmark: filtered search, matrix search over 4 corpora, the hybrid SQL gate,
SearchBatch and concurrent adds, each side by side with its baseline in one run.

    python bench/matrix.py [--n 100000] [--dim 384] [--queries 300] [--ef 32]
                           [--add-items 20000] [--sections filter,matrix,hybrid,batch,adds]

Data: ``bench/vector.py``'s generated unit vectors (``--n`` x ``--dim`` around gaussian
centres, plus held-out queries), written with one more column, ``sel``: a random
permutation of 0..99 per row, so ``{"sel": {"lt": 50}}`` selects 50% of the rows, ``lt 10``
10% and ``lt 1`` 1%, and ``SELECT id ... WHERE sel < 10`` is the hybrid gate's 10%.

1. filtered search, 100K corpus, gRPC direct: p50 of ``Search`` with the metadata filter
   at 50%, 10% and 1% against the same searches unfiltered (interleaved query by query),
   recall@10 against exact search over the filtered rows. Target: p50 <= 2x unfiltered,
   recall >= 0.95. The same selectivities as an ``allowed_ids`` list are shown beside.
2. matrix over 4 corpora of n/4 items (the same vectors split four ways): p50 of
   ``MatrixService.Search`` (gRPC direct) against each of the four single-corpus
   ``Search`` calls alone, interleaved. Target: <= 1.5x the slowest single corpus, <= 3 ms.
3. hybrid: ``MatrixService.Search`` with ``sql`` selecting 10% of the 100K corpus, against
   the SQL alone (QueryService.Sql) plus the filtered search alone (``Search`` with those
   ids as ``allowed_ids``). Target: p50 <= 1.3x their sum.
4. SearchBatch, 64 queries per call on the 100K corpus (gRPC direct), against raw FAISS
   searching the same 64 queries in one call on the very same graph (the corpus's
   ``hnsw.faiss`` sidecar loaded from the lake), same efSearch, all cores. Target: >= 50%
   of raw FAISS QPS.
5. adds: aggregate AddItems throughput with 1, 2 and 4 corpora written concurrently (one
   client thread per corpus, batches of 1,000), a second system with
   ``vector.build_threads=1`` so each add uses one FAISS thread and any scaling is the
   service's own (2 cores here: expect ~2x from 1 to 2 corpora, no more from 2 to 4).

Reports; never asserts. Tables are also kept in ``bench/data/matrix.table.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import glob
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

# The raw FAISS baselines run in this process on every core. Between calls libgomp's idle
# workers spin by default, on the cores the server needs for the next measured call (about
# 4 ms of a 64-query batch here): let them sleep. Set before FAISS is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import benchlib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from benchlib import DATA, Table, interleave_queries, log, percentile, running_system
from vector import RECALL_TARGET, SEED, ensure_data, exact_topk, ms, recall
from vector_peers import K, read_parquet_vectors

CORPUS = "bench_matrix"
DATASET = "bench_matrix"
SHARDS = 4
SELECTIVITIES = (50, 10, 1)
BATCH = 64
HYBRID_PERCENT = 10
ADD_BATCH = 1000


def write_dataset(corpus_path: Path, out: Path, n: int) -> np.ndarray:
    """The bench vectors plus ``sel`` (0..99, uniformly shuffled); returns ``sel``."""
    table = pq.read_table(corpus_path)
    sel = np.random.default_rng(SEED + 11).permutation(np.arange(n) % 100).astype(np.int64)
    pq.write_table(table.append_column("sel", pa.array(sel)), out)
    return sel


def build(lh, corpus: str, dataset: str, dim: int) -> None:
    with contextlib.suppress(Exception):
        lh.delete_corpus(corpus)
    lh.create_corpus(corpus, dimension=dim, metric="cosine")
    started = time.perf_counter()
    done = lh.build_corpus(corpus, dataset, "id", [], ["sel"], vector_column="embedding")
    log(f"built {corpus}: {done.items:,} items in {time.perf_counter() - started:.1f}s")


def bench_filter(ctx: SimpleNamespace) -> Table:
    table = Table(
        f"1. filtered search, {ctx.n:,} items, k={K}, efSearch={ctx.ef}, gRPC direct "
        "(baseline: the same queries unfiltered, interleaved)"
    )
    queries = ctx.qlists[: ctx.count]
    for percent in SELECTIVITIES:
        rows = np.flatnonzero(ctx.sel < percent)
        truth = exact_topk(ctx.vectors, ctx.queries[: ctx.count], rows)
        where = {"sel": {"lt": percent}}
        allowed = [str(r) for r in rows.tolist()]
        exact: set[bool] = set()

        def filtered(i: int, where=where, exact=exact) -> list[int]:
            resp = ctx.lh.search(CORPUS, vector=queries[i], k=K, ef_search=ctx.ef, filter=where)
            exact.add(resp.exact)
            return [int(r.id) for r in resp.results]

        def unfiltered(i: int) -> list[int]:
            return [int(r.id) for r in ctx.lh.search(CORPUS, vector=queries[i], k=K, ef_search=ctx.ef).results]

        def by_ids(i: int, allowed=allowed) -> list[int]:
            resp = ctx.lh.search(CORPUS, vector=queries[i], k=K, ef_search=ctx.ef, allowed_ids=allowed)
            return [int(r.id) for r in resp.results]

        variants = {"filter": filtered, "unfiltered": unfiltered, "allowed_ids": by_ids}
        interleave_queries(variants, 10)
        exact.clear()
        lat, got = interleave_queries(variants, ctx.count)
        path = "exact" if exact == {True} else "graph" if exact == {False} else "mixed"
        p50, base = percentile(lat["filter"], 50), percentile(lat["unfiltered"], 50)
        rec = recall(got["filter"], truth)
        table.add(
            f"{percent}% selected ({len(rows):,}): recall@10 [{path}]",
            f"{rec:.4f}",
            "",
            "",
            f">= {RECALL_TARGET}",
            rec >= RECALL_TARGET,
        )
        table.add(
            "  p50 / p90 ms: filter | unfiltered",
            ms(lat["filter"]),
            ms(lat["unfiltered"]),
            f"{p50 / base:.2f}x",
            "<= 2x",
            p50 <= 2 * base,
        )
        table.add(
            "  p50 / p90 ms: the same rows as allowed_ids",
            ms(lat["allowed_ids"]),
            "",
            f"{percentile(lat['allowed_ids'], 50) / base:.2f}x",
        )
    return table


def bench_matrix(ctx: SimpleNamespace) -> Table:
    shards = [f"{CORPUS}_{s}" for s in range(SHARDS)]
    table = Table(
        f"2. matrix search over {SHARDS} corpora of {ctx.n // SHARDS:,} items, k={K}, k_per_corpus={K}, "
        f"efSearch={ctx.ef}, gRPC direct (baseline: each single-corpus Search alone, interleaved)"
    )
    queries = ctx.qlists[: ctx.count]

    def matrix(i: int) -> list[int]:
        resp = ctx.lh.matrix_search(vector=queries[i], corpora=shards, k=K, k_per_corpus=K, ef_search=ctx.ef)
        return [int(r.id) for r in resp.results]

    def single(name: str):
        def call(i: int) -> list[int]:
            return [int(r.id) for r in ctx.lh.search(name, vector=queries[i], k=K, ef_search=ctx.ef).results]

        return call

    variants = {"matrix": matrix, **{name: single(name) for name in shards}}
    interleave_queries(variants, 10)
    lat, got = interleave_queries(variants, ctx.count)
    truth = exact_topk(ctx.vectors, ctx.queries[: ctx.count])
    slowest = max(percentile(lat[s], 50) for s in shards)
    p50 = percentile(lat["matrix"], 50)
    table.add("matrix recall@10 against exact search over all rows", f"{recall(got['matrix'], truth):.4f}")
    for name in shards:
        table.add(f"  {name} alone: p50 / p90 ms", ms(lat[name]))
    table.add(
        "matrix p50 / p90 ms | slowest single p50",
        ms(lat["matrix"]),
        f"{slowest:.3f}",
        f"{p50 / slowest:.2f}x",
        "<= 1.5x",
        p50 <= 1.5 * slowest,
    )
    table.add("matrix p50 (ms)", f"{p50:.3f}", "", "", "<= 3 ms", p50 <= 3.0)
    floor = _matrix_floor(ctx, shards)
    if floor is not None:
        one, pooled, threads = floor
        bound = slowest - one + pooled
        table.add(
            f"  floor: slowest single - 1 raw walk ({one:.3f}) + {SHARDS} raw walks, {threads} threads ({pooled:.3f})",
            f"{bound:.3f}",
            f"{slowest:.3f}",
            f"{bound / slowest:.2f}x",
        )
        table.notes.append(
            "floor: what the matrix would cost with no work of its own beyond the extra FAISS walks, run in "
            "parallel on every core (raw FAISS on the same graphs, one OpenMP thread per walk)"
        )
    return table


def _graph(ctx: SimpleNamespace, corpus: str):
    """The corpus's newest HNSW graph as stored on the lake, loaded here (None: not found)."""
    import faiss

    found = sorted(glob.glob(str(ctx.home / "**" / "corpora" / corpus / "gen-*" / "hnsw.faiss"), recursive=True))
    return faiss.deserialize_index(np.fromfile(found[-1], dtype=np.uint8)) if found else None


def _matrix_floor(ctx: SimpleNamespace, shards: list[str]) -> tuple[float, float, int] | None:
    """p50 ms of the slowest corpus's raw walk alone, of all corpora's walks spread over a
    pool of every core, and the pool's size."""
    from concurrent.futures import ThreadPoolExecutor

    import faiss

    graphs = [_graph(ctx, name) for name in shards]
    if any(g is None for g in graphs):
        return None
    params = faiss.SearchParametersHNSW(efSearch=ctx.ef)
    threads = os.cpu_count() or 1
    queries = ctx.queries[: ctx.count]

    def walk(graph, i: int) -> None:
        faiss.omp_set_num_threads(1)  # per thread in libgomp
        graph.search(queries[i : i + 1], K, params=params)

    with ThreadPoolExecutor(threads) as pool:
        variants = {
            **{f"one_{n}": functools.partial(walk, graph) for n, graph in enumerate(graphs)},
            "pooled": lambda i: list(pool.map(walk, graphs, [i] * len(graphs))),
        }
        interleave_queries(variants, 10)
        lat, _ = interleave_queries(variants, ctx.count)
    one = max(percentile(lat[f"one_{n}"], 50) for n in range(len(graphs)))
    return one, percentile(lat["pooled"], 50), threads


def bench_hybrid(ctx: SimpleNamespace) -> Table:
    sql = f"SELECT id FROM {DATASET} WHERE sel < {HYBRID_PERCENT}"
    rows = np.flatnonzero(ctx.sel < HYBRID_PERCENT)
    allowed = [str(r) for r in rows.tolist()]
    queries = ctx.qlists[: ctx.count]
    table = Table(
        f"3. hybrid: sql selecting {HYBRID_PERCENT}% ({len(rows):,} ids) of {ctx.n:,}, k={K}, efSearch={ctx.ef}, "
        "gRPC direct (baseline: the SQL alone + the filtered search alone)"
    )

    def hybrid(i: int) -> list[int]:
        resp = ctx.lh.matrix_search(vector=queries[i], corpora=[CORPUS], sql=sql, k=K, k_per_corpus=K, ef_search=ctx.ef)
        return [int(r.id) for r in resp.results]

    def sql_alone(i: int) -> list[int]:
        ctx.lh.query(sql)
        return []

    def search_alone(i: int) -> list[int]:
        resp = ctx.lh.search(CORPUS, vector=queries[i], k=K, ef_search=ctx.ef, allowed_ids=allowed)
        return [int(r.id) for r in resp.results]

    variants = {"hybrid": hybrid, "sql": sql_alone, "search": search_alone}
    interleave_queries(variants, 5)
    count = min(ctx.count, 100)
    lat, got = interleave_queries(variants, count)
    truth = exact_topk(ctx.vectors, ctx.queries[:count], rows)
    both = percentile(lat["sql"], 50) + percentile(lat["search"], 50)
    p50 = percentile(lat["hybrid"], 50)
    table.add(
        "hybrid recall@10 against exact over the selected rows",
        f"{recall(got['hybrid'], truth):.4f}",
        "",
        "",
        ">= 0.99",
        recall(got["hybrid"], truth) >= 0.99,
    )
    table.add("  SQL alone (Arrow stream): p50 / p90 ms", ms(lat["sql"]))
    table.add("  filtered search alone (allowed_ids): p50 / p90 ms", ms(lat["search"]))
    table.add(
        "hybrid p50 / p90 ms | sum of the two p50s",
        ms(lat["hybrid"]),
        f"{both:.3f}",
        f"{p50 / both:.2f}x",
        "<= 1.3x",
        p50 <= 1.3 * both,
    )
    return table


def bench_batch(ctx: SimpleNamespace) -> Table:
    import faiss

    raw = _graph(ctx, CORPUS)
    table = Table(
        f"4. SearchBatch, {BATCH} queries per call, k={K}, efSearch={ctx.ef}, gRPC direct "
        "(baseline: raw FAISS, one search call of the same 64 queries on the same graph, all cores)"
    )
    if raw is None:
        table.add("raw FAISS graph", "not found on the lake")
        return table
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    batches = [ctx.queries[i : i + BATCH] for i in range(0, len(ctx.queries) - BATCH + 1, BATCH)] or [
        ctx.queries[:BATCH]
    ]
    lists = [[q.tolist() for q in b] for b in batches]
    params = faiss.SearchParametersHNSW(efSearch=ctx.ef)

    def lakehouse(i: int) -> list[int]:  # the batch as FAISS takes it: one (64, d) ndarray (query_matrix)
        responses = ctx.lh.search_batch(CORPUS, batches[i % len(batches)], k=K, ef_search=ctx.ef)
        return [int(r.id) for r in responses[0].results]

    def lakehouse_lists(i: int) -> list[int]:  # each query a list of floats (repeated float queries)
        responses = ctx.lh.search_batch(CORPUS, lists[i % len(lists)], k=K, ef_search=ctx.ef)
        return [int(r.id) for r in responses[0].results]

    def raw_faiss(i: int) -> list[int]:
        _, labels = raw.search(batches[i % len(batches)], K, params=params)
        return labels[0].tolist()

    variants = {"lakehouse": lakehouse, "lists": lakehouse_lists, "raw": raw_faiss}
    interleave_queries(variants, 3)
    calls = max(120, len(batches) * 4)  # the box is noisy: enough calls for a stable median
    lat, _ = interleave_queries(variants, calls)
    qps = {name: BATCH * 1000 / percentile(values, 50) for name, values in lat.items()}
    table.add("p50 per call of 64 (ms)", f"{percentile(lat['lakehouse'], 50):.2f}", f"{percentile(lat['raw'], 50):.2f}")
    ratio = qps["lakehouse"] / qps["raw"]
    table.add(
        "QPS (64 / p50)", f"{qps['lakehouse']:,.0f}", f"{qps['raw']:,.0f}", f"{ratio:.2f}x", ">= 0.5x", ratio >= 0.5
    )
    table.add(
        "the same, queries as lists of floats",
        f"{qps['lists']:,.0f}",
        f"{qps['raw']:,.0f}",
        f"{qps['lists'] / qps['raw']:.2f}x",
    )
    table.notes.append("lakehouse: the batch as one ndarray (SearchBatchRequest.query_matrix); lists: repeated float")
    return table


def bench_adds(args: argparse.Namespace, vectors: np.ndarray) -> Table:
    from lakehouse.client import LakehouseClient

    table = Table(
        f"5. concurrent adds, {args.add_items:,} items per corpus in batches of {ADD_BATCH}, one client thread per "
        "corpus, gRPC direct, vector.build_threads=1 (one FAISS thread per add)"
    )
    items = vectors[: args.add_items]
    with running_system({"LAKEHOUSE_VECTOR__BUILD_THREADS": "1"}) as system:
        address = system.state.grpc_upstream
        rates = {}
        for corpora in (1, 2, 4):
            names = [f"adds_{corpora}_{c}" for c in range(corpora)]
            with LakehouseClient(address) as lh:
                for name in names:
                    lh.create_corpus(name, dimension=vectors.shape[1])

            def writer(name: str, ready: threading.Event) -> None:
                from lakehouse.v1 import vector_pb2

                # Requests built from numpy rows directly: the client's own cost stays small
                # (a dict per item through json_format would be the bottleneck, not the server).
                requests = [
                    vector_pb2.AddItemsRequest(
                        corpus=name,
                        items=[
                            vector_pb2.Item(id=str(start + i), vector=v)
                            for i, v in enumerate(items[start : start + ADD_BATCH])
                        ],
                    )
                    for start in range(0, len(items), ADD_BATCH)
                ]
                with LakehouseClient(address) as lh:
                    ready.wait()
                    for request in requests:
                        lh._call(lh.vector.AddItems, request)

            ready = threading.Event()
            threads = [threading.Thread(target=writer, args=(name, ready)) for name in names]
            for t in threads:
                t.start()
            time.sleep(1.0)  # every writer has built its requests
            started = time.perf_counter()
            ready.set()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            rates[corpora] = corpora * len(items) / elapsed
            log(f"5. adds into {corpora} corpora: {rates[corpora]:,.0f} items/s")
        for corpora, rate in rates.items():
            table.add(
                f"{corpora} corpora: items/s (all corpora together)", f"{rate:,.0f}", "", f"{rate / rates[1]:.2f}x"
            )
    table.notes.append("scaling = aggregate rate / the rate with one corpus; the box has 2 cores")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--clusters", type=int, default=256)
    parser.add_argument("--spread", type=float, default=1.5)
    parser.add_argument("--ef", type=int, default=32)
    parser.add_argument("--add-items", type=int, default=20_000)
    parser.add_argument("--sections", default="filter,matrix,hybrid,batch,adds")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    benchlib.install_signal_handlers()
    corpus_path, queries_path = ensure_data(args)
    _, vectors = read_parquet_vectors(corpus_path)
    _, queries = read_parquet_vectors(queries_path)
    tables = []
    with running_system() as system:
        from lakehouse.client import LakehouseClient

        lh = LakehouseClient(system.state.grpc_upstream)
        dataset = DATA / f"matrix_{args.n}x{args.dim}.parquet"
        sel = write_dataset(corpus_path, dataset, args.n)
        lh.ingest(DATASET, str(dataset), format="parquet", mode="replace")
        build(lh, CORPUS, DATASET, args.dim)
        ctx = SimpleNamespace(
            lh=lh,
            n=args.n,
            ef=args.ef,
            sel=sel,
            vectors=vectors,
            queries=queries,
            qlists=[q.tolist() for q in queries],
            count=len(queries),
            home=system.settings.home_dir,
        )
        if "filter" in sections:
            tables.append(bench_filter(ctx))
        if "matrix" in sections:
            shard_rows = args.n // SHARDS
            for s in range(SHARDS):
                name = f"{CORPUS}_{s}"
                part = DATA / f"matrix_{args.n}x{args.dim}_{s}.parquet"
                pq.write_table(pq.read_table(dataset).slice(s * shard_rows, shard_rows), part)
                lh.ingest(name, str(part), format="parquet", mode="replace")
                build(lh, name, name, args.dim)
            tables.append(bench_matrix(ctx))
        if "hybrid" in sections:
            tables.append(bench_hybrid(ctx))
        if "batch" in sections:
            tables.append(bench_batch(ctx))
        lh.close()
    if "adds" in sections:
        tables.append(bench_adds(args, vectors))
    text = benchlib.environment() + "\n\n" + "\n\n".join(t.render() for t in tables)
    print(text, flush=True)
    (DATA / "matrix.table.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
