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
    ItemsResult,
    RemoteVector,
    SearchResult,
    VectorApi,
    WriteResult,
)
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import ModelSettings, Settings, VectorSettings
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


def _staff_corpus(api: VectorApi) -> str:
    """Twelve items on a line of angles, with metadata of every filterable type."""
    name = _name()
    api.create_corpus(name, dimension=4, metric="cosine", description="temp staff", tags=["workers", "primary"])
    items = []
    for i in range(12):
        angle = i * 0.1
        metadata = {"state": ["IL", "WI", "IN"][i % 3], "years": i, "certs": ["OSHA-10"] if i % 2 else []}
        if i == 5:
            metadata.pop("state")  # missing a filtered key: never matches it
        vector = np.array([np.cos(angle), np.sin(angle), 0, 0], dtype=np.float32)
        items.append(Item(f"w{i}", vector=vector, text=f"worker {i}", metadata=metadata))
    api.add(name, items)
    return name


QUERY = np.array([1, 0, 0, 0], dtype=np.float32)


def test_filtered_search_applies_the_metadata_filter_g3_6(api: VectorApi) -> None:
    name = _staff_corpus(api)
    result = api.search(name, vector=QUERY, k=12, filter={"state": "IL"})
    assert [h.id for h in result.hits] == ["w0", "w3", "w6", "w9"]  # G3.6.A: only IL, best first
    assert result.filtered_out == 8
    both = api.search(name, vector=QUERY, k=12, filter={"state": ["IL", "WI"]})
    assert {h.metadata["state"] for h in both.hits} == {"IL", "WI"} and len(both.hits) == 8  # G3.6.B
    anded = api.search(name, vector=QUERY, k=12, filter={"state": ["IL", "WI", "IN"], "years": {"gte": 4}})
    assert [h.id for h in anded.hits] == ["w4", "w6", "w7", "w8", "w9", "w10", "w11"]  # G3.6.C: w5 has no state
    nested = api.search(
        name, vector=QUERY, k=12, filter={"$or": [{"certs": "OSHA-10", "years": {"lt": 4}}, {"state": "IN"}]}
    )
    assert [h.id for h in nested.hits] == ["w1", "w2", "w3", "w8", "w11"]


def test_a_filter_and_an_allow_list_combine(api: VectorApi) -> None:
    name = _staff_corpus(api)
    result = api.search(name, vector=QUERY, k=5, filter={"state": "IL"}, allowed_ids=["w3", "w4", "w9"])
    assert [h.id for h in result.hits] == ["w3", "w9"]


def test_a_write_refreshes_the_filtered_rows(api: VectorApi) -> None:
    name = _staff_corpus(api)
    assert len(api.search(name, vector=QUERY, k=12, filter={"state": "IL"}).hits) == 4
    api.upsert(
        name, [Item("w1", vector=QUERY, metadata={"state": "IL"}), Item("new", vector=QUERY, metadata={"state": "IL"})]
    )
    api.delete(name, ["w0"])
    result = api.search(name, vector=QUERY, k=12, filter={"state": "IL"})
    assert sorted(h.id for h in result.hits) == ["new", "w1", "w3", "w6", "w9"]


def test_a_malformed_filter_names_its_field(api: VectorApi) -> None:
    name = _staff_corpus(api)
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(name, vector=QUERY, filter={"years": {"gte": "three"}})
    assert err.value.reason == "INVALID_FILTER"
    assert err.value.violations[0].field == "filter.years.gte"
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(name, vector=QUERY, filter={"name": {"regex": "(a+)+\\1"}})  # a backreference: not RE2
    assert err.value.violations[0].field == "filter.name.regex"


def test_include_text_and_description_round_trip(api: VectorApi) -> None:
    name = _staff_corpus(api)
    info = api.get_corpus(name)
    assert (info.description, info.tags) == ("temp staff", ("workers", "primary"))
    assert api.search(name, vector=QUERY, k=1).hits[0].text == "worker 0"
    assert api.search(name, vector=QUERY, k=1, include_text=False).hits[0].text is None
    with pytest.raises(errors.InvalidArgument) as err:
        api.create_corpus(_name(), dimension=4, tags=["no spaces"])
    assert err.value.violations[0].field == "tags[0]"


def test_search_batch_answers_each_query_like_search(api: VectorApi) -> None:
    from lakehouse.api.vector import Query

    name = _staff_corpus(api)
    queries = [Query(vector=QUERY), Query(vector=np.array([0, 1, 0, 0], np.float32)), Query(text="worker 3")]
    results = api.search_batch(name, queries[:2], k=3, filter={"state": ["IL", "WI"]})
    for query, result in zip(queries[:2], results, strict=True):
        single = api.search(name, vector=query.vector, k=3, filter={"state": ["IL", "WI"]})
        assert [h.id for h in result.hits] == [h.id for h in single.hits]
    with pytest.raises(errors.InvalidArgument) as err:
        api.search_batch(name, [Query(vector=QUERY), Query(vector=np.ones(3, np.float32))])
    assert err.value.violations[0].field == "queries[1].vector"
    with pytest.raises(errors.InvalidArgument):
        api.search_batch(name, [])


def test_search_batch_takes_the_vectors_as_one_matrix(api: VectorApi) -> None:
    from lakehouse.api.vector import Query

    name = _staff_corpus(api)
    matrix = np.array([QUERY, [0, 1, 0, 0], [0, 0, 2, 1]], np.float32)
    by_query = api.search_batch(name, [Query(vector=row) for row in matrix], k=3, filter={"state": ["IL", "WI"]})
    assert api.search_batch(name, matrix, k=3, filter={"state": ["IL", "WI"]}) == by_query
    assert api.search_batch(name, matrix.astype(np.float64), k=3, filter={"state": ["IL", "WI"]}) == by_query
    with pytest.raises(errors.InvalidArgument) as err:
        api.search_batch(name, np.ones((2, 3), np.float32))
    assert (err.value.reason, err.value.violations[0].field) == ("DIMENSION_MISMATCH", "query_matrix")
    with pytest.raises(errors.InvalidArgument) as err:
        api.search_batch(name, np.array([QUERY, [np.nan, 0, 0, 0]], np.float32))
    assert (err.value.reason, err.value.violations[0].field) == ("NON_FINITE_VECTOR", "query_matrix[1]")
    with pytest.raises(errors.InvalidArgument) as err:
        api.search_batch(name, np.zeros((2, 4), np.float32))  # cosine: no direction
    assert err.value.reason == "ZERO_VECTOR"
    with pytest.raises(errors.InvalidArgument) as err:
        api.search_batch(name, np.zeros((0, 4), np.float32))
    assert err.value.reason == "INVALID_QUERY"


def test_get_items_round_trips_text_metadata_and_the_stored_vector(api: VectorApi) -> None:
    name = _staff_corpus(api)
    api.upsert(name, [Item("raw", vector=np.array([3, 4, 0, 0], np.float32), metadata={"k": "v"})])
    result = api.get_items(name, ["w3", "raw"], include_vectors=True)
    assert isinstance(result, ItemsResult) and result.generation == api.get_corpus(name).generation
    w3, raw = result.items
    assert (w3.id, w3.text, w3.metadata) == ("w3", "worker 3", {"state": "IL", "years": 3, "certs": ["OSHA-10"]})
    assert np.allclose(w3.vector, [np.cos(0.3), np.sin(0.3), 0, 0], atol=1e-6)
    assert (raw.id, raw.text, raw.metadata) == ("raw", None, {"k": "v"})
    assert np.allclose(raw.vector, [0.6, 0.8, 0, 0], atol=1e-6)  # as stored: unit length for cosine
    assert all(i.vector is None for i in api.get_items(name, ["w3", "raw"]).items)


def test_get_items_keeps_request_order_and_omits_unknown_and_deleted_ids(api: VectorApi) -> None:
    name = _staff_corpus(api)
    api.delete(name, ["w4"])
    result = api.get_items(name, ["w9", "nobody", "w4", "w0", "w2"])
    assert [i.id for i in result.items] == ["w9", "w0", "w2"]
    assert api.get_items(name, ["nobody"]).items == []
    api.upsert(name, [Item("w4", vector=QUERY, text="back")])
    assert [(i.id, i.text) for i in api.get_items(name, ["w4"]).items] == [("w4", "back")]


MAX_IDS = VectorSettings().max_items_per_request  # the server fixture's default


@pytest.mark.parametrize(
    ("ids", "error", "reason"),
    [
        (["w1", "w2", "w1"], errors.InvalidArgument, "DUPLICATE_IDS"),
        ([f"id{i}" for i in range(MAX_IDS + 1)], errors.InvalidArgument, "TOO_MANY_ITEMS"),
        ([""], errors.InvalidArgument, "INVALID_ID"),
    ],
    ids=["duplicates", "too-many", "empty-id"],
)
def test_get_items_refuses_bad_ids(api: VectorApi, ids, error, reason) -> None:
    name = _staff_corpus(api)
    with pytest.raises(error) as err:
        api.get_items(name, ids)
    assert type(err.value) is error and err.value.reason == reason, err.value
    assert err.value.violations and err.value.violations[0].field.startswith("ids")


def test_get_items_of_an_unknown_corpus_is_not_found(api: VectorApi) -> None:
    with pytest.raises(errors.NotFound) as err:
        api.get_items(_name(), ["a"])
    assert err.value.reason == "CORPUS_NOT_FOUND"


def test_an_upsert_returns_the_new_metadata_through_every_cache(api: VectorApi) -> None:
    name = _name()
    api.create_corpus(name, dimension=4)
    api.add(name, [Item("a", vector=QUERY, metadata={"state": "IL", "n": 1})])
    assert api.search(name, vector=QUERY, k=1).hits[0].metadata == {"state": "IL", "n": 1}
    api.upsert(name, [Item("a", vector=QUERY, metadata={"state": "WI"})])
    assert api.search(name, vector=QUERY, k=1).hits[0].metadata == {"state": "WI"}


def test_hit_stems_merge_the_same_messages_they_would_build() -> None:
    from lakehouse.api.vector import Hit, HitStems
    from lakehouse.v1 import matrix_pb2, vector_pb2

    stems = HitStems(max_rows=2)
    rows = [
        Hit(f"h{i}", 0.5, {"state": s, "certs": ["a", {"b": 1}], "n": i}, None, (1, i)) for i, s in enumerate("ABC")
    ]
    for _ in range(2):  # the second round is served from the cache (and past max_rows, rebuilt)
        for hit in [*rows, Hit("remote", 0.1, {"x": None}), Hit("bare", 0.2, {}, None, (2, 0))]:
            for kind in (vector_pb2.SearchResult, matrix_pb2.MatrixResult):  # their own field numbers
                built, merged = kind(id=hit.id), kind()
                built.metadata.update(hit.metadata)
                stems.fill(merged, hit)
                assert merged == built
                assert merged.SerializeToString(deterministic=True) == built.SerializeToString(deterministic=True)
    assert len(stems._bytes) <= 2


def test_a_filter_that_keeps_every_row_searches_like_no_filter(api: VectorApi) -> None:
    name = _staff_corpus(api)
    api.delete(name, ["w5"])  # the one row without a state
    every = api.search(name, vector=QUERY, k=5, filter={"state": {"exists": True}})
    plain = api.search(name, vector=QUERY, k=5)
    assert [h.id for h in every.hits] == [h.id for h in plain.hits] and every.filtered_out == 0
