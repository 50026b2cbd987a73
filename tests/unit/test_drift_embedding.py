"""Embedding drift: the KS statistics (against scipy's own per-column loop), a planted
shift detected and one distribution not triggering (fixed seeds), projections seeing a
shift no single dimension shows, and DriftCore over stored generations, time windows and
inline vectors, with every bad input a clean status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lakehouse.api import errors
from lakehouse.api.drift import (
    CORRECTION,
    EMPTY_SAMPLE,
    INVALID_METHOD,
    INVALID_SAMPLE,
    SINGLE_GENERATION,
    EmbeddingDriftQuery,
    GenerationSample,
    VectorSample,
    WindowSample,
    embedding_query_from_pb,
    embedding_query_to_pb,
    embedding_report_from_pb,
    embedding_report_to_pb,
)
from lakehouse.api.vector import CORPUS_NOT_FOUND, DIMENSION_MISMATCH, GENERATION_NOT_FOUND, CorpusInfo
from lakehouse.servers.drift import embedding
from lakehouse.servers.drift.core import DriftCore
from lakehouse.servers.settings import DriftSettings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.vector.index import Rows
from lakehouse.servers.vector.model import HnswParams
from lakehouse.servers.vector.persistence import KIND_CHECKPOINT, Manifest, write_generation, write_log
from lakehouse.servers.vector.vectors import OP_DELETE, OP_UPSERT, WriteBatch
from tests.support.drift import FakeIngest, FakeMatrix

SEED = 7
DIM = 16
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def gaussian(n: int, seed: int, shift: float = 0.0, dims: int = DIM) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dims)).astype(np.float32)
    x[:, :3] += shift  # the shift, when planted, moves three dimensions
    return x


def run(a: np.ndarray, b: np.ndarray, method: str = "both", alpha: float = 0.01) -> embedding.Comparison:
    return embedding.compare(a, b, method=method, projection_count=8, alpha=alpha, seed=SEED, chunk_columns=5)


# Statistics ---------------------------------------------------------------------


def test_ks_columns_equal_scipy_per_column():
    a, b = gaussian(3000, 1), gaussian(2500, 2, shift=0.05)
    statistic, p = embedding.ks_columns(a, b, chunk_columns=3)
    expected = [stats.ks_2samp(a[:, j], b[:, j]) for j in range(DIM)]
    assert np.allclose(statistic, [e.statistic for e in expected])
    assert np.allclose(p, [e.pvalue for e in expected])


def test_threads_give_the_same_answer():
    a, b = gaussian(2000, 1), gaussian(2000, 2, shift=0.05)
    one = embedding.ks_columns(a, b, chunk_columns=3, workers=1)
    two = embedding.ks_columns(a, b, chunk_columns=3, workers=2)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])


def test_a_planted_shift_is_detected():
    result = run(gaussian(4000, 1), gaussian(4000, 2, shift=0.15))
    rejected = {(t.kind, t.index) for t in result.tests if t.rejected}
    assert {("dimension", 0), ("dimension", 1), ("dimension", 2)} <= rejected
    assert not any(k == "dimension" and i >= 3 for k, i in rejected)  # the unshifted ones hold
    assert result.centroid_l2 == pytest.approx(0.15 * np.sqrt(3), rel=0.25)


@pytest.mark.parametrize("seeds", [(1, 2), (3, 4), (5, 6), (11, 12)])
def test_two_samples_of_one_distribution_do_not_trigger(seeds):
    result = run(gaussian(4000, seeds[0]), gaussian(4000, seeds[1]))
    assert result.rejected == 0
    assert min(t.adjusted_p for t in result.tests) > 0.01


def test_projections_see_a_shift_no_single_dimension_shows():
    """Flip the correlation of two dimensions: every marginal is still N(0, 1)."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6000, 2))
    mix = np.array([[1.0, 0.8], [0.0, 0.6]])
    a = np.hstack([z @ mix, rng.standard_normal((6000, 2))]).astype(np.float32)
    b = a.copy()
    b[:, 1] = -b[:, 1]  # corr(x0, x1) 0.8 -> -0.8; marginals unchanged
    dims = run(a, b, method="dimensions")
    assert dims.rejected == 0
    projections = embedding.compare(
        a, b, method="projections", projection_count=16, alpha=0.01, seed=SEED, chunk_columns=8
    )
    assert projections.rejected > 0


def test_benjamini_hochberg_adjusts_across_every_test():
    result = run(gaussian(2000, 1), gaussian(2000, 2, shift=0.2))
    raw = np.array([t.p_value for t in result.tests])
    assert np.allclose([t.adjusted_p for t in result.tests], stats.false_discovery_control(raw, method="bh"))
    assert len(result.tests) == DIM + 8
    top = result.top(4)
    assert [t.adjusted_p for t in top] == sorted(t.adjusted_p for t in top)


def test_subsample_and_projections_are_seeded():
    x = gaussian(1000, 1)
    assert np.array_equal(embedding.subsample(x, 100, SEED, 0), embedding.subsample(x, 100, SEED, 0))
    assert not np.array_equal(embedding.subsample(x, 100, SEED, 0), embedding.subsample(x, 100, SEED, 1))
    assert embedding.subsample(x, 5000, SEED, 0) is x
    p = embedding.projections(DIM, 4, SEED)
    assert np.allclose(np.linalg.norm(p, axis=0), 1.0)
    assert np.array_equal(p, embedding.projections(DIM, 4, SEED))


def test_centroid_shift():
    a = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    b = np.array([[0.0, 2.0], [0.0, 2.0]], np.float32)
    cosine, l2 = embedding.centroid_shift(a, b)
    assert cosine == pytest.approx(0.0)
    assert l2 == pytest.approx(np.sqrt(5))
    assert embedding.centroid_shift(a, a) == pytest.approx((1.0, 0.0))


# DriftCore over the lake -----------------------------------------------------------


def corpus_info(name: str, active: int, generations: tuple[int, ...], dimension: int = DIM) -> CorpusInfo:
    return CorpusInfo(
        name=name,
        dimension=dimension,
        metric="cosine",
        hnsw_m=16,
        ef_construction=64,
        embedding_model="",
        count=0,
        tombstones=0,
        generation=active,
        previous_generation=0,
        generations=generations,
        bytes=0,
        building=False,
        created_at=T0,
    )


def store_generation(store, corpus: str, gen: int, vectors: np.ndarray, times=None, deleted=None, log_seq=0) -> None:
    n = len(vectors)
    ids = [f"item-{gen}-{i}" for i in range(n)]
    meta = [
        json.dumps({"time": (T0 + timedelta(days=int(t))).isoformat()} if times is not None else {})
        for t in (times if times is not None else range(n))
    ]
    rows = Rows(ids, vectors, meta, [None] * n, np.zeros(n, bool) if deleted is None else deleted)
    manifest = Manifest(corpus, gen, KIND_CHECKPOINT, HnswParams(vectors.shape[1], "cosine", 16, 64), n, n, log_seq, "")
    write_generation(store, manifest, b"", rows)


@pytest.fixture
def lake(tmp_path: Path):
    return LocalObjectStore("lake", tmp_path / "lake")


def core_over(lake, corpora: list[CorpusInfo], **settings) -> tuple[DriftCore, FakeIngest]:
    ingest = FakeIngest()
    s = DriftSettings(embedding_projections=8, **settings)
    return DriftCore(lake, lambda: FakeMatrix(corpora=corpora), lambda: ingest, s, clock=lambda: T0), ingest


def test_two_generations_of_a_corpus(lake):
    store_generation(lake, "docs", 2, gaussian(3000, 1))
    store_generation(lake, "docs", 5, gaussian(3000, 2, shift=0.2))
    core, ingest = core_over(lake, [corpus_info("docs", 5, (2, 5))])
    query = EmbeddingDriftQuery(GenerationSample("docs"), GenerationSample("docs"))
    report = core.embedding_drift(query)
    assert (report.baseline, report.current) == ("corpus docs generation 2", "corpus docs generation 5")
    assert report.drifted and report.rejected >= 3
    assert report.correction == CORRECTION == "benjamini-hochberg"
    assert report.dataset == "drift_embedding"
    [row] = ingest.rows["drift_embedding"]
    assert row["drifted"] is True and row["baseline"] == report.baseline and row["tests"] == DIM + 8
    again = core.embedding_drift(query)
    assert (again.top, again.max_statistic, again.centroid_l2) == (report.top, report.max_statistic, report.centroid_l2)
    # The same generation on both sides (explicitly) does not drift.
    same = core.embedding_drift(EmbeddingDriftQuery(GenerationSample("docs", 2), GenerationSample("docs", 2)))
    assert not same.drifted and same.max_statistic == 0.0


def test_tombstones_are_not_sampled(lake):
    vectors = gaussian(400, 1)
    deleted = np.zeros(400, bool)
    deleted[200:] = True
    store_generation(lake, "docs", 1, vectors, deleted=deleted)
    store_generation(lake, "docs", 2, vectors[:200].copy())
    core, _ = core_over(lake, [corpus_info("docs", 2, (1, 2))])
    report = core.embedding_drift(EmbeddingDriftQuery(GenerationSample("docs"), GenerationSample("docs")))
    assert report.baseline_count == 200 and report.max_statistic == 0.0


def test_time_windows_of_the_live_items(lake):
    """The active generation plus its log: an upsert replaces, a delete removes."""
    old = gaussian(1000, 1)
    store_generation(lake, "docs", 1, old, times=np.zeros(1000), log_seq=0)
    shifted = gaussian(1000, 2, shift=0.3)
    meta = [json.dumps({"time": (T0 + timedelta(days=10)).timestamp()})] * 1000
    write_log(
        lake, "docs", WriteBatch(OP_UPSERT, [f"new-{i}" for i in range(1000)], shifted, meta, [None] * 1000, 1), DIM
    )
    write_log(lake, "docs", WriteBatch(OP_DELETE, [f"new-{i}" for i in range(500)], None, [], [], 2), DIM)
    core, _ = core_over(lake, [corpus_info("docs", 1, (1,))])
    first = WindowSample("docs", start=T0, end=T0 + timedelta(days=5))
    later = WindowSample("docs", start=T0 + timedelta(days=5))
    report = core.embedding_drift(EmbeddingDriftQuery(first, later))
    assert (report.baseline_count, report.current_count) == (1000, 500)
    assert report.drifted
    assert "in [2026-01-01T00:00:00+00:00, 2026-01-06T00:00:00+00:00)" in report.baseline
    empty = WindowSample("docs", start=T0 + timedelta(days=100))
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.embedding_drift(EmbeddingDriftQuery(first, empty))
    assert exc.value.reason == EMPTY_SAMPLE


def test_inline_vectors(lake):
    core, _ = core_over(lake, [])
    a, b = gaussian(500, 1), gaussian(500, 2, shift=0.5)
    report = core.embedding_drift(EmbeddingDriftQuery(VectorSample(a), VectorSample(b.tolist())))
    assert report.drifted and report.baseline == "500 inline vectors"
    quiet = core.embedding_drift(
        EmbeddingDriftQuery(VectorSample(a), VectorSample(gaussian(500, 3)), method="dimensions")
    )
    assert not quiet.drifted and quiet.tests == DIM


def test_max_sample_draws_a_seeded_subset(lake):
    core, _ = core_over(lake, [], embedding_max_sample=300)
    query = EmbeddingDriftQuery(VectorSample(gaussian(1000, 1)), VectorSample(gaussian(1000, 2)))
    first, second = core.embedding_drift(query), core.embedding_drift(query)
    assert first.baseline_count == first.current_count == 300
    assert first.top == second.top


def test_single_generation_and_empty_corpus_are_failed_preconditions(lake):
    store_generation(lake, "one", 3, gaussian(100, 1))
    store_generation(lake, "empty", 1, np.zeros((0, DIM), np.float32))
    store_generation(lake, "empty", 2, np.zeros((0, DIM), np.float32))
    core, _ = core_over(lake, [corpus_info("one", 3, (3,)), corpus_info("empty", 2, (1, 2))])
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.embedding_drift(EmbeddingDriftQuery(GenerationSample("one"), GenerationSample("one")))
    assert exc.value.reason == SINGLE_GENERATION
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.embedding_drift(EmbeddingDriftQuery(GenerationSample("empty"), GenerationSample("empty")))
    assert exc.value.reason == EMPTY_SAMPLE
    with pytest.raises(errors.NotFound) as exc:
        core.embedding_drift(EmbeddingDriftQuery(GenerationSample("one", 9), GenerationSample("one")))
    assert exc.value.reason == GENERATION_NOT_FOUND
    with pytest.raises(errors.NotFound) as exc:
        core.embedding_drift(EmbeddingDriftQuery(GenerationSample("nope"), GenerationSample("nope")))
    assert exc.value.reason == CORPUS_NOT_FOUND


def test_mismatched_dimensions(lake):
    store_generation(lake, "wide", 1, gaussian(100, 1, dims=8))
    core, _ = core_over(lake, [corpus_info("wide", 1, (1,), dimension=8)])
    with pytest.raises(errors.InvalidArgument) as exc:
        core.embedding_drift(EmbeddingDriftQuery(VectorSample(gaussian(50, 1)), VectorSample(gaussian(50, 1, dims=4))))
    assert exc.value.reason == DIMENSION_MISMATCH
    with pytest.raises(errors.InvalidArgument) as exc:
        core.embedding_drift(EmbeddingDriftQuery(GenerationSample("wide"), VectorSample(gaussian(50, 1))))
    assert exc.value.reason == DIMENSION_MISMATCH
    with pytest.raises(errors.InvalidArgument) as exc:
        core.embedding_drift(EmbeddingDriftQuery(VectorSample([[1.0, 2.0], [1.0]]), VectorSample(gaussian(5, 1))))
    assert exc.value.reason == DIMENSION_MISMATCH
    assert exc.value.violations[0].field == "baseline.vectors[1]"


@pytest.mark.parametrize(
    ("baseline", "current", "reason"),
    [
        (None, VectorSample([[1.0], [2.0]]), INVALID_SAMPLE),
        (VectorSample([[1.0]]), VectorSample([[1.0], [2.0]]), EMPTY_SAMPLE),
        (VectorSample([]), VectorSample([[1.0], [2.0]]), EMPTY_SAMPLE),
        (VectorSample([[1.0], [float("nan")]]), VectorSample([[1.0], [2.0]]), INVALID_SAMPLE),
        (VectorSample([[], []]), VectorSample([[1.0], [2.0]]), INVALID_SAMPLE),
        (GenerationSample(""), VectorSample([[1.0], [2.0]]), INVALID_SAMPLE),
    ],
)
def test_bad_samples_are_invalid_arguments(lake, baseline, current, reason):
    core, _ = core_over(lake, [])
    with pytest.raises(errors.InvalidArgument) as exc:
        core.embedding_drift(EmbeddingDriftQuery(baseline, current))
    assert exc.value.reason == reason


def test_bad_options(lake):
    core, _ = core_over(lake, [])
    two = VectorSample([[1.0], [2.0]])
    with pytest.raises(errors.InvalidArgument) as exc:
        core.embedding_drift(EmbeddingDriftQuery(two, two, method="median"))
    assert exc.value.reason == INVALID_METHOD
    for bad in ({"alpha": 1.5}, {"projections": -1}, {"projections": 10**6}, {"max_sample": -3}, {"max_sample": 1}):
        with pytest.raises(errors.InvalidArgument):
            core.embedding_drift(EmbeddingDriftQuery(two, two, **bad))


def test_proto_round_trip(lake):
    query = EmbeddingDriftQuery(
        WindowSample("docs", "created", T0, T0 + timedelta(days=1)), VectorSample([[1.0, 2.0], [3.0, 4.0]]), alpha=0.05
    )
    back = embedding_query_from_pb(embedding_query_to_pb(query))
    assert back.baseline == query.baseline and back.current.vectors == [[1.0, 2.0], [3.0, 4.0]]
    assert back.alpha == 0.05 and back.top_tests == -1
    core, _ = core_over(lake, [])
    report = core.embedding_drift(EmbeddingDriftQuery(VectorSample(gaussian(50, 1)), VectorSample(gaussian(50, 2))))
    assert embedding_report_from_pb(embedding_report_to_pb(report)) == report


def test_the_active_generation_is_read_as_it_serves(lake):
    """Its stored rows plus the writes logged after them; an older generation as stored."""
    store_generation(lake, "docs", 1, gaussian(300, 1))
    store_generation(lake, "docs", 2, gaussian(300, 2), log_seq=4)
    extra = gaussian(100, 3)
    ids = [f"extra-{i}" for i in range(100)]
    write_log(lake, "docs", WriteBatch(OP_UPSERT, ids, extra, ["{}"] * 100, [None] * 100, 4), DIM)  # folded already
    write_log(lake, "docs", WriteBatch(OP_UPSERT, ids, extra, ["{}"] * 100, [None] * 100, 5), DIM)
    write_log(lake, "docs", WriteBatch(OP_DELETE, ["item-2-0", "item-2-1"], None, [], [], 6), DIM)
    core, _ = core_over(lake, [corpus_info("docs", 2, (1, 2))])
    report = core.embedding_drift(EmbeddingDriftQuery(GenerationSample("docs"), GenerationSample("docs")))
    assert (report.baseline_count, report.current_count) == (300, 398)
