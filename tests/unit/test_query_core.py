"""QueryCore over a real catalog (SQLite) and a real local lake: views, merge-on-read,
errors, deadlines, cancel, concurrency, row caps and JSON values."""

from __future__ import annotations

import base64
import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import (
    DataFile,
    WriteMode,
)
from lakehouse.servers.query import views as views_module
from lakehouse.servers.query.core import QueryCore
from lakehouse.servers.settings import QuerySettings
from tests.support.query_lake import PEOPLE, Lake, people

BATCH_ROWS = 1_000
MAX_JSON_ROWS = 50
SCAN_MODES = ["native", "arrow"]
# A query that would run for hours: the deadline/cancel tests must stop it.
ENDLESS_SQL = "SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range < 0"
# Generous bound for "stopped well before the query would finish".
STOP_BOUND_S = 15.0


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lake = Lake(tmp_path)
    yield lake
    lake.catalog.close()


def make_core(lake: Lake, scan: str = "native", **overrides: object) -> QueryCore:
    settings = QuerySettings(batch_rows=BATCH_ROWS, max_json_rows=MAX_JSON_ROWS, **overrides)
    return QueryCore(lake.catalog, lake.store, settings, scan=scan)  # type: ignore[arg-type]


@pytest.fixture(params=SCAN_MODES)
def core(request: pytest.FixtureRequest, lake: Lake) -> Iterator[QueryCore]:
    core = make_core(lake, request.param)
    yield core
    core.close()


def rows(core: QueryCore, sql: str, max_rows: int = 0) -> list[list]:
    return core.execute_rows(sql, max_rows).rows


# Views ----------------------------------------------------------------------


def test_auto_scan_mode_uses_native_reader_for_a_local_lake(lake: Lake) -> None:
    core = QueryCore(lake.catalog, lake.store, QuerySettings())
    try:
        assert core.native_scans
    finally:
        core.close()


def test_every_dataset_is_a_view_over_its_current_version(lake: Lake, core: QueryCore) -> None:
    lake.commit("people", [lake.part("people", people([1, 2], ["ann", "bob"]))], PEOPLE)
    lake.commit("pets", [lake.part("pets", pa.table({"pet": ["cat"]}))], pa.schema([("pet", pa.string())]))

    assert rows(core, "SELECT id, name FROM people ORDER BY id") == [[1, "ann"], [2, "bob"]]
    assert rows(core, "SELECT * FROM pets") == [["cat"]]


def test_view_follows_a_new_version(lake: Lake, core: QueryCore) -> None:
    first = lake.part("people", people([1], ["ann"]))
    lake.commit("people", [first], PEOPLE)
    assert rows(core, "SELECT count(*) FROM people") == [[1]]

    second = lake.part("people", people([2, 3], ["bob", "cy"]))
    lake.commit("people", [first, second], PEOPLE, mode=WriteMode.APPEND)
    assert rows(core, "SELECT id FROM people ORDER BY id") == [[1], [2], [3]]

    lake.commit("people", [lake.part("people", people([9], ["zed"]))], PEOPLE, mode=WriteMode.REPLACE)
    assert rows(core, "SELECT id FROM people") == [[9]]


def test_only_changed_views_are_rebuilt(lake: Lake, core: QueryCore, monkeypatch: pytest.MonkeyPatch) -> None:
    lake.commit("a", [lake.part("a", people([1], ["ann"]))], PEOPLE)
    lake.commit("b", [lake.part("b", people([2], ["bob"]))], PEOPLE)
    assert rows(core, "SELECT count(*) FROM a") == [[1]]
    built: list[str] = []
    original = views_module.DatasetViews._build

    def spy(self, name, version, arrow):
        built.append(name)
        return original(self, name, version, arrow)

    monkeypatch.setattr(views_module.DatasetViews, "_build", spy)

    assert rows(core, "SELECT count(*) FROM b") == [[1]]
    assert built == []  # generation unchanged: nothing rebuilt

    lake.commit("b", [lake.part("b", people([2, 3], ["bob", "cy"]))], PEOPLE, mode=WriteMode.REPLACE)
    assert rows(core, "SELECT count(*) FROM b") == [[2]]
    assert built == ["b"]


def test_deleted_dataset_is_no_longer_queryable(lake: Lake, core: QueryCore) -> None:
    lake.commit("gone", [lake.part("gone", people([1], ["ann"]))], PEOPLE)
    assert rows(core, "SELECT count(*) FROM gone") == [[1]]

    lake.catalog.delete_dataset("gone")
    with pytest.raises(errors.NotFound) as info:
        core.execute_rows("SELECT * FROM gone", 10)
    assert info.value.reason == "DATASET_NOT_FOUND"


def test_version_without_files_is_an_empty_typed_view(lake: Lake, core: QueryCore) -> None:
    lake.commit("empty", [], PEOPLE)

    result = core.execute_rows("SELECT * FROM empty", 10)

    assert result.rows == []
    assert result.columns == [("id", "BIGINT"), ("name", "VARCHAR"), ("score", "DOUBLE")]


def test_view_exposes_only_the_catalog_schema_columns(lake: Lake, core: QueryCore) -> None:
    wide = people([1], ["ann"]).append_column("extra", pa.array(["hidden"]))
    lake.commit("people", [lake.part("people", wide)], PEOPLE)

    assert core.execute_rows("SELECT * FROM people", 10).columns == [
        ("id", "BIGINT"),
        ("name", "VARCHAR"),
        ("score", "DOUBLE"),
    ]


def test_column_added_by_a_later_append_reads_null_in_older_files(lake: Lake, core: QueryCore) -> None:
    narrow = pa.schema([("id", pa.int64())])
    old = lake.part("grow", pa.table({"id": pa.array([1], pa.int64())}))
    lake.commit("grow", [old], narrow)
    new = lake.part("grow", people([2], ["bob"]))
    lake.commit("grow", [old, new], PEOPLE, mode=WriteMode.APPEND)

    assert rows(core, "SELECT id, name FROM grow ORDER BY id") == [[1, None], [2, "bob"]]


# Gate G3.1.A ------------------------------------------------------------------

WORKERS = pa.schema(
    [
        ("worker_id", pa.int64()),
        ("name", pa.string()),
        ("state", pa.string()),
        ("hourly_rate", pa.float64()),
        ("certified", pa.bool_()),
        ("hired_on", pa.date32()),
    ]
)
WORKER_ROWS = 500_000
WORKER_FILES = 4


def test_gate_g3_1_a_select_one_row_of_workers_500k(lake: Lake, core: QueryCore) -> None:
    import datetime as dt

    per_file = WORKER_ROWS // WORKER_FILES
    files = []
    for n in range(WORKER_FILES):
        ids = pa.array(range(n * per_file, (n + 1) * per_file), pa.int64())
        table = pa.table(
            {
                "worker_id": ids,
                "name": pa.array([f"worker-{i}" for i in range(n * per_file, (n + 1) * per_file)]),
                "state": pa.array(["IL", "WI", "IN", "MI"] * (per_file // 4)),
                "hourly_rate": pa.array([18.5] * per_file),
                "certified": pa.array([True, False] * (per_file // 2)),
                "hired_on": pa.array([dt.date(2024, 1, 2)] * per_file, pa.date32()),
            },
            schema=WORKERS,
        )
        files.append(lake.write(f"datasets/workers_500k/v1/part-{n}.parquet", table))
    lake.commit("workers_500k", files, WORKERS)

    with core.execute("SELECT * FROM workers_500k LIMIT 1") as stream:
        batches = list(stream)
        assert stream.schema == WORKERS
    assert sum(b.num_rows for b in batches) == 1

    result = core.execute_rows("SELECT * FROM workers_500k ORDER BY worker_id LIMIT 1", 10)
    assert result.columns == [
        ("worker_id", "BIGINT"),
        ("name", "VARCHAR"),
        ("state", "VARCHAR"),
        ("hourly_rate", "DOUBLE"),
        ("certified", "BOOLEAN"),
        ("hired_on", "DATE"),
    ]
    assert result.rows == [[0, "worker-0", "IL", 18.5, True, "2024-01-02"]]
    assert rows(core, "SELECT count(*) FROM workers_500k") == [[WORKER_ROWS]]


# Merge-on-read (gate G3.1.C) --------------------------------------------------------


def test_delta_wins_on_conflict_and_delete_applies(lake: Lake, core: QueryCore) -> None:
    base = lake.part("people", people([1, 2, 3], ["ann", "bob", "cy"]))
    delta = lake.delta("people", people([2, 3], ["BOB", "cy"]), ops=["U", "D"], seqs=[1, 2])
    lake.commit("people", [base], PEOPLE, deltas=[delta], key=("id",))

    result = core.execute_rows("SELECT * FROM people ORDER BY id", 10)

    assert result.rows == [[1, "ann", 1.0], [2, "BOB", 2.0]]
    assert [name for name, _ in result.columns] == ["id", "name", "score"]


def test_highest_sequence_wins_across_delta_files(lake: Lake, core: QueryCore) -> None:
    base = lake.part("people", people([1, 2], ["ann", "bob"]))
    # The later file carries the *lower* sequence: order of files must not matter.
    newest = lake.delta("people", people([1, 2], ["ann-v3", "bob-v3"]), ops=["U", "D"], seqs=[30, 31])
    older = lake.delta(
        "people", people([1, 2, 2], ["ann-v1", "bob-v1", "bob-v2"]), ops=["U", "U", "U"], seqs=[10, 11, 20]
    )
    lake.commit("people", [base], PEOPLE, deltas=[newest, older], key=("id",))

    assert rows(core, "SELECT id, name FROM people ORDER BY id") == [[1, "ann-v3"]]


def test_upsert_after_delete_restores_the_key(lake: Lake, core: QueryCore) -> None:
    base = lake.part("people", people([1], ["ann"]))
    delta = lake.delta("people", people([1, 1], ["gone", "back"]), ops=["D", "U"], seqs=[1, 2])
    lake.commit("people", [base], PEOPLE, deltas=[delta], key=("id",))

    assert rows(core, "SELECT id, name FROM people") == [[1, "back"]]


def test_key_only_in_delta_is_inserted_and_deleting_an_absent_key_is_harmless(lake: Lake, core: QueryCore) -> None:
    base = lake.part("people", people([1], ["ann"]))
    delta = lake.delta("people", people([7, 8], ["new", "never"]), ops=["U", "D"], seqs=[1, 2])
    lake.commit("people", [base], PEOPLE, deltas=[delta], key=("id",))

    assert rows(core, "SELECT id, name FROM people ORDER BY id") == [[1, "ann"], [7, "new"]]


def test_merge_on_composite_key(lake: Lake, core: QueryCore) -> None:
    schema = pa.schema([("org", pa.string()), ("id", pa.int64()), ("v", pa.string())])
    base = lake.part("t", pa.table({"org": ["a", "a", "b"], "id": [1, 2, 1], "v": ["a1", "a2", "b1"]}, schema=schema))
    delta_table = pa.table({"org": ["b", "a"], "id": [1, 2], "v": ["B1", "x"]}, schema=schema)
    delta = lake.delta("t", delta_table, ops=["U", "D"], seqs=[1, 2])
    lake.commit("t", [base], schema, deltas=[delta], key=("org", "id"))

    assert rows(core, "SELECT org, id, v FROM t ORDER BY org, id") == [["a", 1, "a1"], ["b", 1, "B1"]]


def test_deltas_without_base_files(lake: Lake, core: QueryCore) -> None:
    delta = lake.delta("people", people([5, 6], ["eve", "fay"]), ops=["U", "D"], seqs=[1, 2])
    lake.commit("people", [], PEOPLE, deltas=[delta], key=("id",))

    assert rows(core, "SELECT id, name FROM people") == [[5, "eve"]]


def test_filters_and_aggregates_see_the_merged_rows(lake: Lake, core: QueryCore) -> None:
    base = lake.part("people", people([1, 2, 3], ["ann", "bob", "cy"], [10.0, 20.0, 30.0]))
    delta = lake.delta("people", people([2, 3], ["bob", "cy"], [200.0, 30.0]), ops=["U", "D"], seqs=[1, 2])
    lake.commit("people", [base], PEOPLE, deltas=[delta], key=("id",))

    assert rows(core, "SELECT sum(score) FROM people WHERE score > 5") == [[210.0]]


# Errors -------------------------------------------------------------------------


def expect(error_type: type[errors.LakehouseError], reason: str, core: QueryCore, sql: str) -> errors.LakehouseError:
    with pytest.raises(error_type) as info:
        core.execute_rows(sql, 10)
    assert info.value.reason == reason
    assert not isinstance(info.value, duckdb.Error)
    assert info.value.__cause__ is None or not isinstance(info.value.__cause__, duckdb.Error)
    return info.value


def test_syntax_error_carries_the_duckdb_message(core: QueryCore) -> None:
    error = expect(errors.InvalidArgument, "SQL_SYNTAX", core, "SELECT FROM WHERE 1")
    assert "syntax error" in error.message


def test_unknown_dataset_is_not_found_and_named(core: QueryCore) -> None:
    error = expect(errors.NotFound, "DATASET_NOT_FOUND", core, "SELECT * FROM no_such_dataset")
    assert error.metadata["dataset"] == "no_such_dataset"
    assert "no_such_dataset" in error.message


def test_unknown_column_is_a_bind_error(lake: Lake, core: QueryCore) -> None:
    lake.commit("people", [lake.part("people", people([1], ["ann"]))], PEOPLE)
    error = expect(errors.InvalidArgument, "SQL_BIND", core, "SELECT nope FROM people")
    assert "nope" in error.message


def test_type_mismatch_is_a_bind_error(core: QueryCore) -> None:
    expect(errors.InvalidArgument, "SQL_BIND", core, "SELECT 'x' + 1")


def test_unknown_function_is_a_bind_error(core: QueryCore) -> None:
    expect(errors.InvalidArgument, "SQL_BIND", core, "SELECT no_such_function(1)")


def test_conversion_error_at_run_time(core: QueryCore) -> None:
    expect(
        errors.InvalidArgument,
        "SQL_RUNTIME",
        core,
        "SELECT CAST(range::VARCHAR || 'x' AS INTEGER) FROM range(10)",
    )
    expect(errors.InvalidArgument, "SQL_RUNTIME", core, "SELECT 2147483647::INTEGER + 1")


def test_run_time_error_in_a_later_batch_is_raised_by_the_stream(core: QueryCore) -> None:
    failing_row = BATCH_ROWS * 3
    sql = (
        f"SELECT CASE WHEN range = {failing_row} THEN error('boom') ELSE range END AS v FROM range({failing_row + 10})"
    )
    stream = core.execute(sql)
    with pytest.raises(errors.InvalidArgument) as info:
        for _ in stream:
            pass
    assert info.value.reason == "SQL_RUNTIME"
    assert "boom" in info.value.message


def test_empty_and_multiple_statements_are_invalid(core: QueryCore) -> None:
    expect(errors.InvalidArgument, "SQL_EMPTY", core, "   ")
    expect(errors.InvalidArgument, "SQL_EMPTY", core, "-- only a comment")
    expect(errors.InvalidArgument, "SQL_MULTIPLE_STATEMENTS", core, "SELECT 1; SELECT 2")


def test_out_of_memory_is_resource_exhausted(lake: Lake) -> None:
    core = make_core(lake, memory_limit="64MB", threads=1)
    try:
        expect(
            errors.ResourceExhausted,
            "QUERY_OUT_OF_MEMORY",
            core,
            "SELECT list(range::VARCHAR || 'padding-padding-padding') FROM range(30000000)",
        )
        assert rows(core, "SELECT 42") == [[42]]
    finally:
        core.close()


def test_dataset_with_a_missing_file_is_unavailable(lake: Lake, core: QueryCore) -> None:
    missing = DataFile("datasets/broken/v1/part-0.parquet", 1, 1, "sha256:" + "0" * 64)
    lake.commit("broken", [missing], PEOPLE)
    lake.commit("fine", [lake.part("fine", people([1], ["ann"]))], PEOPLE)

    with pytest.raises(errors.Unavailable) as info:
        core.execute_rows("SELECT * FROM broken", 10)
    assert info.value.reason in {"DATASET_UNAVAILABLE", "STORAGE_UNAVAILABLE"}
    assert "datasets/broken/v1/part-0.parquet" in info.value.message
    assert lake.base not in info.value.message  # local paths are scrubbed
    assert rows(core, "SELECT count(*) FROM fine") == [[1]]


def test_negative_arguments_are_invalid(core: QueryCore) -> None:
    with pytest.raises(errors.InvalidArgument):
        core.execute("SELECT 1", timeout_s=-1)
    with pytest.raises(errors.InvalidArgument):
        core.execute_rows("SELECT 1", -1)


def test_timeout_is_clamped_to_the_maximum(lake: Lake) -> None:
    core = make_core(lake, max_timeout_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(errors.DeadlineExceeded):
            core.execute_rows(ENDLESS_SQL, 10, timeout_s=3_600)
        assert time.monotonic() - started < STOP_BOUND_S
    finally:
        core.close()


# Deadlines, cancel, release ------------------------------------------------------------


def test_timeout_stops_a_slow_query(core: QueryCore) -> None:
    started = time.monotonic()
    with pytest.raises(errors.DeadlineExceeded) as info:
        core.execute_rows(ENDLESS_SQL, 10, timeout_s=0.2)
    assert info.value.reason == "QUERY_TIMEOUT"
    assert time.monotonic() - started < STOP_BOUND_S
    assert rows(core, "SELECT 1") == [[1]]


def test_timeout_covers_a_stalled_consumer(core: QueryCore) -> None:
    stream = core.execute("SELECT * FROM range(100000000)", timeout_s=0.2)
    next(stream)
    time.sleep(0.6)
    with pytest.raises(errors.DeadlineExceeded):
        for _ in stream:
            pass


def test_cancel_from_another_thread(core: QueryCore) -> None:
    stream = core.execute(ENDLESS_SQL, timeout_s=600)
    canceller = threading.Timer(0.2, stream.cancel)
    started = time.monotonic()
    canceller.start()
    with pytest.raises(errors.Cancelled) as info:
        stream.schema  # noqa: B018 - starts the query
    assert info.value.reason == "QUERY_CANCELLED"
    assert time.monotonic() - started < STOP_BOUND_S
    assert rows(core, "SELECT 1") == [[1]]


def test_cancel_before_the_query_starts(core: QueryCore) -> None:
    stream = core.execute("SELECT 1")
    stream.cancel()
    with pytest.raises(errors.Cancelled):
        list(stream)


def test_close_from_another_thread_between_reads_cancels(core: QueryCore) -> None:
    stream = core.execute("SELECT * FROM range(100000000)")
    next(stream)
    closer = threading.Thread(target=stream.close)
    closer.start()
    closer.join()
    with pytest.raises(errors.Cancelled):
        next(stream)


def test_finished_stream_ends_normally_after_close(core: QueryCore) -> None:
    stream = core.execute("SELECT 1 AS a")
    assert sum(b.num_rows for b in stream) == 1
    stream.close()
    assert list(stream) == []
    assert stream.schema == pa.schema([("a", pa.int32())])


def test_close_from_another_thread_stops_a_reader(core: QueryCore) -> None:
    stream = core.execute(ENDLESS_SQL, timeout_s=600)
    closer = threading.Timer(0.2, stream.close)
    closer.start()
    started = time.monotonic()
    with pytest.raises(errors.Cancelled):
        list(stream)
    assert time.monotonic() - started < STOP_BOUND_S


def connections(core: QueryCore) -> int:
    return core._engine.db.sql("SELECT count FROM duckdb_connection_count()").fetchall()[0][0]


def test_unfinished_stream_releases_its_connection(core: QueryCore) -> None:
    idle = connections(core)

    stream = core.execute("SELECT * FROM range(1000000)")
    next(stream)
    assert connections(core) == idle + 1
    stream.close()
    assert connections(core) == idle
    with pytest.raises(errors.Cancelled):  # never a silently truncated result
        next(stream)

    with core.execute("SELECT * FROM range(1000000)") as scoped:
        next(scoped)
    assert connections(core) == idle

    abandoned = core.execute("SELECT * FROM range(1000000)")
    next(abandoned)
    del abandoned
    gc.collect()
    assert connections(core) == idle


def test_failed_queries_release_their_connection(core: QueryCore) -> None:
    idle = connections(core)
    for sql in ["SELECT FROM", "SELECT * FROM nope", "SELECT 'a'::INT", "CREATE TABLE t (a INT)"]:
        with pytest.raises(errors.LakehouseError):
            core.execute_rows(sql, 10)
    assert connections(core) == idle


def test_stream_batches_have_the_configured_size(core: QueryCore) -> None:
    total = BATCH_ROWS * 2 + BATCH_ROWS // 2
    with core.execute(f"SELECT range AS n FROM range({total})") as stream:
        assert stream.schema == pa.schema([("n", pa.int64())])
        sizes = [batch.num_rows for batch in stream]
    assert sizes == [BATCH_ROWS, BATCH_ROWS, BATCH_ROWS // 2]


def test_stream_columns_are_known_before_running(core: QueryCore) -> None:
    with core.execute("SELECT 1::INTEGER AS a, 'x' AS b") as stream:
        assert stream.columns == [("a", "INTEGER"), ("b", "VARCHAR")]


# Concurrency ---------------------------------------------------------------------------


def test_concurrent_queries_from_threads(lake: Lake, core: QueryCore) -> None:
    table = people(list(range(10_000)), [f"p{i}" for i in range(10_000)])
    lake.commit("people", [lake.part("people", table)], PEOPLE)
    failures: list[BaseException] = []
    results: dict[int, list] = {}

    def worker(n: int) -> None:
        try:
            results[n] = rows(core, f"SELECT count(*), sum(id) FROM people WHERE id % 8 = {n}")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    for n in range(8):
        ids = [i for i in range(10_000) if i % 8 == n]
        assert results[n] == [[len(ids), sum(ids)]]


def test_queries_during_commits_see_a_whole_version(lake: Lake, core: QueryCore) -> None:
    """Views are swapped while queries run; every answer is the row count of some committed version."""
    files = [lake.part("grow", people([0], ["p0"]))]
    lake.commit("grow", files, PEOPLE)
    versions = 6
    failures: list[BaseException] = []
    counts: list[int] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                counts.append(rows(core, "SELECT count(*) FROM grow")[0][0])
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                failures.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(1, versions):
        files.append(lake.part("grow", people([n], [f"p{n}"])))
        lake.commit("grow", list(files), PEOPLE, mode=WriteMode.APPEND)
        time.sleep(0.02)
    done.set()
    for t in threads:
        t.join()

    assert failures == []
    assert counts and set(counts) <= set(range(1, versions + 1))
    assert rows(core, "SELECT count(*) FROM grow") == [[versions]]


# Row caps ---------------------------------------------------------------------------------


def test_row_cap_sets_truncated(core: QueryCore) -> None:
    capped = core.execute_rows("SELECT range FROM range(100)", 5)
    assert capped.rows == [[0], [1], [2], [3], [4]]
    assert capped.truncated

    exact = core.execute_rows("SELECT range FROM range(5)", 5)
    assert len(exact.rows) == 5
    assert not exact.truncated


def test_row_cap_defaults_to_and_never_exceeds_the_setting(core: QueryCore) -> None:
    default = core.execute_rows("SELECT range FROM range(1000)", 0)
    assert len(default.rows) == MAX_JSON_ROWS
    assert default.truncated
    assert len(core.execute_rows("SELECT range FROM range(1000)", MAX_JSON_ROWS * 10).rows) == MAX_JSON_ROWS


def test_row_cap_does_not_materialize_a_huge_result(core: QueryCore) -> None:
    result = core.execute_rows("SELECT range FROM range(1000000000000)", 3, timeout_s=60)
    assert result.rows == [[0], [1], [2]]
    assert result.truncated


# JSON values ----------------------------------------------------------------------------------

ALL_TYPES_SQL = """
SELECT
    NULL AS n,
    true AS b,
    (-5)::TINYINT AS i8,
    9007199254740993::BIGINT AS i64,
    12345678901234567890123::HUGEINT AS huge,
    1.5::FLOAT AS f32,
    2.25::DOUBLE AS f64,
    'nan'::DOUBLE AS nan,
    'inf'::DOUBLE AS pinf,
    '-inf'::DOUBLE AS ninf,
    12.50::DECIMAL(10, 2) AS dec,
    'héllo' AS s,
    '\\x00\\xFFab'::BLOB AS blob,
    DATE '2024-02-29' AS d,
    'infinity'::DATE AS d_inf,
    TIME '13:14:15.123456' AS t,
    TIMESTAMP '2024-02-29 13:14:15.5' AS ts,
    TIMESTAMP '2024-02-29 13:14:15' AS ts_whole,
    '2024-02-29 13:14:15.123456789'::TIMESTAMP_NS AS ts_ns,
    '2024-02-29 13:14:15.123'::TIMESTAMP_MS AS ts_ms,
    '2024-02-29 13:14:15'::TIMESTAMP_S AS ts_s,
    TIMESTAMPTZ '2024-02-29 13:14:15+00' AS tstz,
    'infinity'::TIMESTAMP AS ts_inf,
    '-infinity'::TIMESTAMP AS ts_ninf,
    INTERVAL '1 month 2 days 3.5 seconds' AS iv,
    INTERVAL '0 seconds' AS iv_zero,
    INTERVAL '26 hours 3 minutes' AS iv_hours,
    '12345678-1234-5678-1234-567812345678'::UUID AS u,
    [1, NULL, 3] AS lst,
    [1.5, 'nan'::DOUBLE]::DOUBLE[2] AS arr,
    {'a': 1, 'when': DATE '2024-01-01', 'tags': ['x']} AS st,
    MAP {'k': 1.5::DECIMAL(3, 1), 'z': NULL} AS mp,
    MAP {1: 'one'} AS mp_int,
    'b'::ENUM('a', 'b') AS en,
    [TIMESTAMP '2024-01-01 00:00:00.000001'] AS ts_list
"""

ALL_TYPES_EXPECTED = {
    "n": None,
    "b": True,
    "i8": -5,
    "i64": 9007199254740993,
    "huge": 12345678901234567890123,
    "f32": 1.5,
    "f64": 2.25,
    "nan": "NaN",
    "pinf": "Infinity",
    "ninf": "-Infinity",
    "dec": "12.50",
    "s": "héllo",
    "blob": base64.b64encode(b"\x00\xffab").decode(),
    "d": "2024-02-29",
    "d_inf": "infinity",
    "t": "13:14:15.123456",
    "ts": "2024-02-29T13:14:15.500000",
    "ts_whole": "2024-02-29T13:14:15",
    "ts_ns": "2024-02-29T13:14:15.123456789",
    "ts_ms": "2024-02-29T13:14:15.123",
    "ts_s": "2024-02-29T13:14:15",
    "tstz": "2024-02-29T13:14:15+00:00",
    "ts_inf": "infinity",
    "ts_ninf": "-infinity",
    "iv": "P1M2DT3.5S",
    "iv_zero": "PT0S",
    "iv_hours": "PT26H3M",
    "u": "12345678-1234-5678-1234-567812345678",
    "lst": [1, None, 3],
    "arr": [1.5, "NaN"],
    "st": {"a": 1, "when": "2024-01-01", "tags": ["x"]},
    "mp": {"k": "1.5", "z": None},
    "mp_int": {"1": "one"},
    "en": "b",
    "ts_list": ["2024-01-01T00:00:00.000001"],
}


def test_json_values_for_every_type(core: QueryCore) -> None:
    import json

    result = core.execute_rows(ALL_TYPES_SQL, 10)

    names = [name for name, _ in result.columns]
    assert dict(zip(names, result.rows[0], strict=True)) == ALL_TYPES_EXPECTED
    json.dumps(result.rows, allow_nan=False)  # strictly valid JSON
    types = dict(result.columns)
    assert types["huge"] == "HUGEINT"
    assert types["st"].startswith("STRUCT(")


def test_json_values_of_nulls_in_nested_columns(core: QueryCore) -> None:
    sql = """
    SELECT * FROM (VALUES
        ([1, 2], {'a': 1}, MAP {'k': 1}, TIMESTAMP '2024-01-01'),
        (NULL, NULL, NULL, NULL),
        ([], {'a': NULL}, MAP {'k': NULL}, NULL)
    ) t(l, s, m, ts)
    """
    assert rows(core, sql) == [
        [[1, 2], {"a": 1}, {"k": 1}, "2024-01-01T00:00:00"],
        [None, None, None, None],
        [[], {"a": None}, {"k": None}, None],
    ]
