"""QueryCore under failure and load: a fatal engine error and the rebuild that follows,
calls DuckDB cannot interrupt, the JSON byte cap, memory settings and the spill directory.

Everything runs on a real DuckDB. The fatal error is the one the review found: a string
concatenation past DuckDB's 4 GiB string limit trips an internal assertion, which
invalidates the whole database (here in its quick, not constant-folded form: ~2 s, 2 GiB).
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lakehouse.api import arrow_wire, errors
from lakehouse.gateway.config import MAX_JSON_BODY_BYTES
from lakehouse.servers.memory import apply_process_cap, machine_memory, memory_bytes, process_data_bytes
from lakehouse.servers.query import engine as engine_module
from lakehouse.servers.query.core import QueryCore
from lakehouse.servers.query.engine_errors import Fatal, fatal, map_engine_error
from lakehouse.servers.query.results import scrub_batch
from lakehouse.servers.settings import QuerySettings
from tests.support.query_lake import PEOPLE, Lake, people

# Invalidates the database: "||" throws past the 4 GiB string limit but is not marked fallible.
FATAL_SQL = "SELECT length(s || s) FROM (SELECT repeat(repeat('x', 65536), 32768 + (random() * 0)::BIGINT) AS s)"
# One scalar call DuckDB cannot interrupt (~1-2 s of one core, 300 MB).
UNINTERRUPTIBLE_SQL = "SELECT length(repeat('x', 300000000))"
# Generous bound on "answered promptly" (2 cores shared with other work).
PROMPT_S = 2.0
SETTLE_S = 60.0


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lake = Lake(tmp_path)
    lake.commit("people", [lake.part("people", people([1, 2], ["ann", "bo"]))], PEOPLE)
    yield lake
    lake.catalog.close()


class Health:
    """Records what the core reports through its health callback."""

    def __init__(self) -> None:
        self.events: list[bool] = []
        self.changed = threading.Event()

    def __call__(self, serving: bool) -> None:
        self.events.append(serving)
        self.changed.set()


def make_core(lake: Lake, tmp_path: Path, health: Health | None = None, **overrides: object) -> QueryCore:
    settings = QuerySettings(**{"memory_limit": "4GB", "threads": 2, **overrides})
    return QueryCore(lake.catalog, lake.store, settings, temp_dir=tmp_path / "tmp" / "query", on_health=health)


def connections(core: QueryCore) -> int:
    return core._engine.db.sql("SELECT count FROM duckdb_connection_count()").fetchall()[0][0]


def wait_until(predicate, timeout_s: float = SETTLE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


# Fatal errors ---------------------------------------------------------------------------


def test_fatal_error_is_classified() -> None:
    assert fatal(duckdb.InternalException("INTERNAL Error: assertion")) is Fatal.CULPRIT
    assert fatal(duckdb.FatalException("FATAL Error: fsync failed")) is Fatal.CULPRIT
    invalidated = "FATAL Error: Failed: database has been invalidated because of a previous fatal error."
    assert fatal(duckdb.FatalException(invalidated)) is Fatal.VICTIM
    # Through Arrow the DuckDB kind survives only as the message prefix.
    assert fatal(pa.ArrowInvalid("INTERNAL Error: Scalar function threw")) is Fatal.CULPRIT
    assert fatal(OSError(invalidated)) is Fatal.VICTIM
    assert fatal(duckdb.BinderException("Binder Error: nope")) is None
    assert fatal(errors.Internal("x")) is None

    culprit = map_engine_error(duckdb.InternalException("INTERNAL Error: boom\n\nStack Trace: ..."))
    assert isinstance(culprit, errors.Internal) and culprit.reason == "QUERY_ENGINE_FAILED"
    assert "Stack Trace" not in culprit.message
    victim = map_engine_error(duckdb.FatalException(invalidated))
    assert isinstance(victim, errors.Unavailable) and victim.reason == "QUERY_ENGINE_RESTARTING"


def test_fatal_error_rebuilds_the_engine(lake: Lake, tmp_path: Path) -> None:
    health = Health()
    core = make_core(lake, tmp_path, health)
    try:
        assert core.execute_rows("SELECT count(*) FROM people", 0).rows == [[2]]
        first_temp = next((tmp_path / "tmp" / "query").iterdir())

        with pytest.raises(errors.Internal) as info:
            core.execute_rows(FATAL_SQL, 0)
        assert info.value.reason == "QUERY_ENGINE_FAILED"
        assert "database has been invalidated" not in info.value.message

        wait_until(lambda: health.events == [False, True])
        assert core.generation == 2
        # A new database, hardened, with the datasets' views attached again.
        assert core.execute_rows("SELECT name FROM people ORDER BY id", 0).rows == [["ann"], ["bo"]]
        with pytest.raises(errors.PermissionDenied):
            core.execute_rows("SELECT * FROM read_text('/etc/hostname')", 0)
        wait_until(lambda: not first_temp.exists())  # the old engine's spill directory went with it
    finally:
        core.close()


def test_queries_during_a_rebuild_get_unavailable_at_once(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = Health()
    core = make_core(lake, tmp_path, health)
    release = threading.Event()
    real_engine = engine_module.Engine

    class SlowEngine(real_engine):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            release.wait(SETTLE_S)
            super().__init__(*args, **kwargs)

    try:
        running = core.execute("SELECT count(*) FROM range(1000000000) a, range(1000000000) b", timeout_s=120)
        monkeypatch.setattr("lakehouse.servers.query.core.Engine", SlowEngine)
        with pytest.raises(errors.Internal):
            core.execute_rows(FATAL_SQL, 0)
        assert health.events == [False]

        started = time.monotonic()
        with pytest.raises(errors.Unavailable) as info:
            core.execute_rows("SELECT 1", 0)
        assert info.value.reason == "QUERY_ENGINE_RESTARTING"
        # The query that was running on the old engine is stopped with the same answer.
        with pytest.raises(errors.Unavailable) as in_flight:
            list(running)
        assert in_flight.value.reason == "QUERY_ENGINE_RESTARTING"
        assert time.monotonic() - started < PROMPT_S

        release.set()
        wait_until(lambda: health.events == [False, True])
        assert core.execute_rows("SELECT count(*) FROM people", 0).rows == [[2]]
    finally:
        release.set()
        core.close()


# Deadlines DuckDB cannot keep -------------------------------------------------------------


def test_uninterruptible_call_answers_at_the_deadline(lake: Lake, tmp_path: Path) -> None:
    core = make_core(lake, tmp_path, stop_grace_s=0.3, max_abandoned=1)
    try:
        idle = connections(core)
        started = time.monotonic()
        with pytest.raises(errors.DeadlineExceeded) as info:
            core.execute_rows(UNINTERRUPTIBLE_SQL, 0, timeout_s=0.1)
        assert info.value.reason == "QUERY_TIMEOUT"
        assert time.monotonic() - started < 0.1 + PROMPT_S

        # Still running on its own thread: that is the one abandoned call allowed.
        if core._abandoned.count:
            with pytest.raises(errors.ResourceExhausted) as busy:
                core.execute_rows("SELECT 1", 0)
            assert busy.value.reason == "QUERY_ENGINE_BUSY"
        wait_until(lambda: core._abandoned.count == 0)
        assert core.execute_rows("SELECT 1", 0).rows == [[1]]
        assert connections(core) == idle  # the abandoned call released its connection when it returned
    finally:
        core.close()


def test_arrow_stream_answers_at_the_deadline_too(lake: Lake, tmp_path: Path) -> None:
    core = make_core(lake, tmp_path, stop_grace_s=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(errors.DeadlineExceeded):  # from binding (DuckDB folds constants there) or reading
            list(core.execute(UNINTERRUPTIBLE_SQL, timeout_s=0.1))
        assert time.monotonic() - started < 0.1 + PROMPT_S
        wait_until(lambda: core._abandoned.count == 0)
    finally:
        core.close()


# The JSON byte cap ------------------------------------------------------------------------


def test_json_bytes_are_capped_and_truncate(lake: Lake, tmp_path: Path) -> None:
    core = make_core(lake, tmp_path, max_json_bytes=10_000)
    try:
        result = core.execute_rows("SELECT repeat('x', 1000) AS s FROM range(100)", 0)
        assert result.truncated
        assert 5 <= len(result.rows) < 10  # each row costs its JSON: ["xxx…"] plus a separator
        assert core.execute_rows("SELECT repeat('x', 100) AS s FROM range(10)", 0).truncated is False

        # A value whose Arrow size alone is past the cap is not converted at all.
        started = time.monotonic()
        huge = core.execute_rows("SELECT list(range) AS l FROM range(20000000)", 0, timeout_s=60)
        assert huge.rows == [] and huge.truncated
        assert huge.columns == [("l", "BIGINT[]")]
        assert time.monotonic() - started < 30
    finally:
        core.close()


def test_a_row_larger_than_one_response_is_refused_before_it_is_copied() -> None:
    batch = pa.record_batch({"l": pa.array([list(range(100_000))])})
    encoded = arrow_wire.encode_stream(batch.schema, iter([batch]), max_response_bytes=64 * 1024)
    next(encoded)  # the schema
    with pytest.raises(errors.InvalidArgument) as info:
        next(encoded)
    assert info.value.reason == "ROW_TOO_LARGE" and info.value.metadata == {"limit_bytes": str(64 * 1024)}
    small = pa.record_batch({"l": pa.array([[1, 2]])})
    assert len(list(arrow_wire.encode_stream(small.schema, iter([small]), max_response_bytes=64 * 1024))) == 2


def test_json_byte_cap_stays_below_the_gateway_limit() -> None:
    assert QuerySettings().max_json_bytes < MAX_JSON_BODY_BYTES


# Memory and spill settings ----------------------------------------------------------------


def test_memory_settings_resolve_shares_and_sizes() -> None:
    assert memory_bytes("512MB") == 512 * 1000**2
    assert memory_bytes("2GiB") == 2 * 1024**3
    assert memory_bytes("25%", total=8 * 1024**3) == 2 * 1024**3
    assert memory_bytes("") == 0
    assert 0 < memory_bytes("30%") < machine_memory()
    for bad in ("lots", "0%", "101%", "-1GB", "3 parsecs"):
        with pytest.raises(ValueError):
            memory_bytes(bad)
    with pytest.raises(ValueError):
        QuerySettings(memory_limit="")


def test_process_cap_never_starves_the_process() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    try:
        # A cap below what the process already holds is raised to that plus the engine's limit.
        cap = apply_process_cap("1MB", "512MB")
        assert cap >= process_data_bytes() + 500 * 1000**2 - 64 * 1024**2
        assert resource.getrlimit(resource.RLIMIT_DATA) == (cap, hard)
        assert apply_process_cap("", "512MB") == 0
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def test_engine_gets_the_memory_limit_and_spills_under_the_temp_dir(lake: Lake, tmp_path: Path) -> None:
    shared = make_core(lake, tmp_path, memory_limit="30%")
    assert shared.memory_limit_bytes == memory_bytes("30%")
    shared.close()
    core = make_core(lake, tmp_path, memory_limit="300MiB")
    try:
        db = core._engine.db
        limit, background = db.execute(
            "SELECT current_setting('memory_limit'), current_setting('allocator_background_threads')"
        ).fetchall()[0]
        assert (limit, background) == ("300.0 MiB", True)
        temp = db.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        assert Path(temp).parent == tmp_path / "tmp" / "query"
    finally:
        core.close()
    assert list((tmp_path / "tmp" / "query").iterdir()) == []


def test_out_of_memory_leaves_the_engine_serving(lake: Lake, tmp_path: Path) -> None:
    core = make_core(lake, tmp_path, memory_limit="256MB")
    try:
        with pytest.raises(errors.ResourceExhausted) as info:
            core.execute_rows("SELECT list(range) FROM range(1000000000)", 0, timeout_s=60)
        assert info.value.reason == "QUERY_OUT_OF_MEMORY"
        assert core.generation == 1
        assert core.execute_rows("SELECT count(*) FROM people", 0).rows == [[2]]
    finally:
        core.close()


# Server paths in results ------------------------------------------------------------------


def test_scrub_batch_removes_prefixes_at_any_depth() -> None:
    prefix = "/srv/home/lake/"
    paths = [prefix + "datasets/a/v1/part-0.parquet", None, "plain"]
    batch = pa.record_batch(
        {
            "s": pa.array(paths),
            "l": pa.array([[paths[0], "x"], None, []]),
            "st": pa.array([{"f": paths[0], "n": 1}, None, {"f": "y", "n": 2}]),
            "n": pa.array([1, 2, 3]),
        }
    ).slice(0, 3)
    clean = scrub_batch(batch, [prefix]).to_pylist()
    assert clean[0] == {"s": "datasets/a/v1/part-0.parquet", "l": ["datasets/a/v1/part-0.parquet", "x"],
                        "st": {"f": "datasets/a/v1/part-0.parquet", "n": 1}, "n": 1}  # fmt: skip
    assert clean[1] == {"s": None, "l": None, "st": None, "n": 2}
    assert clean[2]["s"] == "plain" and clean[2]["l"] == []
