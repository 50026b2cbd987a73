"""The vector API's contract, run against both implementations: VectorCore in-process
and RemoteVector over gRPC (lakehouse.api.vector). Same domain types, same errors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.ingest import IngestSpec
from lakehouse.api.vector import (
    BuildResult,
    ColumnMapping,
    CorpusInfo,
    Item,
    RemoteVector,
    SearchResult,
    VectorApi,
    WriteResult,
)
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import ModelSettings, Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    settings = Settings(
        home=tmp_path_factory.mktemp("vector-contract") / "home",
        models=ModelSettings(embed_provider="hash", embed_model="hash-16"),
    )
    lh = build_server(settings, "storage,catalog,ingest,query,models,vector")
    people = b"id,name,state\n1,ann lee,IL\n2,bo diaz,WI\n3,cy wu,IL\n"
    lh.runtime.ingest.ingest(IngestSpec("people", mode=WriteMode.CREATE), [people])
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[VectorApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.vector, RemoteVector)


def _name() -> str:
    return f"contract_{next(_names)}"


def _items() -> list[Item]:
    return [
        Item("a", vector=np.array([1, 0, 0, 0], dtype=np.float32), metadata={"state": "IL"}),
        Item("b", vector=np.array([0, 1, 0, 0], dtype=np.float32), metadata={"state": "WI"}),
        Item("c", vector=np.array([0.9, 0.1, 0, 0], dtype=np.float32), metadata={"state": "IL", "n": 3}),
    ]


def test_corpus_lifecycle_returns_the_same_domain_type(api: VectorApi) -> None:
    name = _name()
    created = api.create_corpus(name, dimension=4, metric="cosine")
    assert isinstance(created, CorpusInfo) and created.name == name and created.dimension == 4
    assert created.created_at.tzinfo is not None
    assert api.add(name, _items()) == WriteResult(changed=3, count=3)
    info = api.get_corpus(name)
    assert (info.count, info.metric, info.embedding_model) == (3, "cosine", "")
    assert name in {c.name for c in api.list_corpora()}
    assert api.delete(name, ["b", "unknown"]) == WriteResult(changed=1, count=2)
    assert api.upsert(name, _items()[:2]) == WriteResult(changed=2, count=3)
    api.delete_corpus(name)
    with pytest.raises(errors.NotFound) as info_err:
        api.get_corpus(name)
    assert info_err.value.reason == "CORPUS_NOT_FOUND"


def test_build_corpus_from_a_dataset(api: VectorApi) -> None:
    name = _name()
    mapping = ColumnMapping(id_column="id", text_columns=("name",), metadata_columns=("state",))
    built = api.build_corpus(name, "people", mapping)
    assert isinstance(built, BuildResult) and built.items == 3
    assert isinstance(built.corpus, CorpusInfo) and (built.corpus.name, built.corpus.count) == (name, 3)
    hits = api.search(name, text="ann lee", k=1).hits
    assert hits[0].id == "1" and hits[0].metadata == {"state": "IL"}


def test_search_by_vector_and_by_allowed_ids(api: VectorApi) -> None:
    name = _name()
    api.create_corpus(name, dimension=4)
    api.add(name, _items())
    result = api.search(name, vector=np.array([1, 0, 0, 0], dtype=np.float32), k=2)
    assert isinstance(result, SearchResult)
    assert [h.id for h in result.hits] == ["a", "c"] and result.hits[0].score == pytest.approx(1.0)
    assert result.hits[1].metadata == {"state": "IL", "n": 3}
    only = api.search(name, vector=np.array([1, 0, 0, 0], dtype=np.float32), k=2, allowed_ids=["b"])
    assert [h.id for h in only.hits] == ["b"] and only.exact


def test_search_by_text_keeps_the_text(api: VectorApi) -> None:
    name = _name()
    api.create_corpus(name)
    api.upsert(name, [Item("w1", text="forklift operator, OSHA-10"), Item("w2", text="line cook")])
    hits = api.search(name, text="forklift operator, OSHA-10", k=1).hits
    assert [(h.id, h.text) for h in hits] == [("w1", "forklift operator, OSHA-10")]


@pytest.mark.parametrize(
    ("call", "error", "reason"),
    [
        (lambda a, n: a.get_corpus(n), errors.NotFound, "CORPUS_NOT_FOUND"),
        (lambda a, n: a.create_corpus("Bad Name"), errors.InvalidArgument, "INVALID_CORPUS_NAME"),
        (lambda a, n: a.create_corpus(n, metric="manhattan", dimension=4), errors.InvalidArgument, "INVALID_METRIC"),
        (
            lambda a, n: (a.create_corpus(n, dimension=4), a.create_corpus(n, dimension=4)),
            errors.AlreadyExists,
            "CORPUS_ALREADY_EXISTS",
        ),
        (
            lambda a, n: (a.create_corpus(n, dimension=4), a.add(n, [Item("x", vector=[1.0, 2.0])])),
            errors.InvalidArgument,
            "DIMENSION_MISMATCH",
        ),
        (
            lambda a, n: (a.create_corpus(n, dimension=4), a.add(n, _items()), a.add(n, _items()[:1])),
            errors.AlreadyExists,
            "ITEM_ALREADY_EXISTS",
        ),
        (lambda a, n: (a.create_corpus(n, dimension=4), a.add(n, [])), errors.InvalidArgument, "INVALID_FIELD"),
        (
            lambda a, n: a.build_corpus(n, "nobody", ColumnMapping("id", ("name",))),
            errors.NotFound,
            "DATASET_NOT_FOUND",
        ),
        (
            lambda a, n: a.build_corpus(n, "people", ColumnMapping("id", ("surname",))),
            errors.InvalidArgument,
            "UNKNOWN_COLUMN",
        ),
    ],
    ids=[
        "missing",
        "bad-name",
        "bad-metric",
        "duplicate-corpus",
        "dimension",
        "duplicate-item",
        "no-items",
        "build-missing-dataset",
        "build-unknown-column",
    ],
)
def test_errors_are_the_same_both_ways(api: VectorApi, call, error, reason) -> None:
    with pytest.raises(error) as info:
        call(api, _name())
    assert type(info.value) is error and info.value.reason == reason, info.value
