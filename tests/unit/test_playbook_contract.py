"""Playbook recording and reading (MatrixService), against both implementations: the core
in-process and RemoteMatrix over gRPC. Durable entries, idempotent ids, a bulk call that one
bad entry never aborts (G3.7.A), and a clean error for every bad entry."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.api.matrix import (
    REJECTED,
    EntryFilter,
    MatrixApi,
    PlaybookEntry,
    RemoteMatrix,
)
from lakehouse.api.vector import Item
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import MatrixSettings, ModelSettings, Settings
from tests.support.contract import IMPLEMENTATIONS, implementation

WORKERS = "pb_workers"
_ids = itertools.count()


def _settings(home) -> Settings:
    return Settings(
        home=home,
        models=ModelSettings(embed_provider="hash", embed_model="hash-64"),
        matrix=MatrixSettings(playbook_write_rows=1000),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    lh = build_server(_settings(tmp_path_factory.mktemp("playbook") / "home"), "all")
    lh.runtime.vector.create_corpus(WORKERS, dimension=4)
    vectors = np.eye(4, dtype=np.float32)
    lh.runtime.vector.add(WORKERS, [Item(f"w{i}", vector=vectors[i % 4]) for i in range(50)])
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[MatrixApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.matrix, RemoteMatrix)


def _entry(**changes) -> PlaybookEntry:
    base = {"query": "forklift operator, night shift", "corpus": WORKERS, "item_id": "w1", "source": "test"}
    return PlaybookEntry(**{**base, **changes})


def _unique() -> str:
    return f"e{next(_ids)}"


def test_record_get_list_and_delete_an_entry(api: MatrixApi, server) -> None:
    entry_id = _unique()
    when = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    recorded = api.record_entry(_entry(id=entry_id, score=0.8, time=when, metadata={"role": "driver", "state": "IL"}))
    assert (recorded.id, recorded.score, recorded.time, recorded.metadata) == (
        entry_id,
        0.8,
        when,
        {"role": "driver", "state": "IL"},
    )
    assert api.get_entry(entry_id) == recorded
    listed, _ = api.list_entries(EntryFilter(corpus=WORKERS, item_id="w1", source="test"), page_size=1000)
    assert entry_id in {e.id for e in listed}
    rows = server.runtime.query.rows(f"SELECT outcome, score FROM playbooks WHERE id = '{entry_id}'").rows
    assert rows == [["success", 0.8]]  # queryable like any dataset
    assert api.delete_entries(entry_id) == 1
    with pytest.raises(errors.NotFound) as err:
        api.get_entry(entry_id)
    assert err.value.reason == "PLAYBOOK_ENTRY_NOT_FOUND"
    assert api.delete_entries(entry_id) == 0


def test_recording_is_idempotent_by_id(api: MatrixApi) -> None:
    entry_id = _unique()
    first = api.record_entry(_entry(id=entry_id, outcome=REJECTED, reason="no forklift license"))
    again = api.record_entry(_entry(id=entry_id, outcome=REJECTED, reason="no forklift license"))
    assert again == first and first.score is None
    with pytest.raises(errors.AlreadyExists) as err:
        api.record_entry(_entry(id=entry_id, outcome=REJECTED, reason="other"))
    assert err.value.reason == "PLAYBOOK_ENTRY_CONFLICT"
    assert first.id != api.record_entry(_entry()).id  # no id: a new one each time


@pytest.mark.parametrize(
    ("changes", "error", "reason", "field"),
    [
        ({"corpus": "pb_nowhere"}, errors.NotFound, "CORPUS_NOT_FOUND", None),
        ({"item_id": "w999"}, errors.NotFound, "ITEM_NOT_FOUND", None),
        ({"score": 1.5}, errors.InvalidArgument, "INVALID_PLAYBOOK_ENTRY", "entry.score"),
        ({"query": "  "}, errors.InvalidArgument, "INVALID_PLAYBOOK_ENTRY", "entry.query"),
        ({"outcome": "maybe"}, errors.InvalidArgument, "INVALID_PLAYBOOK_ENTRY", "entry.outcome"),
        ({"outcome": REJECTED, "score": 0.2}, errors.InvalidArgument, "INVALID_PLAYBOOK_ENTRY", "entry.score"),
        (
            {"time": datetime.now(UTC) + timedelta(days=2)},
            errors.InvalidArgument,
            "PLAYBOOK_TIME_IN_FUTURE",
            "entry.time",
        ),
    ],
    ids=["unknown corpus", "unknown item", "score", "empty query", "outcome", "rejected with score", "future"],
)
def test_a_bad_entry_is_refused_by_field(api: MatrixApi, changes, error, reason, field) -> None:
    with pytest.raises(error) as err:
        api.record_entry(_entry(**changes))
    assert err.value.reason == reason
    if field:
        assert err.value.violations[0].field == field


def test_a_bulk_import_with_bad_rows_records_the_rest_g3_7_a(api: MatrixApi) -> None:
    """4,701 historical placements, every 100th of them bad in its own way."""
    prefix = _unique()
    entries, bad = [], {}
    for i in range(4701):
        entry = _entry(id=f"{prefix}_{i}", item_id=f"w{i % 50}", query=f"placement {i % 37} warehouse role")
        if i % 100 == 7:
            kind = i // 100 % 3
            entry = [
                _entry(id=f"{prefix}_{i}", item_id="w_missing"),
                _entry(id=f"{prefix}_{i}", score=-0.1),
                _entry(id=f"{prefix}_{i}", query=""),
            ][kind]
            bad[i] = ["ITEM_NOT_FOUND", "INVALID_PLAYBOOK_ENTRY", "INVALID_PLAYBOOK_ENTRY"][kind]
        entries.append(entry)
    result = api.record_entries(entries)
    assert (result.recorded, result.failed) == (4701 - len(bad), len(bad))
    assert [r.index for r in result.results] == list(range(4701))
    for i, reason in bad.items():
        assert result.results[i].error is not None and result.results[i].error.reason == reason
        assert result.results[i].error.field.startswith(f"entries[{i}].")
    assert result.results[0].id == f"{prefix}_0" and result.results[0].error is None
    assert api.get_entry(f"{prefix}_4700").item_id == "w0"
    again = api.record_entries(entries[:10])  # the same content again: recorded, nothing doubled
    assert again.recorded == 10 - sum(1 for i in bad if i < 10)


def test_listing_filters_pages_and_stats(api: MatrixApi) -> None:
    source = _unique()
    old = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        api.record_entry(_entry(item_id="w3", source=source, time=old + timedelta(days=i)))
    api.record_entry(_entry(item_id="w3", source=source, outcome=REJECTED, time=old))
    first, token = api.list_entries(EntryFilter(source=source), page_size=4)
    second, last = api.list_entries(EntryFilter(source=source), page_size=4, page_token=token)
    assert len(first) == 4 and len(second) == 2 and last == ""
    times = [e.time for e in first + second]
    assert times == sorted(times, reverse=True)
    since, _ = api.list_entries(EntryFilter(source=source, since=old + timedelta(days=3)), page_size=10)
    assert len(since) == 2
    with pytest.raises(errors.InvalidArgument):
        api.list_entries(page_token="not-a-token")
    stats = api.playbook_stats()
    counts = {(c.corpus, c.outcome): c for c in stats.counts}
    assert counts[(WORKERS, "success")].entries >= 5 and counts[(WORKERS, REJECTED)].items >= 1
    assert counts[(WORKERS, "success")].oldest_age_days > 300


def test_delete_everything_about_an_item(api: MatrixApi) -> None:
    source = _unique()
    for _ in range(3):
        api.record_entry(_entry(item_id="w7", source=source))
    assert api.delete_entries(corpus=WORKERS, item_id="w7") >= 3
    assert api.list_entries(EntryFilter(corpus=WORKERS, item_id="w7"))[0] == []
    with pytest.raises(errors.InvalidArgument):
        api.delete_entries(corpus=WORKERS)


def test_entries_survive_a_restart_and_a_lost_index(tmp_path) -> None:
    settings = _settings(tmp_path / "home")
    lh = build_server(settings, "all")
    lh.runtime.vector.create_corpus(WORKERS, dimension=4)
    lh.runtime.vector.add(WORKERS, [Item("w1", vector=np.eye(4, dtype=np.float32)[0])])
    lh.runtime.matrix.record_entry(_entry(id="kept"))
    lh.runtime.vector.delete_corpus("playbooks")  # as if the process died between the two writes
    lh.stop(0)
    again = build_server(settings, "all")
    try:
        assert again.runtime.matrix.get_entry("kept").item_id == "w1"  # rebuilt from the dataset
        assert again.runtime.vector.get_corpus("playbooks").count == 1
    finally:
        again.stop(0)


TEXTS = "pb_texts"
ROLES = [f"role {i}: " + " ".join(f"skill{(i * 7 + j) % 97}" for j in range(6)) for i in range(40)]


@pytest.fixture(scope="module")
def texts(server) -> str:
    server.runtime.vector.create_corpus(TEXTS)  # the configured hash model embeds the texts
    server.runtime.vector.add(TEXTS, [Item(f"t{i}", text=role) for i, role in enumerate(ROLES)])
    return TEXTS


def _ranked(api: MatrixApi, query: str, **options) -> list[str]:
    from lakehouse.api.matrix import MatrixRequest

    result = api.search(MatrixRequest(text=query, corpora=(TEXTS,), k=40, k_per_corpus=40, **options))
    return [h.id for h in result.hits]


def test_every_recorded_entry_surfaces_on_a_requery_g3_7_b(api: MatrixApi, texts: str) -> None:
    source = _unique()
    query = f"{source} night shift forklift lead"
    plain = _ranked(api, query)[:10]
    chosen = [f"t{i}" for i in range(40) if f"t{i}" not in plain][:3]  # items a top-10 search does not return
    result = api.record_entries([_entry(query=query, corpus=TEXTS, item_id=item, source=source) for item in chosen])
    assert result.failed == 0
    from lakehouse.api.matrix import MatrixRequest

    learned = api.search(MatrixRequest(text=query, corpora=(TEXTS,), k=10, k_per_corpus=10, use_playbook=True))
    top = [h.id for h in learned.hits]
    assert set(chosen) <= set(top[:3])  # fetched by id and boosted to the top
    hit = next(h for h in learned.hits if h.id == chosen[0])
    assert hit.playbook_boost > 0 and hit.evidence[0].outcome == "success" and hit.evidence[0].similarity > 0.99
    assert hit.evidence[0].entry_id in {r.id for r in result.results}


def test_a_rejection_demotes_and_repeated_rejections_exclude(api: MatrixApi, texts: str) -> None:
    source = _unique()
    best = f"t{next(_ids) % 40}"  # its own role each run: entries of similar queries would count too
    query = f"{source} " + ROLES[int(best[1:])]
    assert _ranked(api, query)[0] == best
    api.record_entry(_entry(query=query, corpus=TEXTS, item_id=best, outcome=REJECTED, source=source))
    demoted = _ranked(api, query, use_playbook=True)
    assert demoted.index(best) > 0
    api.record_entry(_entry(query=query, corpus=TEXTS, item_id=best, outcome=REJECTED, source=source, reason="again"))
    from lakehouse.api.matrix import MatrixRequest

    gone = api.search(MatrixRequest(text=query, corpora=(TEXTS,), k=40, k_per_corpus=40, use_playbook=True))
    assert best not in [h.id for h in gone.hits] and [d.id for d in gone.playbook_excluded] == [best]


def test_an_old_entry_has_almost_no_effect(api: MatrixApi, texts: str) -> None:
    from lakehouse.api.matrix import MatrixRequest

    source = _unique()
    query = f"{source} welding inspector"
    api.record_entry(
        _entry(query=query, corpus=TEXTS, item_id="t9", source=source, time=datetime(2026, 1, 1, tzinfo=UTC))
    )
    fresh = MatrixRequest(
        text=query, corpora=(TEXTS,), k=40, k_per_corpus=40, use_playbook=True, as_of=datetime(2026, 1, 2, tzinfo=UTC)
    )
    later = MatrixRequest(
        text=query, corpora=(TEXTS,), k=40, k_per_corpus=40, use_playbook=True, as_of=datetime(2027, 1, 1, tzinfo=UTC)
    )
    before = MatrixRequest(
        text=query, corpora=(TEXTS,), k=40, k_per_corpus=40, use_playbook=True, as_of=datetime(2025, 12, 1, tzinfo=UTC)
    )
    boost = {
        name: next(h.playbook_boost for h in api.search(r).hits if h.id == "t9")
        for name, r in (("fresh", fresh), ("later", later), ("before", before))
    }
    assert boost["fresh"] > 0.3 and 0 < boost["later"] < 0.01 * boost["fresh"] * 10  # 12 half-lives later
    assert boost["before"] == 0  # not recorded yet at that moment
    with pytest.raises(errors.InvalidArgument) as err:
        api.search(MatrixRequest(vector=np.ones(4, np.float32), corpora=(WORKERS,), use_playbook=True))
    assert err.value.violations[0].field == "text"


@pytest.fixture(scope="module")
def placements(server) -> str:
    from lakehouse.api.catalog import WriteMode
    from lakehouse.api.ingest import IngestSpec

    rows = (
        "candidate,role_query,result,rating,placed_on,client\n"
        "w1,forklift lead nights,success,0.9,2026-10-01,acme\n"
        "w2,forklift lead nights,rejected,,2026-10-02,acme\n"
        "w999,forklift lead nights,success,1.0,2026-10-03,acme\n"  # no such worker
        "w3,ICU nurse,maybe,1.0,2026-10-04,mercy\n"  # not an outcome
        "w4,ICU nurse,success,3.5,2026-10-05,mercy\n"  # score out of range
        "w5,ICU nurse,success,1.0,2026-10-06,mercy\n"
    )
    server.runtime.ingest.ingest(IngestSpec("pb_placements", mode=WriteMode.REPLACE), [rows.encode()])
    return "pb_placements"


def test_import_a_dataset_of_past_placements(api: MatrixApi, placements: str) -> None:
    from lakehouse.api.matrix import ImportMapping

    mapping = ImportMapping(
        dataset=placements,
        query_column="role_query",
        item_id_column="candidate",
        corpus=WORKERS,
        outcome_column="result",
        score_column="rating",
        time_column="placed_on",
        metadata_columns=("client",),
    )
    result = api.import_entries(mapping)
    assert (result.recorded, result.failed) == (3, 3)
    errors_by_row = {r.index: (r.error.reason, r.error.field) for r in result.results if r.error}
    assert errors_by_row == {
        2: ("ITEM_NOT_FOUND", "rows[2].item_id"),
        3: ("INVALID_PLAYBOOK_ENTRY", "rows[3].outcome"),
        4: ("INVALID_PLAYBOOK_ENTRY", "rows[4].score"),
    }
    first = api.get_entry(result.results[0].id)
    assert (first.query, first.item_id, first.score, first.metadata) == (
        "forklift lead nights",
        "w1",
        0.9,
        {"client": "acme"},
    )
    assert first.source == f"import:{placements}" and first.time == datetime(2026, 10, 1, tzinfo=UTC)
    assert api.get_entry(result.results[1].id).outcome == REJECTED
    again = api.import_entries(mapping)  # the same rows again: the same ids, nothing doubled
    assert [r.id for r in again.results] == [r.id for r in result.results] and again.recorded == 3


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"score_column": "stars"}, "UNKNOWN_COLUMN", "score_column"),
        ({"metadata_columns": ("client", "nope")}, "UNKNOWN_COLUMN", "metadata_columns[1]"),
        ({"query_column": ""}, "INVALID_IMPORT_MAPPING", "query_column"),
        ({"corpus_column": "client"}, "INVALID_IMPORT_MAPPING", "corpus"),
    ],
    ids=["unknown column", "unknown metadata column", "no query column", "corpus twice"],
)
def test_a_malformed_import_mapping_is_refused(api: MatrixApi, placements: str, changes, reason, field) -> None:
    from dataclasses import replace

    from lakehouse.api.matrix import ImportMapping

    mapping = ImportMapping(dataset=placements, query_column="role_query", item_id_column="candidate", corpus=WORKERS)
    with pytest.raises(errors.InvalidArgument) as err:
        api.import_entries(replace(mapping, **changes))
    assert err.value.reason == reason and err.value.violations[0].field == field
    with pytest.raises(errors.NotFound):
        api.import_entries(replace(mapping, dataset="pb_no_such_dataset"))
