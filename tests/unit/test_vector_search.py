"""Filtered search: the allow-list and tombstones go through a FAISS IDSelector inside the
graph walk (or an exact scan when selective), never a post-filter; recall matches exact."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from tests.support.vector_env import Env, exact_top, make_items, random_vectors, tuning

N = 3000
K = 10
QUERIES = 20


def _env(tmp_path: Path, **changes) -> Env:
    env = Env(tmp_path, tuning=tuning(**changes))
    env.core.create_corpus("docs", dimension=16)
    return env


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return random_vectors(N, seed=1)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return random_vectors(QUERIES, seed=2)


def _load(env: Env, vectors: np.ndarray) -> None:
    env.core.add_batches("docs", [make_items(vectors[i : i + 1000], start=i) for i in range(0, len(vectors), 1000)])


def _recall(got: list[str], expected: list[int]) -> float:
    return len(set(got) & {f"i{r}" for r in expected}) / len(expected)


@pytest.fixture
def selectors(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every IDSelectorBitmap built (its size), still building the real one."""
    built: list[int] = []
    real = faiss.IDSelectorBitmap

    def spy(n, bits):
        built.append(n)
        return real(n, bits)

    monkeypatch.setattr(faiss, "IDSelectorBitmap", spy)
    return built


@pytest.fixture
def ef_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    used: list[int] = []
    real = faiss.SearchParametersHNSW

    def spy(*args, **kwargs):
        used.append(kwargs["efSearch"])
        return real(*args, **kwargs)

    monkeypatch.setattr(faiss, "SearchParametersHNSW", spy)
    return used


# Allow-lists are matched by dict lookups, or in Arrow when long (1: always Arrow).
LOOKUPS = [pytest.param(10**9, id="dict"), pytest.param(1, id="arrow")]


@pytest.mark.parametrize("lookup", LOOKUPS)
@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.02])
def test_graph_walk_filter_returns_k_allowed_hits_with_exact_recall(
    tmp_path: Path,
    vectors: np.ndarray,
    queries: np.ndarray,
    selectors: list[int],
    ef_used: list[int],
    fraction: float,
    lookup: int,
) -> None:
    # No exact fallback: the selector inside the HNSW walk must do all the work.
    env = _env(tmp_path, search_exact_max_ids=0, search_exact_max_fraction=0.0, search_arrow_lookup_min_ids=lookup)
    try:
        _load(env, vectors)
        rng = np.random.default_rng(3)
        rows = sorted(rng.choice(N, int(N * fraction), replace=False).tolist())
        allowed = [f"i{r}" for r in rows]
        recalls = []
        for query in queries:
            result = env.core.search("docs", vector=query, k=K, allowed_ids=allowed)
            ids = [h.id for h in result.hits]
            assert not result.exact
            assert len(ids) == K  # a post-filter of the top-k would come back short
            assert set(ids) <= set(allowed)
            recalls.append(_recall(ids, exact_top(vectors, query, K, rows)))
        assert np.mean(recalls) >= 0.95
        assert selectors and set(selectors) == {N}
        # efSearch widened by (1/selectivity) ** filtered_ef_exponent (default 64 and 0.75), capped.
        assert min(ef_used) >= min(int(64 * (1 / fraction) ** 0.75), 2048) - 1
    finally:
        env.close()


def test_selective_filter_is_exact_and_equals_brute_force(
    tmp_path: Path, vectors: np.ndarray, queries: np.ndarray, selectors: list[int]
) -> None:
    env = _env(tmp_path, search_exact_max_ids=200)
    try:
        _load(env, vectors)
        rows = list(range(5, N, 20))  # 150 allowed: under exact_max_ids, gathered
        allowed = [f"i{r}" for r in rows]
        for query in queries:
            result = env.core.search("docs", vector=query, k=K, allowed_ids=allowed)
            assert result.exact
            assert [h.id for h in result.hits] == [f"i{r}" for r in exact_top(vectors, query, K, rows)]
        assert selectors == []  # the gather path reads just those rows; no scan of the rest
    finally:
        env.close()


def test_exact_scan_with_selector_equals_brute_force(
    tmp_path: Path, vectors: np.ndarray, queries: np.ndarray, selectors: list[int]
) -> None:
    # Above gather_max_ids the exact path scans the flat storage through the bitmap selector.
    env = _env(tmp_path, search_exact_max_ids=500, search_gather_max_ids=10)
    try:
        _load(env, vectors)
        rows = list(range(0, N, 7))  # 429 allowed
        allowed = [f"i{r}" for r in rows]
        for query in queries:
            result = env.core.search("docs", vector=query, k=K, allowed_ids=allowed)
            assert result.exact
            assert [h.id for h in result.hits] == [f"i{r}" for r in exact_top(vectors, query, K, rows)]
        assert set(selectors) == {N}
    finally:
        env.close()


def test_small_fraction_of_corpus_goes_exact(tmp_path: Path, vectors: np.ndarray, queries: np.ndarray) -> None:
    env = _env(tmp_path, search_exact_max_ids=0, search_exact_max_fraction=0.05)
    try:
        _load(env, vectors)
        rows, allowed = [3, 30, 300, 1000, 2999], ["i3", "i30", "i300", "i1000", "i2999", "i3", "nope"]
        result = env.core.search("docs", vector=queries[0], k=K, allowed_ids=allowed)
        assert result.exact
        assert [h.id for h in result.hits] == [f"i{r}" for r in exact_top(vectors, queries[0], K, rows)]
        wide = env.core.search("docs", vector=queries[0], k=K, allowed_ids=[f"i{r}" for r in range(0, N, 10)])
        assert not wide.exact  # 10% of the corpus: through the graph
    finally:
        env.close()


@pytest.mark.parametrize("lookup", LOOKUPS)
@pytest.mark.parametrize("exact_max_ids", [0, 10_000])
def test_tombstones_never_appear(
    tmp_path: Path, vectors: np.ndarray, queries: np.ndarray, selectors: list[int], exact_max_ids: int, lookup: int
) -> None:
    env = _env(
        tmp_path, search_exact_max_ids=exact_max_ids, search_exact_max_fraction=0.0, search_arrow_lookup_min_ids=lookup
    )
    try:
        _load(env, vectors)
        query = queries[0]
        nearest = exact_top(vectors, query, 50)
        deleted = {f"i{r}" for r in nearest[:30]}
        assert env.core.delete("docs", sorted(deleted)).changed == 30
        live_rows = [r for r in range(N) if f"i{r}" not in deleted]
        # Unfiltered: the live bitmap goes in as the selector; still k results, the right ones.
        result = env.core.search("docs", vector=query, k=K)
        ids = [h.id for h in result.hits]
        assert len(ids) == K and not set(ids) & deleted
        assert _recall(ids, exact_top(vectors, query, K, live_rows)) >= 0.9
        assert selectors
        # Filtered to deleted and live ids: only the live ones can come back.
        allowed = sorted(deleted) + [f"i{r}" for r in nearest[30:]]
        ids = [h.id for h in env.core.search("docs", vector=query, k=K, allowed_ids=allowed).hits]
        assert len(ids) == K and not set(ids) & deleted
        # Only deleted ids allowed: nothing.
        assert env.core.search("docs", vector=query, k=K, allowed_ids=sorted(deleted)).hits == []
    finally:
        env.close()


@pytest.mark.parametrize("lookup", LOOKUPS)
def test_allow_list_matching_after_incremental_writes(tmp_path: Path, lookup: int) -> None:
    """Ids added in many small writes (several Arrow chunks), upserted and deleted still match exactly."""
    env = _env(tmp_path, search_exact_max_ids=10, search_exact_max_fraction=0.0, search_arrow_lookup_min_ids=lookup)
    try:
        vectors = random_vectors(60, seed=4)
        for start in range(0, 60, 20):
            env.core.add("docs", make_items(vectors[start : start + 20], start=start))
        env.core.upsert("docs", make_items(vectors[:5]))
        env.core.delete("docs", ["i5", "i6"])
        allowed = ["i1", "i1", "i5", "i6", "i30", "i59", "nope", 7]  # duplicates, deleted, unknown, not a string
        result = env.core.search("docs", vector=vectors[30], k=10, allowed_ids=allowed)
        assert result.exact
        assert [h.id for h in result.hits] == [f"i{r}" for r in exact_top(vectors, vectors[30], 10, [1, 30, 59])]
        many = [f"i{i}" for i in range(60) if i not in (5, 6)]
        graph = env.core.search("docs", vector=vectors[30], k=10, allowed_ids=many)
        assert not graph.exact and len(graph.hits) == 10 and graph.hits[0].id == "i30"
    finally:
        env.close()


def test_unfiltered_search_without_tombstones_uses_no_selector(
    tmp_path: Path, vectors: np.ndarray, queries: np.ndarray, selectors: list[int]
) -> None:
    env = _env(tmp_path)
    try:
        _load(env, vectors[:500])
        recalls = []
        for query in queries:
            ids = [h.id for h in env.core.search("docs", vector=query, k=K).hits]
            recalls.append(_recall(ids, exact_top(vectors[:500], query, K)))
        assert np.mean(recalls) >= 0.95
        assert selectors == []
    finally:
        env.close()
