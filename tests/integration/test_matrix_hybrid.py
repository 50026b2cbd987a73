"""The hybrid query at scale (SPEC G3.1.B): on a 100K-item corpus, a SQL gate selecting 10%
of the rows gives the ranking brute force gives over those rows (recall@10 >= 0.99),
through the real system: Parquet ingested, the corpus built from it, MatrixService over gRPC."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

N, DIM, K, QUERIES, PERCENT = 100_000, 8, 10, 40, 10


@pytest.fixture(scope="module")
def hundred_k(system, tmp_path_factory):
    rng = np.random.default_rng(42)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sel = rng.permutation(np.arange(N) % 100)
    path = tmp_path_factory.mktemp("hybrid") / "points.parquet"
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM)
    pq.write_table(pa.table({"id": np.arange(N), "sel": sel, "embedding": embedding}), path)
    with system.client(timeout_s=600) as lh:
        lh.ingest("hybrid_points", str(path), format="parquet", mode="replace")
        lh.create_corpus("hybrid_points", dimension=DIM)
        assert (
            lh.build_corpus("hybrid_points", "hybrid_points", "id", [], ["sel"], vector_column="embedding").items == N
        )
    return vectors, sel


def test_hybrid_equals_brute_force_over_the_sql_selected_rows_g3_1_b(system, hundred_k):
    vectors, sel = hundred_k
    selected = np.flatnonzero(sel < PERCENT)
    queries = np.random.default_rng(7).standard_normal((QUERIES, DIM)).astype(np.float32)
    sql = f"SELECT id FROM hybrid_points WHERE sel < {PERCENT}"
    recalls = []
    with system.client() as lh:
        for query in queries:
            found = lh.matrix_search(vector=query.tolist(), corpora=["hybrid_points"], sql=sql, k=K, k_per_corpus=K)
            assert found.sql_selected == len(selected)
            got = {int(r.id) for r in found.results}
            assert got <= set(selected.tolist())
            scores = vectors[selected] @ (query / np.linalg.norm(query))
            truth = set(selected[np.argsort(-scores)[:K]].tolist())
            recalls.append(len(got & truth) / K)
    assert np.mean(recalls) >= 0.99
