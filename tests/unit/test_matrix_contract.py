"""The matrix API's contract, against both implementations: MatrixCore in-process and
RemoteMatrix over gRPC. Fusion, filters, the SQL gate, relevance, the downgrade gate,
batches, and a clean error for every bad request."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.ingest import IngestSpec
from lakehouse.api.matrix import (
    BELOW_MARGIN,
    BELOW_THRESHOLD,
    Candidate,
    MatrixApi,
    MatrixRequest,
    Relevance,
    RemoteMatrix,
)
from lakehouse.api.vector import Item, Query
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import MatrixMode, MatrixSettings, ModelSettings, Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

PEOPLE, JOBS, DISTANCES, NOTES = "m_people", "m_jobs", "m_distances", "m_notes"
QUERY = np.array([1, 0, 0, 0], dtype=np.float32)


def _at(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle), 0, 0], dtype=np.float32)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    modes = {
        "staffing": MatrixMode(corpora=[PEOPLE, JOBS], primary=JOBS, isolation="staffing_solo"),
        "staffing_solo": MatrixMode(corpora=[JOBS]),
    }
    settings = Settings(
        home=tmp_path_factory.mktemp("matrix-contract") / "home",
        models=ModelSettings(embed_provider="hash", embed_model="hash-64"),
        matrix=MatrixSettings(modes=modes, weak_models=["qwen2.5:*", "*:3b"]),
    )
    lh = build_server(settings, "storage,catalog,ingest,query,models,vector,matrix")
    vector = lh.runtime.vector
    vector.create_corpus(PEOPLE, dimension=4, description="temp workers", tags=["primary", "workers"])
    vector.add(
        PEOPLE,
        [
            Item(f"p{i}", vector=_at(i * 0.1), text=f"person {i}", metadata={"state": "IL" if i % 2 else "WI"})
            for i in range(6)
        ],
    )
    vector.create_corpus(JOBS, dimension=4, description="open job orders")
    vector.add(JOBS, [Item(f"j{i}", vector=_at(i * 0.1 + 0.05), metadata={"state": "IL"}) for i in range(6)])
    vector.create_corpus(DISTANCES, dimension=4, metric="l2")
    vector.add(DISTANCES, [Item(f"d{i}", vector=_at(i * 0.1)) for i in range(3)])
    vector.create_corpus(NOTES)  # embedded with the configured hash model
    vector.add(
        NOTES,
        [
            Item("forklift", text="forklift operator certified OSHA forklift warehouse"),
            Item("menu", text="cafeteria lunch menu soup salad"),
        ],
    )
    facts = b"person,skill,years\np1,forklift,3\np3,forklift,5\np4,welding,7\n"
    lh.runtime.ingest.ingest(IngestSpec("m_people_facts", mode=WriteMode.CREATE), [facts])
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[MatrixApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.matrix, RemoteMatrix)


def _ids(result) -> list[str]:
    return [h.id for h in result.hits]


def test_list_corpora_shows_every_corpus_with_its_upstream(api: MatrixApi) -> None:
    listing = api.list_corpora()
    by_name = {c.corpus.name: c for c in listing.corpora}
    assert {PEOPLE, JOBS, DISTANCES, NOTES} <= set(by_name)
    assert by_name[PEOPLE].corpus.tags == ("primary", "workers") and by_name[PEOPLE].upstream == "local"
    assert by_name[PEOPLE].corpus.count == 6 and listing.unreachable == []


def test_score_fusion_merges_corpora_by_similarity_g3_4_a(api: MatrixApi) -> None:
    result = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE, JOBS), k=5, k_per_corpus=3))
    assert _ids(result) == ["p0", "j0", "p1", "j1", "p2"]
    assert [h.corpus for h in result.hits] == [PEOPLE, JOBS, PEOPLE, JOBS, PEOPLE]
    assert [h.rank_in_corpus for h in result.hits] == [1, 1, 2, 2, 3]
    assert all(h.fused_score == h.score for h in result.hits)
    assert [(s.corpus, s.searched, s.returned) for s in result.corpora] == [(PEOPLE, True, 3), (JOBS, True, 3)]
    assert result.mode == "composed" and not result.downgraded and not result.partial
    assert result.hits[0].text is None  # only when asked for
    assert api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE,), k=1, include_text=True)).hits[0].text == "person 0"


def test_rrf_fusion_ranks_by_reciprocal_rank_and_mixes_metrics(api: MatrixApi) -> None:
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE, DISTANCES)))
    assert err.value.reason == "MIXED_METRICS" and "rrf" in err.value.message
    result = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE, DISTANCES), fusion="rrf", rrf_k=10, k=4))
    assert {h.id for h in result.hits[:2]} == {"p0", "d0"}
    assert math.isclose(result.hits[0].fused_score, 1 / 11, rel_tol=1e-6)
    assert result.hits[2].fused_score == pytest.approx(1 / 12)


def test_the_filter_applies_in_every_corpus(api: MatrixApi) -> None:
    result = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE, JOBS), k=20, filter={"state": "IL"}))
    assert {h.metadata["state"] for h in result.hits} == {"IL"}
    assert sorted(_ids(result)) == sorted(["p1", "p3", "p5"] + [f"j{i}" for i in range(6)])
    assert result.filtered_out == 3 and [s.excluded_by_filter for s in result.corpora] == [3, 0]
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(MatrixRequest(vector=QUERY, filter={"state": {"regex": "(a)\\1"}}))
    assert err.value.reason == "INVALID_FILTER" and err.value.violations[0].field == "filter.state.regex"


def test_the_sql_gate_restricts_every_corpus_g3_1_b(api: MatrixApi) -> None:
    sql = "SELECT person FROM m_people_facts WHERE skill = 'forklift'"
    result = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE, JOBS), sql=sql, k=10))
    assert _ids(result) == ["p1", "p3"] and result.sql_selected == 2
    named = MatrixRequest(
        vector=QUERY, corpora=(PEOPLE,), sql="SELECT skill, person FROM m_people_facts", sql_id_column="person"
    )
    assert _ids(api.search(named)) == ["p1", "p3", "p4"]
    none = api.search(
        MatrixRequest(vector=QUERY, corpora=(PEOPLE,), sql="SELECT person FROM m_people_facts WHERE false")
    )
    assert none.hits == [] and none.corpora[0].searched is False


@pytest.mark.parametrize(
    ("sql", "column", "error", "reason"),
    [
        ("SELECT person, skill FROM m_people_facts", "", errors.InvalidArgument, "SQL_ID_COLUMN"),
        ("SELECT person FROM m_people_facts", "nope", errors.InvalidArgument, "SQL_ID_COLUMN"),
        ("SELECT 1.5 AS id", "", errors.InvalidArgument, "SQL_ID_COLUMN"),
        ("SELECT person FROM no_such_table", "", errors.NotFound, None),
        ("SELECT * FROM read_csv('/etc/passwd')", "", errors.PermissionDenied, None),
        ("DELETE FROM m_people_facts", "", errors.PermissionDenied, None),
    ],
)
def test_sql_gate_errors_map_as_on_sql(api: MatrixApi, sql: str, column: str, error: type, reason: str | None) -> None:
    with pytest.raises(error) as err:
        api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE,), sql=sql, sql_id_column=column))
    if reason:
        assert err.value.reason == reason


def test_relevance_filter_drops_by_threshold_and_margin_g3_4_b(api: MatrixApi) -> None:
    # p_i scores cos(0.1 i): 1, .995, .980, .955, .921, .878
    off = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE,), k=6, relevance=Relevance(enabled=False)))
    assert len(off.hits) == 6 and off.relevance_dropped == []
    floor = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE,), k=6, relevance=Relevance(True, 0.95, 1.0)))
    assert _ids(floor) == ["p0", "p1", "p2", "p3"]
    assert [(d.id, d.reason) for d in floor.relevance_dropped] == [("p4", BELOW_THRESHOLD), ("p5", BELOW_THRESHOLD)]
    margin = api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE,), k=6, relevance=Relevance(True, 0.0, 0.03)))
    assert _ids(margin) == ["p0", "p1", "p2"] and {d.reason for d in margin.relevance_dropped} == {BELOW_MARGIN}
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(MatrixRequest(vector=QUERY, corpora=(PEOPLE,), relevance=Relevance(True, 1.5)))
    assert err.value.reason == "INVALID_RELEVANCE" and err.value.violations[0].field == "relevance.threshold"


def test_filter_relevance_judges_texts_and_items(api: MatrixApi) -> None:
    query = "forklift operator certified"
    verdicts = api.filter_relevance(
        query,
        [
            Candidate(text="forklift operator certified"),
            Candidate(text="cafeteria lunch menu"),
            Candidate(corpus=NOTES, id="forklift"),
        ],
        threshold=0.2,
        margin=0.9,
    )
    assert [v.index for v in verdicts] == [0, 1, 2]
    assert verdicts[0].kept and verdicts[0].score == pytest.approx(1.0, abs=1e-5)
    assert not verdicts[1].kept and verdicts[1].reason == BELOW_THRESHOLD
    assert verdicts[2].kept and verdicts[2].score > verdicts[1].score
    with pytest.raises(errors.InvalidArgument) as err:
        api.filter_relevance(query, [Candidate(corpus=NOTES)])
    assert err.value.violations[0].field == "candidates[0]"
    with pytest.raises(errors.NotFound):
        api.filter_relevance(query, [Candidate(corpus=NOTES, id="missing")])


def test_downgrade_gate_g3_4_c(api: MatrixApi) -> None:
    both = (PEOPLE, JOBS)
    strong = api.search(MatrixRequest(vector=QUERY, corpora=both, model="gpt-4o"))
    assert (
        strong.downgraded and strong.mode == "isolation" and {h.corpus for h in strong.hits} == {PEOPLE}
    )  # tagged primary
    assert "gpt-4o" in strong.mode_reason and [s.corpus for s in strong.corpora] == [PEOPLE]
    weak = api.search(MatrixRequest(vector=QUERY, corpora=both, model="qwen2.5:7b"))
    assert not weak.downgraded and weak.mode == "composed" and {h.corpus for h in weak.hits} == {PEOPLE, JOBS}
    assert "qwen2.5:*" in weak.mode_reason
    forced = api.search(MatrixRequest(vector=QUERY, corpora=both, model="gpt-4o", force_mode="composed"))
    assert not forced.downgraded and {h.corpus for h in forced.hits} == {PEOPLE, JOBS}
    named = api.search(MatrixRequest(vector=QUERY, mode="staffing", model="claude-opus"))
    assert (named.mode, named.downgraded) == ("staffing_solo", True) and {h.corpus for h in named.hits} == {JOBS}
    named_weak = api.search(MatrixRequest(vector=QUERY, mode="staffing", model="llama:3b"))
    assert named_weak.mode == "staffing" and {h.corpus for h in named_weak.hits} == {PEOPLE, JOBS}
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(MatrixRequest(vector=QUERY, mode="nope"))
    assert err.value.reason == "UNKNOWN_MODE"


def test_text_is_embedded_once_per_model_and_batches_match_single_searches(api: MatrixApi) -> None:
    found = api.search(MatrixRequest(text="forklift warehouse", corpora=(NOTES,), k=1))
    assert _ids(found) == ["forklift"]
    queries = [Query(vector=QUERY), Query(vector=_at(0.5))]
    request = MatrixRequest(corpora=(PEOPLE, JOBS), k=3, filter={"state": "IL"})
    batch = api.search_batch(request, queries)
    for query, result in zip(queries, batch, strict=True):
        single = api.search(MatrixRequest(vector=query.vector, corpora=(PEOPLE, JOBS), k=3, filter={"state": "IL"}))
        assert _ids(result) == _ids(single)


@pytest.mark.parametrize(
    ("request_", "error", "reason", "field"),
    [
        (MatrixRequest(vector=QUERY, corpora=("no_such",)), errors.NotFound, "CORPUS_NOT_FOUND", None),
        (MatrixRequest(vector=QUERY, k=-1), errors.InvalidArgument, "INVALID_K", "k"),
        (MatrixRequest(vector=QUERY, k_per_corpus=100_000), errors.InvalidArgument, "INVALID_K", "k_per_corpus"),
        (
            MatrixRequest(vector=np.ones(3, np.float32), corpora=(PEOPLE,)),
            errors.InvalidArgument,
            "DIMENSION_MISMATCH",
            "vector",
        ),
        (MatrixRequest(corpora=(PEOPLE,)), errors.InvalidArgument, "INVALID_QUERY", "query"),
        (MatrixRequest(vector=QUERY, fusion="max"), errors.InvalidArgument, "INVALID_FUSION", "fusion"),
        (
            MatrixRequest(vector=QUERY, corpora=(PEOPLE,), relevance=Relevance(margin=-1)),
            errors.InvalidArgument,
            "INVALID_RELEVANCE",
            "relevance.margin",
        ),
    ],
    ids=["unknown corpus", "k", "k_per_corpus", "dimension", "no query", "fusion", "margin"],
)
def test_bad_requests_are_refused_by_field(api: MatrixApi, request_, error, reason, field) -> None:
    with pytest.raises(error) as err:
        api.search(request_)
    assert err.value.reason == reason
    if field:
        assert err.value.violations[0].field == field
    if reason == "CORPUS_NOT_FOUND":
        assert err.value.metadata["corpus"] == "no_such"


def test_fusion_keeps_what_a_hit_carries() -> None:
    from lakehouse.api.matrix import Evidence, MatrixHit
    from lakehouse.servers.matrix.fusion import fuse

    evidence = (Evidence("e1", "forklift", "placed", 1.0, 0.9, 2.0, 0.8),)
    boosted = MatrixHit("a", "w1", 0.5, 0.7, 1, 3, {"s": 1}, "t", (7, 1), 0.2, evidence)
    plain = MatrixHit("b", "w2", 0.6, 0.6, 1, 4, {}, None, (8, 2))
    for fusion in ("rrf", "score"):
        best = fuse([[boosted], [plain]], fusion, 60, 2)
        kept = next(h for h in best if h.id == "w1")
        assert (kept.row, kept.playbook_boost, kept.evidence) == ((7, 1), 0.2, evidence)
        assert kept.fused_score == (1 / 61 if fusion == "rrf" else 0.7)
