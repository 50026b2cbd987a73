"""Generations and concurrency: background rebuild, swap and rollback under running searches,
writes during a rebuild, compaction, bulk loads, and per-corpus locking."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.vector import corpus as corpus_module
from lakehouse.servers.vector import generations
from lakehouse.servers.vector.corpus import Corpus
from lakehouse.servers.vector.index import LiveIndex
from lakehouse.servers.vector.model import Item
from tests.support.vector_env import DIM, Env, make_items, random_vectors, tuning

WAIT_S = 60


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path, tuning=tuning(bulk_rows=256))
    e.core.create_corpus("docs", dimension=DIM)
    yield e
    e.close()


class Gate:
    """Holds background graph builds until opened (or the build is cancelled)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        real = LiveIndex.build.__func__

        def build(cls, *args, **kwargs):
            self.entered.set()
            cancel = kwargs.get("cancel")
            while not self.opened.wait(0.01):
                if cancel is not None and cancel.is_set():
                    break
            return real(cls, *args, **kwargs)

        monkeypatch.setattr(LiveIndex, "build", classmethod(build))


def _ids(core, vector: np.ndarray, k: int = 10, name: str = "docs") -> list[str]:
    return [h.id for h in core.search(name, vector=vector, k=k).hits]


def test_rebuild_swap_rollback_while_searching(env: Env) -> None:
    core = env.core
    vectors = random_vectors(2000)
    core.add_batches("docs", [make_items(vectors)])
    core.wait_for_build("docs", WAIT_S)  # the bulk load's background checkpoint
    anchors = [3, 500, 1999]
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: set[int] = set()
    searches = [0]

    def search_forever() -> None:
        while not stop.is_set():
            for anchor in anchors:
                try:
                    result = core.search("docs", vector=vectors[anchor], k=10)
                    ids = [h.id for h in result.hits]
                    assert ids[0] == f"i{anchor}" and len(set(ids)) == 10, ids
                    seen.add(result.generation)
                    searches[0] += 1
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    failures.append(exc)
                    return

    threads = [threading.Thread(target=search_forever) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        first = core.get_corpus("docs").generation
        built = core.rebuild("docs", {"hnsw_m": 8})
        core.add("docs", make_items(random_vectors(20, seed=1), prefix="during"))
        assert core.wait_for_build("docs", WAIT_S) == built
        assert core.swap("docs") == built
        info = core.get_corpus("docs")
        assert (info.generation, info.previous_generation, info.hnsw_m, info.count) == (built, first, 8, 2020)
        assert core.rollback("docs") == first
        assert core.get_corpus("docs").hnsw_m == 16
        second = core.rebuild("docs", {"ef_construction": 40})
        core.wait_for_build("docs", WAIT_S)
        assert core.swap("docs", second) == second
        assert core.rollback("docs") == first
        assert core.rollback("docs") == second  # rollback of a rollback goes forward again
        assert core.get_corpus("docs").ef_construction == 40
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert searches[0] > 0 and len(seen) >= 2
    assert core.get_corpus("docs").count == 2020
    assert _ids(core, random_vectors(20, seed=1)[5], 1) == ["during5"]


def test_writes_during_a_rebuild_are_replayed_at_swap(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    core = env.core
    vectors = random_vectors(300)
    core.add_batches("docs", [make_items(vectors)])
    gate = Gate(monkeypatch)
    built = core.rebuild("docs")
    assert gate.entered.wait(WAIT_S)
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.rebuild("docs")
    assert exc.value.reason == "BUILD_IN_PROGRESS"
    assert core.get_corpus("docs").building
    # Writes while the graph is being built from the earlier snapshot:
    fresh = random_vectors(50, seed=2)
    core.add("docs", make_items(fresh, prefix="new"))
    moved = random_vectors(10, seed=3)
    core.upsert("docs", [Item(f"i{i}", moved[i], metadata={"moved": True}) for i in range(10)])
    core.delete("docs", [f"i{i}" for i in range(100, 120)])
    gate.opened.set()
    assert core.wait_for_build("docs", WAIT_S) == built
    assert core.swap("docs") == built

    def check() -> None:
        info = core.get_corpus("docs")
        assert (info.count, info.generation) == (330, built)
        assert _ids(core, fresh[7], 1) == ["new7"]
        hit = core.search("docs", vector=moved[4], k=1).hits[0]
        assert (hit.id, hit.metadata) == ("i4", {"moved": True})
        ids = _ids(core, vectors[110], 400)
        assert len(ids) == 330 and not {f"i{i}" for i in range(100, 120)} & set(ids)

    check()
    env.restart()  # the new generation's files + the log after its snapshot
    check()
    env.core.rollback("docs")
    assert env.core.get_corpus("docs").count == 330  # the same items on the old graph


def test_a_write_racing_the_swap_is_replayed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that lands after the swap's first (unlocked) catch-up must still reach the new generation."""
    core = env.core
    core.add_batches("docs", [make_items(random_vectors(100))])
    built = core.rebuild("docs")
    core.wait_for_build("docs", WAIT_S)
    late = random_vectors(1, seed=5)[0]
    real = generations.catch_up
    calls: list[int] = []

    def catch_up_then_write(*args, **kwargs):
        replayed = real(*args, **kwargs)
        calls.append(len(replayed))
        if len(calls) == 1:  # between the two catch-up phases
            core.add("docs", [Item("late", late)])
        return replayed

    monkeypatch.setattr(generations, "catch_up", catch_up_then_write)
    assert core.swap("docs") == built
    assert calls == [0, 1]
    assert _ids(core, late, 1) == ["late"]
    assert core.get_corpus("docs").count == 101


def test_compact_drops_tombstones_and_rollback_restores_the_old_graph(env: Env) -> None:
    core = env.core
    vectors = random_vectors(400)
    core.add_batches("docs", [make_items(vectors)])
    core.wait_for_build("docs", WAIT_S)
    core.delete("docs", [f"i{i}" for i in range(0, 400, 4)])
    before = core.get_corpus("docs")
    assert (before.count, before.tombstones) == (300, 100)
    query = random_vectors(1, seed=9)[0]
    results = _ids(core, query, 10)
    gen = core.compact("docs")
    after = core.get_corpus("docs")
    assert (after.generation, after.count, after.tombstones, after.building) == (gen, 300, 0, False)
    assert _ids(core, query, 10) == results
    assert core.rollback("docs") == before.generation
    assert core.get_corpus("docs").tombstones == 100


def test_rollback_after_restart_loads_the_previous_generation(env: Env) -> None:
    core = env.core
    core.add_batches("docs", [make_items(random_vectors(200))])
    first = core.wait_for_build("docs", WAIT_S)
    core.rebuild("docs")
    core.wait_for_build("docs", WAIT_S)
    core.swap("docs")
    extra = random_vectors(5, seed=4)
    core.add("docs", make_items(extra, prefix="late"))
    core = env.restart()
    assert core.rollback("docs") == first
    assert core.get_corpus("docs").count == 205
    assert _ids(core, extra[2], 1) == ["late2"]


def test_generation_errors(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    core = env.core
    core.add("docs", make_items(random_vectors(10)))
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.swap("docs")
    assert exc.value.reason == "NO_BUILT_GENERATION"
    with pytest.raises(errors.FailedPrecondition) as exc:
        core.rollback("docs")
    assert exc.value.reason == "NO_PREVIOUS_GENERATION"
    with pytest.raises(errors.NotFound) as exc:
        core.swap("docs", 42)
    assert exc.value.reason == "GENERATION_NOT_FOUND"
    for override in ({"metric": "l2"}, {"hnsw_m": 2}, {"ef_construction": 1}):
        with pytest.raises(errors.InvalidArgument):
            core.rebuild("docs", override)

    def broken(cls, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(LiveIndex, "build", classmethod(broken))
    gen = core.rebuild("docs")
    with pytest.raises(errors.Internal) as exc:
        core.wait_for_build("docs", WAIT_S)
    assert exc.value.reason == "BUILD_FAILED"
    assert not any(f"gen-{gen}/" in k for k in env.keys())
    assert core.get_corpus("docs").count == 10 and not core.get_corpus("docs").building


def test_installing_a_generation_not_on_storage_changes_nothing(env: Env) -> None:
    """``install_active`` may only point the corpus at a generation it has files for."""
    env.core.add("docs", make_items(random_vectors(10)))
    before, record = env.core.get_corpus("docs"), env.path("corpora/docs/corpus.json").read_bytes()
    corpus = Corpus.open(env.store, "docs", tuning())
    try:
        stray = LiveIndex.empty(42, corpus.active.params, corpus.active.applied_seq)
        with pytest.raises(errors.NotFound) as exc:
            with corpus.lock:
                corpus.install_active(42, stray)
        assert exc.value.reason == "GENERATION_NOT_FOUND"
        assert corpus.active is not stray and corpus.info().generation == before.generation
    finally:
        corpus.close()
    assert env.path("corpora/docs/corpus.json").read_bytes() == record
    assert env.core.get_corpus("docs") == before


def test_delete_during_a_build_cancels_it(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.core.add("docs", make_items(random_vectors(50)))
    gate = Gate(monkeypatch)
    env.core.rebuild("docs")
    assert gate.entered.wait(WAIT_S)
    env.core.delete_corpus("docs")  # cancels and joins the build
    assert env.keys() == []
    with pytest.raises(errors.NotFound):
        env.core.get_corpus("docs")


def test_add_batches_reports_progress_and_checkpoints(env: Env) -> None:
    vectors = random_vectors(1000)
    progress: list[int] = []
    batches = [make_items(vectors[i : i + 100], start=i) for i in range(0, 1000, 100)]
    assert env.core.add_batches("docs", iter(batches), progress.append) == 1000
    assert progress == sorted(progress) and progress[-1] == 1000 and len(progress) >= 3  # bulk_rows=256
    assert sum("/log/" in k for k in env.keys()) >= 3  # durable as write-log entries first ...
    assert env.core.wait_for_build("docs", WAIT_S) == 2
    assert not any("/log/" in k for k in env.keys())  # ... then folded into a generation
    assert _ids(env.core, vectors[777], 1) == ["i777"]
    with pytest.raises(errors.AlreadyExists):
        env.core.add_batches("docs", [make_items(vectors[:5])])
    with pytest.raises(errors.InvalidArgument) as exc:
        env.core.add_batches("docs", [make_items(vectors[:2], prefix="d"), make_items(vectors[:2], prefix="d")])
    assert exc.value.reason == "DUPLICATE_IDS"
    assert env.core.add_batches("docs", [make_items(vectors[:5])], upsert=True) == 5
    assert env.core.get_corpus("docs").count == 1000


def test_concurrent_adds_to_four_corpora(env: Env) -> None:
    core = env.core
    names = ["c0", "c1", "c2", "c3"]
    for name in names:
        core.create_corpus(name, dimension=DIM)
    data = {name: random_vectors(300, seed=10 + i) for i, name in enumerate(names)}
    failures: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for start in range(0, 300, 30):
                core.add(name, make_items(data[name][start : start + 30], prefix=name, start=start))
                assert _ids(core, data[name][start], 1, name) == [f"{name}{start}"]
            core.delete(name, [f"{name}{i}" for i in range(0, 300, 10)])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    for name in names:
        assert core.get_corpus(name).count == 270
        for i in (1, 151, 299):
            assert _ids(core, data[name][i], 1, name) == [f"{name}{i}"]
        assert f"{name}10" not in _ids(core, data[name][10], 5, name)


def test_a_stalled_write_blocks_only_its_own_corpus(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    core = env.core
    core.create_corpus("other", dimension=DIM)
    core.add("docs", make_items(random_vectors(20)))
    stalled, release = threading.Event(), threading.Event()
    real = corpus_module.write_log

    def slow_write_log(store, name, batch, dimension):
        if name == "docs":
            stalled.set()
            release.wait(WAIT_S)
        return real(store, name, batch, dimension)

    monkeypatch.setattr(corpus_module, "write_log", slow_write_log)
    blocked = threading.Thread(target=core.add, args=("docs", make_items(random_vectors(5, seed=1), prefix="x")))
    blocked.start()
    try:
        assert stalled.wait(WAIT_S)  # "docs" now holds its corpus lock, mid-write
        assert core.add("other", make_items(random_vectors(5))).changed == 5  # another corpus: not blocked
        assert _ids(core, random_vectors(20)[3], 1) == ["i3"]  # searches of "docs" take no corpus lock
        assert core.get_corpus("other").count == 5
        assert blocked.is_alive()
    finally:
        release.set()
        blocked.join()
    assert core.get_corpus("docs").count == 25
