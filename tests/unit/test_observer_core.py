"""ObserverCore over a real recorder: ListOps filters (ring and journal), the ``_ops``
system dataset through QueryCore, GetStats, TailOps, and their bad input."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.api.observer import (
    INVALID_LIMIT,
    INVALID_SOURCE,
    INVALID_STATUS,
    INVALID_WINDOW,
    TOO_MANY_TAILS,
    ObservedOp,
    OpsFilter,
)
from lakehouse.servers.observer.core import ObserverCore, journal_sql
from lakehouse.servers.observer.journal import system_datasets
from lakehouse.servers.observer.recorder import RingRecorder
from lakehouse.servers.query.core import QueryCore
from lakehouse.servers.settings import ObserverSettings, QuerySettings
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.local import LocalObjectStore
from tests.support.query_lake import Lake

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
WAIT_S = 10.0


def settings(**kw) -> ObserverSettings:
    return ObserverSettings(**({"flush_interval_s": 3600.0, "list_default": 5, "list_max": 8} | kw))


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lake = Lake(tmp_path)
    yield lake
    lake.catalog.close()


def recorder_on(lake: Lake, tmp_path: Path, **kw) -> RingRecorder:
    errs = ErrorJournal(lake.store, LocalObjectStore("rescue", tmp_path / "rescue"))
    return RingRecorder(lake.store, errs, settings(**kw), start=False)


def op(recorder: RingRecorder, seconds_ago: float, service="lakehouse.v1.QueryService", method="Sql",
       source="grpc", code="OK", latency=1.0, **attrs: str) -> None:  # fmt: skip
    start_ns = int((NOW - timedelta(seconds=seconds_ago)).timestamp() * 1e9)
    recorder.record_call(start_ns, service, method, source, code, "", latency, 1, 2, attrs)


def clock() -> int:
    return int(NOW.timestamp() * 1e9)


@pytest.fixture
def filled(lake: Lake, tmp_path: Path) -> RingRecorder:
    r = recorder_on(lake, tmp_path)
    op(r, 50, method="Sql", latency=10)
    op(r, 40, method="Sql", code="INVALID_ARGUMENT", latency=2)
    op(r, 30, service="lakehouse.v1.VectorService", method="Search", source="rest", latency=5)
    op(r, 20, service="lakehouse.v1.VectorService", method="Search", source="rest", code="NOT_FOUND", latency=7)
    op(r, 10, service="lakehouse.v1.CatalogService", method="GetDataset", source="mcp", latency=1)
    return r


def listed(core: ObserverCore, limit: int = 0, **where) -> list[tuple[str, str]]:
    return [(o.method, o.code) for o in core.list_ops(OpsFilter(**where), limit).ops]


def test_list_ops_newest_first_with_every_filter(filled):
    core = ObserverCore(filled, settings(), sole_writer=True, clock_ns=clock)
    assert listed(core, 10)[0] == ("GetDataset", "OK") and len(listed(core, 10)) == 5
    assert listed(core, service="VectorService") == [("Search", "NOT_FOUND"), ("Search", "OK")]
    assert listed(core, service="lakehouse.v1.VectorService", source="rest", status="ok") == [("Search", "OK")]
    assert listed(core, service="Vector") == []  # a short name is the whole last part
    assert listed(core, status="error") == [("Search", "NOT_FOUND"), ("Sql", "INVALID_ARGUMENT")]
    assert listed(core, status="not_found") == [("Search", "NOT_FOUND")]
    assert listed(core, method="Sql", since=NOW - timedelta(seconds=45)) == [("Sql", "INVALID_ARGUMENT")]
    assert listed(core, source="mcp") == [("GetDataset", "OK")]
    assert listed(core, run_id="r1") == []


def test_list_ops_limits(filled):
    core = ObserverCore(filled, settings(), sole_writer=True)
    for i in range(10):
        op(filled, 5 - i * 0.1)
    assert len(listed(core)) == 5  # list_default
    assert len(listed(core, 100)) == 8  # list_max
    assert len(listed(core, 2)) == 2


@pytest.mark.parametrize(
    ("where", "limit", "reason"),
    [
        ({"source": "carrier-pigeon"}, 0, INVALID_SOURCE),
        ({"status": "BROKEN"}, 0, INVALID_STATUS),
        ({}, -1, INVALID_LIMIT),
    ],
)
def test_list_ops_refuses_bad_filters(filled, where, limit, reason):
    core = ObserverCore(filled, settings())
    with pytest.raises(errors.InvalidArgument) as exc:
        core.list_ops(OpsFilter(**where), limit)
    assert exc.value.reason == reason


def test_stats_per_method_and_source_over_the_window(filled):
    core = ObserverCore(filled, settings(), clock_ns=clock)
    stats = core.stats(window_s=45)
    by = {(m.method, m.source): m for m in stats.methods}
    assert set(by) == {("Sql", "grpc"), ("Search", "rest"), ("GetDataset", "mcp")}
    assert by[("Sql", "grpc")].count == 1 and by[("Sql", "grpc")].errors == {"INVALID_ARGUMENT": 1}
    search = by[("Search", "rest")]
    assert search.count == 2 and search.errors == {"NOT_FOUND": 1} and search.p50_ms == 6.0
    assert search.p95_ms == pytest.approx(6.9) and search.p99_ms == pytest.approx(6.98)
    assert stats.window_s == 45 and stats.recorded == 5 and stats.pending == 5
    assert {m.method for m in core.stats(window_s=100, source="rest").methods} == {"Search"}
    assert {m.method for m in core.stats(window_s=100, service="QueryService").methods} == {"Sql"}
    assert core.stats().window_s == settings().stats_window_s
    with pytest.raises(errors.InvalidArgument) as exc:
        core.stats(window_s=-1)
    assert exc.value.reason == INVALID_WINDOW


def test_tail_follows_new_matching_ops_until_inactive(filled):
    core = ObserverCore(filled, settings(tail_heartbeat_s=0.05))
    active = threading.Event()
    active.set()
    got: list[ObservedOp] = []

    def follow() -> None:
        for o in core.tail_ops(OpsFilter(status="error"), active.is_set):
            got.append(o)
            active.clear()

    thread = threading.Thread(target=follow)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while filled.tails == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    op(filled, 0, method="Old")  # OK: filtered out
    op(filled, 0, method="Broken", code="INTERNAL")
    thread.join(WAIT_S)
    assert not thread.is_alive() and [o.method for o in got] == ["Broken"] and filled.tails == 0


def test_tails_are_capped(filled):
    core = ObserverCore(filled, settings(max_tails=1, tail_heartbeat_s=0.01))
    first = core.tail_ops(OpsFilter(), lambda: True)
    threading.Timer(0.05, lambda: op(filled, 0)).start()
    next(first)  # subscribed and delivering
    with pytest.raises(errors.ResourceExhausted) as exc:
        next(core.tail_ops(OpsFilter()))
    assert exc.value.reason == TOO_MANY_TAILS
    first.close()
    assert filled.tails == 0
    with pytest.raises(errors.InvalidArgument):
        core.tail_ops(OpsFilter(source="nope"))  # checked before any tail starts


# The journal through the query engine ------------------------------------------------


def query_core(lake: Lake, scan: str) -> QueryCore:
    return QueryCore(lake.catalog, lake.store, QuerySettings(), scan=scan, system_datasets=system_datasets())  # type: ignore[arg-type]


@pytest.mark.parametrize("scan", ["native", "arrow"])
def test_ops_is_a_sql_dataset_over_the_journal(lake, tmp_path, scan):
    query = query_core(lake, scan)
    try:
        empty = query.execute_rows("SELECT count(*) AS n FROM _ops", 0)
        assert empty.rows == [[0]]
        r = recorder_on(lake, tmp_path)
        op(r, 10, dataset="people")
        op(r, 5, code="NOT_FOUND")
        r.flush()
        rows = query.execute_rows(
            "SELECT method, code, attributes['dataset'] AS dataset, date, time FROM _ops ORDER BY time", 0
        ).rows
        assert [row[:4] for row in rows] == [
            ["Sql", "OK", "people", "2025-06-01"],
            ["Sql", "NOT_FOUND", None, "2025-06-01"],
        ]
        assert query.execute_rows("SELECT count(*) FROM _ops WHERE date < '2025-06-01'", 0).rows == [[0]]
        columns = dict(query.execute_rows("SELECT * FROM _ops LIMIT 0", 0).columns)
        assert columns["attributes"] == "MAP(VARCHAR, VARCHAR)" and columns["latency_ms"] == "DOUBLE"
    finally:
        query.close()


def test_list_ops_merges_the_journal_of_an_earlier_run(lake, tmp_path):
    query = query_core(lake, "native")
    try:
        earlier = recorder_on(lake, tmp_path)
        op(earlier, 100, method="Earlier")
        op(earlier, 90, method="Failed", code="UNAVAILABLE")
        earlier.flush()
        now = recorder_on(lake, tmp_path)
        op(now, 1, method="Now")
        core = ObserverCore(now, settings(), lambda: query, sole_writer=True)
        assert listed(core) == [("Now", "OK"), ("Failed", "UNAVAILABLE"), ("Earlier", "OK")]
        assert listed(core, status="error") == [("Failed", "UNAVAILABLE")]
        assert listed(core, since=NOW - timedelta(seconds=95)) == [("Now", "OK"), ("Failed", "UNAVAILABLE")]
        # Flushed ops of this run are in both the ring and the journal: listed once.
        now.flush()
        assert listed(core) == [("Now", "OK"), ("Failed", "UNAVAILABLE"), ("Earlier", "OK")]
        # Enough in the ring and no other writer: the journal is not read.
        assert listed(core, 1) == [("Now", "OK")]
    finally:
        query.close()


def test_a_journal_that_cannot_be_read_leaves_the_page_partial(filled):
    def broken():
        raise errors.Unavailable("query is down", reason="UPSTREAM_UNAVAILABLE")

    page = ObserverCore(filled, settings(), broken).list_ops(OpsFilter(), 8)
    assert page.partial and len(page.ops) == 5


def test_journal_sql_quotes_its_values():
    sql = journal_sql(OpsFilter(service="Q'S", status="error", since=NOW), 3)
    assert "'Q''S'" in sql and "'.Q''S'" in sql and "code <> 'OK'" in sql and "date >= '2025-06-01'" in sql
    assert sql.endswith("LIMIT 3")
