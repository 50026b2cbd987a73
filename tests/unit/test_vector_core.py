"""VectorCore API: corpora, items, scores, and every rejected input (with its reason)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.servers.settings import VectorSettings
from lakehouse.servers.vector.model import Item
from tests.support.vector_env import DIM, Env, FakeEmbedder, make_items, random_vectors, text_vector, unit


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path, embedder=FakeEmbedder(), settings=VectorSettings(max_k=50, max_items_per_request=100))
    yield e
    e.close()


@pytest.fixture
def core(env: Env):
    return env.core


def _reason(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.reason


# Corpora -----------------------------------------------------------------------


def test_create_uses_defaults_and_embedder_dimension(core) -> None:
    info = core.create_corpus("docs")
    settings = VectorSettings()
    assert (info.dimension, info.metric, info.hnsw_m, info.ef_construction) == (
        DIM,
        settings.metric,
        settings.hnsw_m,
        settings.ef_construction,
    )
    assert (info.count, info.tombstones, info.generation, info.generations, info.building) == (0, 0, 1, (1,), False)
    assert info.bytes > 0


def test_create_list_get_delete(env: Env, core) -> None:
    core.create_corpus("b_corpus", dimension=4, metric="l2", hnsw_m=8, ef_construction=40)
    core.create_corpus("a_corpus", dimension=8, metric="ip")
    assert [c.name for c in core.list_corpora()] == ["a_corpus", "b_corpus"]
    info = core.get_corpus("b_corpus")
    assert (info.dimension, info.metric, info.hnsw_m, info.ef_construction) == (4, "l2", 8, 40)
    assert any(k.startswith("corpora/b_corpus/") for k in env.keys())
    core.delete_corpus("b_corpus")
    assert [c.name for c in core.list_corpora()] == ["a_corpus"]
    assert not any(k.startswith("corpora/b_corpus/") for k in env.keys())
    with pytest.raises(errors.NotFound) as exc:
        core.get_corpus("b_corpus")
    assert _reason(exc) == "CORPUS_NOT_FOUND"
    # The name is free again, and the new corpus starts empty.
    assert core.create_corpus("b_corpus", dimension=4).count == 0


def test_create_duplicate_is_already_exists(core) -> None:
    core.create_corpus("docs")
    with pytest.raises(errors.AlreadyExists) as exc:
        core.create_corpus("docs")
    assert _reason(exc) == "CORPUS_ALREADY_EXISTS"


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"name": "Bad-Name"}, "corpus", "INVALID_CORPUS_NAME"),
        ({"name": "9lives"}, "corpus", "INVALID_CORPUS_NAME"),
        ({"name": "x" * 64}, "corpus", "INVALID_CORPUS_NAME"),
        ({"metric": "hamming"}, "metric", "INVALID_METRIC"),
        ({"hnsw_m": 3}, "hnsw_m", "INVALID_HNSW_PARAMS"),
        ({"hnsw_m": 129}, "hnsw_m", "INVALID_HNSW_PARAMS"),
        ({"ef_construction": 7}, "ef_construction", "INVALID_HNSW_PARAMS"),
        ({"ef_construction": 4096}, "ef_construction", "INVALID_HNSW_PARAMS"),
        ({"dimension": 4097}, "dimension", "INVALID_DIMENSION"),
        ({"dimension": -1}, "dimension", "INVALID_DIMENSION"),
        ({"dimension": 8, "embedding_model": "m"}, "dimension", "DIMENSION_MISMATCH"),
    ],
)
def test_create_rejects_bad_parameters(core, kwargs: dict, field: str, reason: str) -> None:
    kwargs = {"name": "docs", **kwargs}
    with pytest.raises(errors.InvalidArgument) as exc:
        core.create_corpus(**kwargs)
    assert _reason(exc) == reason
    assert exc.value.violations[0].field == field
    assert core.list_corpora() == []


class ResolvingEmbedder(FakeEmbedder):
    def resolve(self, model: str) -> str:
        return f"local/{model or 'default-model'}"


def test_corpus_records_the_resolved_model_name(tmp_path: Path) -> None:
    env = Env(tmp_path, embedder=ResolvingEmbedder())
    try:
        assert env.core.create_corpus("a").embedding_model == "local/default-model"
        assert env.core.create_corpus("b", embedding_model="mini").embedding_model == "local/mini"
        assert env.core.create_corpus("c", dimension=8).embedding_model == ""  # vectors only: nothing to pin
    finally:
        env.close()


def test_dimension_required_without_embedder(tmp_path: Path) -> None:
    env = Env(tmp_path, embedder=None)
    try:
        with pytest.raises(errors.InvalidArgument) as exc:
            env.core.create_corpus("docs")
        assert _reason(exc) == "DIMENSION_REQUIRED"
        env.core.create_corpus("docs", dimension=4)
        env.core.add("docs", [Item("a", [1, 0, 0, 0])])
        with pytest.raises(errors.FailedPrecondition) as exc:
            env.core.add("docs", [Item("b", text="no embedder")])
        assert _reason(exc) == "EMBEDDER_UNAVAILABLE"
        with pytest.raises(errors.FailedPrecondition):
            env.core.search("docs", text="query")
    finally:
        env.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_corpus("missing"),
        lambda c: c.delete_corpus("missing"),
        lambda c: c.add("missing", [Item("a", np.ones(DIM))]),
        lambda c: c.upsert("missing", [Item("a", np.ones(DIM))]),
        lambda c: c.delete("missing", ["a"]),
        lambda c: c.search("missing", vector=np.ones(DIM)),
        lambda c: c.rebuild("missing"),
        lambda c: c.swap("missing"),
        lambda c: c.rollback("missing"),
        lambda c: c.compact("missing"),
    ],
)
def test_unknown_corpus_is_not_found(core, call) -> None:
    with pytest.raises(errors.NotFound) as exc:
        call(core)
    assert _reason(exc) == "CORPUS_NOT_FOUND"


# Items -------------------------------------------------------------------------


def test_add_search_returns_metadata_and_text(core) -> None:
    core.create_corpus("docs")
    vectors = random_vectors(50)
    assert core.add("docs", make_items(vectors, tag="x")).changed == 50
    result = core.search("docs", vector=vectors[7], k=3)
    assert result.hits[0].id == "i7"
    assert result.hits[0].metadata == {"n": 7, "tag": "x"}
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert (result.exact, result.generation) == (False, 1)
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert core.get_corpus("docs").count == 50


def test_add_existing_id_is_already_exists_and_changes_nothing(core) -> None:
    core.create_corpus("docs")
    core.add("docs", make_items(random_vectors(5)))
    with pytest.raises(errors.AlreadyExists) as exc:
        core.add("docs", [Item("new", np.ones(DIM)), Item("i3", np.ones(DIM))])
    assert _reason(exc) == "ITEM_ALREADY_EXISTS"
    assert "'i3'" in exc.value.message
    assert core.get_corpus("docs").count == 5
    assert "new" not in [h.id for h in core.search("docs", vector=np.ones(DIM), k=10).hits]


def test_duplicate_ids_in_one_add_are_named(core) -> None:
    core.create_corpus("docs")
    vectors = random_vectors(4)
    items = [Item("a", vectors[0]), Item("b", vectors[1]), Item("a", vectors[2]), Item("b", vectors[3])]
    with pytest.raises(errors.InvalidArgument) as exc:
        core.add("docs", items)
    assert _reason(exc) == "DUPLICATE_IDS"
    assert "'a'" in exc.value.message and "'b'" in exc.value.message
    assert core.get_corpus("docs").count == 0


def test_upsert_replaces_vector_and_metadata(core) -> None:
    core.create_corpus("docs")
    vectors = random_vectors(20)
    core.add("docs", make_items(vectors))
    new_vector = random_vectors(1, seed=99)[0]
    assert core.upsert("docs", [Item("i4", new_vector, metadata={"v": 2}), Item("fresh", vectors[0])]).changed == 2
    info = core.get_corpus("docs")
    assert (info.count, info.tombstones) == (21, 1)
    top = core.search("docs", vector=new_vector, k=1).hits[0]
    assert (top.id, top.metadata) == ("i4", {"v": 2})
    # The old vector of i4 no longer finds i4 first (it is tombstoned).
    assert core.search("docs", vector=vectors[4], k=1).hits[0].id != "i4"


def test_delete_counts_existing_ids_and_hides_them(core) -> None:
    core.create_corpus("docs")
    vectors = random_vectors(30)
    core.add("docs", make_items(vectors))
    assert core.delete("docs", ["i1", "i2", "i2", "unknown"]).changed == 2
    assert core.delete("docs", ["i1"]).changed == 0
    info = core.get_corpus("docs")
    assert (info.count, info.tombstones) == (28, 2)
    ids = [h.id for h in core.search("docs", vector=vectors[1], k=30).hits]
    assert len(ids) == 28 and "i1" not in ids and "i2" not in ids
    # A deleted id can be added again.
    core.add("docs", [Item("i1", vectors[1])])
    assert core.search("docs", vector=vectors[1], k=1).hits[0].id == "i1"


def test_text_items_and_text_queries_use_the_embedder(env: Env, core) -> None:
    core.create_corpus("docs")
    core.add("docs", [Item(f"t{i}", text=f"text number {i}", metadata={"i": i}) for i in range(10)])
    assert env.embedder.calls == 1  # one call per batch
    hit = core.search("docs", text="text number 3", k=1).hits[0]
    assert (hit.id, hit.text, hit.score) == ("t3", "text number 3", pytest.approx(1.0, abs=1e-5))
    # A vector wins over text when both are given; the text is kept.
    vector = random_vectors(1, seed=5)[0]
    core.add("docs", [Item("both", vector, text="some words")])
    assert env.embedder.calls == 2  # only the search embedded
    hit = core.search("docs", vector=vector, k=1).hits[0]
    assert (hit.id, hit.text) == ("both", "some words")


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("cosine", lambda v, q: float(unit(v) @ unit(q))),
        ("ip", lambda v, q: float(v @ q)),
        ("l2", lambda v, q: -float(np.linalg.norm(v - q))),
    ],
)
def test_scores_per_metric_are_higher_is_better(core, metric: str, expected) -> None:
    core.create_corpus("docs", metric=metric)
    vectors = random_vectors(40)
    core.add("docs", make_items(vectors))
    query = random_vectors(1, seed=7)[0]
    for allowed in (None, ["i1", "i2", "i3"]):  # graph walk, then the exact path
        hits = core.search("docs", vector=query, k=3, allowed_ids=allowed).hits
        for hit in hits:
            assert hit.score == pytest.approx(expected(vectors[hit.metadata["n"]], query), rel=1e-4, abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# Rejected inputs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "reason", "field"),
    [
        (Item("a", np.ones(DIM + 1)), "DIMENSION_MISMATCH", "items[1].vector"),
        (Item("a", np.ones((2, DIM))), "INVALID_VECTOR", "items[1].vector"),
        (Item("a", ["x"] * DIM), "INVALID_VECTOR", "items[1].vector"),
        (Item("a", np.r_[np.ones(DIM - 1), np.nan]), "NON_FINITE_VECTOR", "items[1].vector"),
        (Item("a", np.r_[np.ones(DIM - 1), np.inf]), "NON_FINITE_VECTOR", "items[1].vector"),
        (Item("a", np.r_[np.ones(DIM - 1), 1e39]), "NON_FINITE_VECTOR", "items[1].vector"),  # overflows float32
        (Item("a", np.zeros(DIM)), "ZERO_VECTOR", "items[1].vector"),
        (Item("a"), "MISSING_VECTOR", "items[1]"),
        (Item("", np.ones(DIM)), "INVALID_ID", "items[1]"),
        (Item("a", np.ones(DIM), metadata=["not", "a", "dict"]), "INVALID_METADATA", "items[1].metadata"),
        (Item("a", np.ones(DIM), metadata={"x": float("nan")}), "INVALID_METADATA", "items[1].metadata"),
        (Item("a", np.ones(DIM), metadata={"x": object()}), "INVALID_METADATA", "items[1].metadata"),
    ],
)
def test_bad_items_are_rejected_whole(core, item: Item, reason: str, field: str) -> None:
    core.create_corpus("docs")
    with pytest.raises(errors.InvalidArgument) as exc:
        core.add("docs", [Item("ok", np.ones(DIM)), item])
    assert _reason(exc) == reason
    assert exc.value.violations[0].field == field
    assert core.get_corpus("docs").count == 0  # the good item was not added either


def test_too_many_items_per_request(core) -> None:
    core.create_corpus("docs")
    with pytest.raises(errors.InvalidArgument) as exc:
        core.add("docs", make_items(random_vectors(101)))
    assert _reason(exc) == "TOO_MANY_ITEMS"
    with pytest.raises(errors.InvalidArgument):
        core.delete("docs", [f"i{i}" for i in range(101)])
    with pytest.raises(errors.InvalidArgument) as exc:
        core.delete("docs", "i1")
    assert _reason(exc) == "INVALID_ID"


@pytest.mark.parametrize(
    ("kwargs", "reason", "text"),
    [
        ({"k": 0}, "INVALID_K", "positive"),
        ({"k": -3}, "INVALID_K", "positive"),
        ({"k": 51}, "INVALID_K", "at most 50"),
        ({"ef_search": -1}, "INVALID_EF_SEARCH", "ef_search"),
        ({"ef_search": 10**6}, "INVALID_EF_SEARCH", "ef_search"),
        ({"vector": np.ones(DIM + 2)}, "DIMENSION_MISMATCH", "dimension"),
        ({"vector": np.full(DIM, np.nan)}, "NON_FINITE_VECTOR", "NaN"),
        ({"vector": np.zeros(DIM)}, "ZERO_VECTOR", "zero"),
        ({"vector": None}, "INVALID_QUERY", "exactly one"),
        ({"text": "words"}, "INVALID_QUERY", "exactly one"),  # with the default vector too
        ({"allowed_ids": "i1"}, "INVALID_ID", "list"),
    ],
)
def test_bad_searches_are_rejected(core, kwargs: dict, reason: str, text: str) -> None:
    core.create_corpus("docs")
    core.add("docs", make_items(random_vectors(5)))
    kwargs = {"vector": np.ones(DIM), **kwargs}
    with pytest.raises(errors.InvalidArgument) as exc:
        core.search("docs", **kwargs)
    assert _reason(exc) == reason
    assert text in exc.value.message


def test_embedder_with_another_dimension_is_a_mismatch(tmp_path: Path) -> None:
    env = Env(tmp_path, embedder=FakeEmbedder(dim=DIM))
    try:
        env.core.create_corpus("docs", dimension=DIM * 2)  # no model named: allowed, for vectors
        with pytest.raises(errors.InvalidArgument) as exc:
            env.core.add("docs", [Item("t", text="hello")])
        assert _reason(exc) == "DIMENSION_MISMATCH"
    finally:
        env.close()


def test_search_edge_cases(core) -> None:
    core.create_corpus("docs")
    assert core.search("docs", vector=np.ones(DIM), k=5).hits == []  # empty corpus
    vectors = random_vectors(3)
    core.add("docs", make_items(vectors))
    assert len(core.search("docs", vector=np.ones(DIM), k=50).hits) == 3  # k larger than the corpus
    result = core.search("docs", vector=np.ones(DIM), k=5, allowed_ids=[])
    assert (result.hits, result.exact) == ([], True)  # an empty allow-list allows nothing
    result = core.search("docs", vector=vectors[0], k=5, allowed_ids=["unknown", "i2"])
    assert [h.id for h in result.hits] == ["i2"]  # unknown ids are ignored
    best = float(max(unit(vectors) @ unit(text_vector("some query"))))
    assert core.search("docs", text="some query", k=1).hits[0].score == pytest.approx(best, abs=1e-5)


def test_a_long_write_to_one_corpus_blocks_nothing_in_another_g3_4_d(core) -> None:
    """An add into corpus A is held inside its FAISS add (the graph's write side is taken
    first, so the add stops there holding every lock it took on the way); meanwhile adds and
    searches of corpora B, C and D all complete."""
    import threading
    import time

    names = ["busy", "free_b", "free_c", "free_d"]
    for name in names:
        core.create_corpus(name, dimension=DIM)
        core.add(name, make_items(random_vectors(5, seed=len(name))))
    busy = core._get("busy")
    done: list[str] = []

    def others() -> None:
        for name in names[1:]:
            core.add(name, [Item(f"{name}_new", vector=random_vectors(1, seed=7)[0])])
            assert core.search(name, vector=random_vectors(1, seed=8)[0], k=2).hits
            done.append(name)

    with busy.active.rw.write():
        long_add = threading.Thread(
            target=lambda: core.add("busy", make_items(random_vectors(3, seed=9), prefix="late"))
        )
        long_add.start()
        deadline = time.monotonic() + 30
        while busy.lock.acquire(blocking=False):  # until the add holds the corpus lock, waiting to apply
            busy.lock.release()
            assert time.monotonic() < deadline and long_add.is_alive()
            time.sleep(0.001)
        worker = threading.Thread(target=others, daemon=True)
        worker.start()
        worker.join(timeout=30)
        assert done == names[1:], "a write in progress in one corpus blocked another corpus"
        assert long_add.is_alive()  # still inside its add
    long_add.join(timeout=30)
    assert core.get_corpus("busy").count == 8
