"""Index trials: every rebuild leaves a record of its parameters, time, size and probe recall,
kept on storage beside the corpus; the probe ranks better graphs higher on fixed data."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.settings import TrialSettings
from lakehouse.servers.vector.index import LiveIndex
from lakehouse.servers.vector.trials import probe_recall
from tests.support.vector_env import DIM, Env, make_items, random_vectors, tuning

WAIT_S = 60


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path, tuning=tuning(bulk_rows=512))
    e.core.create_corpus("docs", dimension=DIM)
    e.core.add_batches("docs", [make_items(random_vectors(3000))])
    e.core.wait_for_build("docs", WAIT_S)
    yield e
    e.close()


def _rebuild(core, name: str = "docs", **params) -> int:
    gen = core.rebuild(name, params or None)
    core.wait_for_build(name, WAIT_S)
    return gen


def test_a_rebuild_records_its_trial(env: Env) -> None:
    core = env.core
    assert core.list_trials("docs") == []  # bulk loads and checkpoints are not builds
    gen = _rebuild(core, hnsw_m=8, ef_construction=40)
    [trial] = core.list_trials("docs")
    assert (trial.corpus, trial.generation, trial.kind, trial.status) == ("docs", gen, "rebuild", "ok")
    assert (trial.dimension, trial.metric, trial.hnsw_m, trial.ef_construction) == (DIM, "cosine", 8, 40)
    assert trial.items == 3000
    on_disk = sum(env.path(k).stat().st_size for k in env.keys() if f"/gen-{gen}/" in k)
    assert trial.size_bytes == on_disk > 0
    assert (trial.probe_queries, trial.probe_k, trial.probe_ef_search) == (200, 10, 64)
    assert 0.5 < trial.recall <= 1.0
    assert trial.build_seconds > 0 and trial.started_at <= trial.finished_at
    assert f"corpora/docs/trials/{gen:012d}.json" in env.keys()


def test_trials_survive_a_restart_and_list_newest_first(env: Env) -> None:
    first = _rebuild(env.core, hnsw_m=8)
    second = _rebuild(env.core, hnsw_m=12)
    core = env.restart()
    assert [t.generation for t in core.list_trials("docs")] == [second, first]
    assert [t.hnsw_m for t in core.list_trials("docs", limit=1)] == [12]
    third = _rebuild(core)
    assert third > second
    assert [t.generation for t in core.list_trials()] == [third, second, first]


def test_the_probe_ranks_a_denser_graph_higher(tmp_path: Path) -> None:
    """On fixed data with a narrow walk (efSearch 11), M=32 finds more true neighbours than M=4."""
    e = Env(tmp_path, tuning=tuning(bulk_rows=4096, probe_ef_search=1))
    try:
        e.core.create_corpus("docs", dimension=DIM)
        e.core.add_batches("docs", [make_items(random_vectors(6000, seed=7))])
        e.core.wait_for_build("docs", WAIT_S)
        _rebuild(e.core, hnsw_m=4, ef_construction=8)
        _rebuild(e.core, hnsw_m=32, ef_construction=200)
        dense, sparse = e.core.list_trials("docs")
        assert (sparse.hnsw_m, dense.hnsw_m) == (4, 32)
        assert sparse.probe_ef_search == dense.probe_ef_search == 11
        assert dense.recall > sparse.recall + 0.05
    finally:
        e.close()


def test_a_failed_rebuild_records_why_and_keeps_its_number(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cls, *args, **kwargs):
        raise RuntimeError("disk on fire")

    real = LiveIndex.build
    monkeypatch.setattr(LiveIndex, "build", classmethod(broken))
    gen = env.core.rebuild("docs")
    with pytest.raises(errors.Internal):
        env.core.wait_for_build("docs", WAIT_S)
    [trial] = env.core.list_trials("docs")
    assert (trial.generation, trial.status, trial.probe_queries, trial.size_bytes) == (gen, "failed", 0, 0)
    assert "disk on fire" in trial.error
    monkeypatch.setattr(LiveIndex, "build", real)
    core = env.restart()
    assert _rebuild(core) > gen  # the failed trial's record is not overwritten by a later build
    assert [t.status for t in core.list_trials("docs")] == ["ok", "failed"]


def test_only_the_newest_trials_are_kept(tmp_path: Path) -> None:
    settings = TrialSettings(keep_per_corpus=2, probe_queries=20)
    e = Env(tmp_path, tuning=tuning(trials=settings))
    try:
        e.core.create_corpus("docs", dimension=DIM)
        e.core.add("docs", make_items(random_vectors(50)))
        gens = [_rebuild(e.core) for _ in range(3)]
        assert [t.generation for t in e.core.list_trials("docs")] == gens[:0:-1]
        assert [k for k in e.keys() if "/trials/" in k] == [f"corpora/docs/trials/{g:012d}.json" for g in gens[1:]]
        assert e.core.list_trials("docs")[0].probe_queries == 20
    finally:
        e.close()


def test_listing_errors_and_scoping(env: Env) -> None:
    core = env.core
    core.create_corpus("other", dimension=DIM)
    core.add("other", make_items(random_vectors(30)))
    _rebuild(core)
    _rebuild(core, "other")
    assert {t.corpus for t in core.list_trials()} == {"docs", "other"}
    assert {t.corpus for t in core.list_trials(visible=frozenset({"other"}))} == {"other"}
    for bad in (-1, 1.5, True):
        with pytest.raises(errors.InvalidArgument) as exc:
            core.list_trials("docs", limit=bad)
        assert exc.value.reason == "INVALID_LIMIT"
    with pytest.raises(errors.NotFound) as exc:
        core.list_trials("missing")
    assert exc.value.reason == "CORPUS_NOT_FOUND"


def test_an_unreadable_trial_is_left_out(env: Env) -> None:
    gen = _rebuild(env.core)
    good = _rebuild(env.core, hnsw_m=8)
    env.path(f"corpora/docs/trials/{gen:012d}.json").write_text("{not json")
    core = env.restart()
    assert [t.generation for t in core.list_trials("docs")] == [good]


def test_probe_recall_leaves_the_query_out_and_is_exact_on_a_wide_walk() -> None:
    vectors = random_vectors(500, seed=3)
    faiss.normalize_L2(vectors)
    index = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
    index.add(vectors)
    probe = probe_recall(index, TrialSettings(probe_queries=50, probe_k=5), ef_search=500)
    assert (probe.queries, probe.k, probe.ef_search) == (50, 5, 500)
    assert probe.recall == pytest.approx(1.0)
    tiny = faiss.IndexHNSWFlat(DIM, 16)
    tiny.add(vectors[:1])
    assert probe_recall(tiny, TrialSettings(), 64).queries == 0  # one item has no neighbours to find
    assert np.isfinite(probe_recall(index, TrialSettings(probe_queries=0), 64).recall)
