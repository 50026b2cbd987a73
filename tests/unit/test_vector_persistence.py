"""Persistence on the lake: layout, restart without re-embedding or rebuilding, log replay,
checkpoints, corrupt sidecars (repaired) and corrupt rows (fallback), the state-dir lock."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.servers.vector.index import LiveIndex
from lakehouse.servers.vector.model import Item
from tests.support.vector_env import DIM, Env, FakeEmbedder, make_items, random_vectors, tuning


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path, embedder=FakeEmbedder())
    yield e
    e.close()


def _texts(start: int, n: int) -> list[Item]:
    return [Item(f"t{i}", text=f"profile {i}", metadata={"i": i}) for i in range(start, start + n)]


def _state(core, queries: np.ndarray) -> tuple:
    """Everything a restart must preserve: counts and the results of some searches."""
    info = core.get_corpus("docs")
    results = [
        [(h.id, round(h.score, 5), h.metadata, h.text) for h in core.search("docs", vector=q, k=5).hits]
        for q in queries
    ]
    return (info.count, info.tombstones, info.generation), results


@pytest.fixture
def no_graph_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("the graph was rebuilt instead of deserialized")

    monkeypatch.setattr(LiveIndex, "build", classmethod(fail))


def _populate(env: Env) -> None:
    """A checkpointed bulk load, then logged writes after it: adds, an upsert, deletes."""
    core = env.core
    core.create_corpus("docs")
    core.add_batches("docs", [_texts(0, 100), _texts(100, 100)])
    core.wait_for_build("docs", 60)
    core.add("docs", _texts(200, 20))
    core.upsert("docs", [Item("t5", text="profile five, updated", metadata={"i": 5, "v": 2})])
    core.delete("docs", ["t7", "t201"])


def test_layout_on_the_lake(env: Env) -> None:
    env.core.create_corpus("docs")
    env.core.add_batches("docs", [_texts(0, 50)])
    gen = env.core.wait_for_build("docs", 60)  # the bulk load's background checkpoint
    prefix = f"corpora/docs/gen-{gen}/"
    assert env.keys() == ["corpora/docs/corpus.json"] + [
        prefix + f for f in ("hnsw.faiss", "manifest.json", "vectors.parquet")
    ]
    manifest = json.loads(env.path(prefix + "manifest.json").read_text())
    assert (manifest["generation"], manifest["rows"], manifest["count"]) == (gen, 50, 50)
    assert manifest["params"] == {"dimension": DIM, "metric": "cosine", "hnsw_m": 16, "ef_construction": 100}
    for name in ("hnsw.faiss", "vectors.parquet"):
        data = env.path(prefix + name).read_bytes()
        assert manifest["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    table = pq.read_table(env.path(prefix + "vectors.parquet"))
    assert table.schema.field("vector").type == pa.list_(pa.float32(), DIM)
    assert table.column_names == ["id", "label", "vector", "metadata", "text", "deleted"]
    assert table.column("label").to_pylist() == list(range(50))
    assert json.loads(table.column("metadata")[3].as_py()) == {"i": 3}
    record = json.loads(env.path("corpora/docs/corpus.json").read_text())
    assert (record["active"], record["previous"], record["dimension"]) == (gen, 0, DIM)


def test_restart_restores_without_embedding_or_rebuilding(env: Env, no_graph_builds: None) -> None:
    _populate(env)
    assert any("/log/" in k for k in env.keys())  # writes after the checkpoint live in the log
    queries = np.stack([env.embedder.embed([f"profile {i}"], "")[0] for i in (1, 5, 7, 150, 210)])
    before = _state(env.core, queries)
    embedder = FakeEmbedder()
    env.restart(embedder=embedder)
    assert _state(env.core, queries) == before
    assert embedder.calls == 0
    ids = [h.id for h in env.core.search("docs", vector=queries[2], k=220).hits]
    assert "t7" not in ids and "t201" not in ids and len(ids) == 218
    top = env.core.search("docs", text="profile five, updated", k=1).hits[0]
    assert (top.id, top.metadata) == ("t5", {"i": 5, "v": 2})
    assert embedder.calls == 1  # the text query, nothing else


def test_checkpoint_folds_the_log(env: Env, no_graph_builds: None) -> None:
    _populate(env)
    queries = random_vectors(4, seed=3)
    before_gen = env.core.get_corpus("docs").generation
    new_gen = env.core.checkpoint("docs")
    assert new_gen > before_gen
    assert env.core.checkpoint("docs") == new_gen  # nothing left to fold
    assert not any("/log/" in k for k in env.keys())
    assert not any(f"gen-{before_gen}/" in k for k in env.keys())
    info = env.core.get_corpus("docs")
    assert (info.generation, info.generations, info.count, info.tombstones) == (new_gen, (new_gen,), 218, 3)
    before = _state(env.core, queries)
    env.restart()
    assert _state(env.core, queries) == before


def test_background_checkpoint_after_enough_logged_items(tmp_path: Path) -> None:
    env = Env(tmp_path, tuning=tuning(checkpoint_min_items=30, checkpoint_fraction=0.0))
    try:
        env.core.create_corpus("docs", dimension=DIM)
        env.core.add("docs", make_items(random_vectors(20)))
        assert env.core.wait_for_build("docs", 30) == 1  # 20 < 30: nothing started
        env.core.add("docs", make_items(random_vectors(20, seed=1), start=20))
        assert env.core.wait_for_build("docs", 30) == 2
        assert env.core.get_corpus("docs").count == 40
        assert not any("/log/" in k for k in env.keys())
    finally:
        env.close()


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove", "garbage"])
def test_corrupt_sidecar_is_rebuilt_from_vectors(env: Env, caplog: pytest.LogCaptureFixture, damage: str) -> None:
    _populate(env)
    gen = env.core.checkpoint("docs")
    queries = random_vectors(4, seed=4)
    counts, _ = _state(env.core, queries)
    sidecar = env.path(f"corpora/docs/gen-{gen}/hnsw.faiss")
    data = bytearray(sidecar.read_bytes())
    env.core.close()
    if damage == "flip":  # inside the stored vectors (the end of the file): FAISS alone would not notice
        at = len(data) - 256
        data[at : at + 64] = bytes(b ^ 0xFF for b in data[at : at + 64])
        sidecar.write_bytes(bytes(data))
    elif damage == "truncate":
        sidecar.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "remove":
        sidecar.unlink()
    else:
        sidecar.write_bytes(b"not a faiss index at all")
    embedder = FakeEmbedder()
    with caplog.at_level(logging.WARNING, logger="lakehouse.servers.vector"):
        env.restart(embedder=embedder)
    assert any("sidecar" in r.message and "rebuilding" in r.message for r in caplog.records)
    assert embedder.calls == 0
    assert _state(env.core, queries)[0] == counts
    for i in (0, 50, 150, 219):  # items are found by their own vectors again
        vector = FakeEmbedder().embed([f"profile {i}"], "")[0]
        assert env.core.search("docs", vector=vector, k=1).hits[0].id == f"t{i}"
    manifest = json.loads(env.path(f"corpora/docs/gen-{gen}/manifest.json").read_text())
    assert manifest["files"]["hnsw.faiss"]["sha256"] == hashlib.sha256(sidecar.read_bytes()).hexdigest()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lakehouse.servers.vector"):
        env.restart()  # the rewritten sidecar loads cleanly
    assert not caplog.records


def test_corrupt_rows_fall_back_to_the_previous_generation(env: Env) -> None:
    _populate(env)
    env.core.rebuild("docs")
    env.core.wait_for_build("docs", 60)
    gen = env.core.swap("docs")
    env.core.add("docs", _texts(300, 5))  # logged after the swap
    queries = random_vectors(4, seed=5)
    counts, results = _state(env.core, queries)
    env.core.close()
    rows = env.path(f"corpora/docs/gen-{gen}/vectors.parquet")
    rows.write_bytes(rows.read_bytes()[:-100] + b"x" * 100)
    env.restart()
    info = env.core.get_corpus("docs")
    assert info.generation != gen and gen not in info.generations
    assert (info.count, info.previous_generation) == (counts[0], 0)
    assert _state(env.core, queries)[1] == results  # same items, via the old graph + replayed log
    assert rows.exists()  # the damaged generation is left for inspection


def test_unloadable_corpus_is_unavailable_and_deletable(env: Env) -> None:
    env.core.create_corpus("docs")
    env.core.create_corpus("other")
    env.core.add("other", _texts(0, 3))
    env.core.close()
    env.path("corpora/docs/gen-1/vectors.parquet").write_bytes(b"garbage")
    env.restart()
    assert [c.name for c in env.core.list_corpora()] == ["other"]
    assert env.core.get_corpus("other").count == 3
    with pytest.raises(errors.Unavailable) as exc:
        env.core.search("docs", vector=np.ones(DIM))
    assert exc.value.reason == "CORPUS_UNAVAILABLE"
    with pytest.raises(errors.AlreadyExists):
        env.core.create_corpus("docs")
    env.core.delete_corpus("docs")
    assert not any(k.startswith("corpora/docs/") for k in env.keys())
    env.core.create_corpus("docs")


def test_crashed_build_leftovers_are_collected(env: Env) -> None:
    env.core.create_corpus("docs")
    env.core.add("docs", _texts(0, 3))
    env.core.close()
    orphan = env.path("corpora/docs/gen-7/vectors.parquet")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half written")
    env.restart()
    assert not orphan.exists()
    assert env.core.get_corpus("docs").count == 3
    env.core.rebuild("docs")
    assert env.core.wait_for_build("docs", 60) == 8  # numbering never reuses a leftover's number


def test_unreferenced_checkpoint_is_collected_but_a_built_generation_stays_swappable(env: Env) -> None:
    env.core.create_corpus("docs")
    env.core.add("docs", _texts(0, 10))
    built = env.core.rebuild("docs")
    env.core.wait_for_build("docs", 60)
    env.core.close()
    # A checkpoint that crashed after its manifest but before moving the pointer:
    for name in ("vectors.parquet", "hnsw.faiss", "manifest.json"):
        target = env.path(f"corpora/docs/gen-9/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(env.path(f"corpora/docs/gen-{built}/{name}").read_bytes())
    manifest = json.loads(env.path("corpora/docs/gen-9/manifest.json").read_text())
    manifest.update(generation=9, kind="checkpoint")
    env.path("corpora/docs/gen-9/manifest.json").write_text(json.dumps(manifest))
    env.restart()
    assert env.core.get_corpus("docs").generations == (1, built)
    assert not env.path("corpora/docs/gen-9").exists()
    assert env.core.swap("docs") == built
    assert env.core.get_corpus("docs").count == 10


def test_one_core_per_state_dir(env: Env) -> None:
    with pytest.raises(errors.FailedPrecondition) as exc:
        env._open()
    assert exc.value.reason == "STATE_DIR_IN_USE"
    env.restart()  # after close, the directory is free again
