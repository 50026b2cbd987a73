"""RingRecorder: the ring, batched journal files, the flush on close, and a journal that
fails (counted, the ops kept in the error journal) while recording carries on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.observer import ObservedOp
from lakehouse.servers.observer import journal
from lakehouse.servers.observer.recorder import JOURNAL_WRITE, RingRecorder
from lakehouse.servers.settings import ObserverSettings
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.model import ObjectInfo

# Long enough that only what a test triggers flushes.
NEVER_S = 3600.0
WAIT_S = 10.0


class BrokenStore(LocalObjectStore):
    """A lake whose writes fail like an unreachable S3."""

    def put(self, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        raise errors.Unavailable("S3 endpoint unreachable", reason="STORAGE_UNAVAILABLE")


def stores(tmp_path: Path, broken: bool = False) -> tuple[LocalObjectStore, ErrorJournal, LocalObjectStore]:
    lake = (BrokenStore if broken else LocalObjectStore)("lake", tmp_path / "lake")
    rescue = LocalObjectStore("rescue", tmp_path / "rescue")
    return lake, ErrorJournal(lake, rescue), rescue


def settings(**kw) -> ObserverSettings:
    # Retention off unless a test turns it on: the ops here are dated in the past.
    return ObserverSettings(**({"flush_interval_s": NEVER_S, "journal_retention_days": 0} | kw))


def call(recorder: RingRecorder, i: int = 0, *, start: datetime | None = None, code: str = "OK") -> None:
    start_ns = int((start or datetime.now(UTC)).timestamp() * 1e9)
    recorder.record_call(
        start_ns, "lakehouse.v1.QueryService", "Sql", "grpc", code, "", 1.5 + i, 10, 20, {"sql": f"SELECT {i}"}
    )


def journal_files(lake: LocalObjectStore) -> list[str]:
    return sorted(info.key for info in lake.list(journal.JOURNAL_PREFIX, 1000)[0])


def read_ops(lake: LocalObjectStore, key: str) -> list[ObservedOp]:
    fs, base = lake.filesystem()
    return journal.from_table(pq.read_table(f"{base}/{key}", filesystem=fs))


def wait_until(predicate, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_ring_keeps_the_newest_ops_and_builds_them_on_reading(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(ring_size=16, flush_max_ops=8, journal=False), start=False)
    for i in range(20):
        call(recorder, i)
    ops = [recorder.op(e) for e in recorder.entries()]
    assert len(ops) == 16 and recorder.recorded == 20
    assert [op.attributes["sql"] for op in ops] == [f"SELECT {i}" for i in range(4, 20)]
    assert len({op.id for op in ops}) == 16 and all(op.id.startswith(recorder.id) for op in ops)
    assert ops[0].service == "lakehouse.v1.QueryService" and ops[0].latency_ms == 5.5 and ops[0].time.tzinfo


def test_a_whole_op_is_kept_as_given_and_gets_an_id_when_it_has_none(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(journal=False), start=False)
    op = ObservedOp(id="", time=datetime.now(UTC), service="workflow", method="prompt", source="workflow", run_id="r1")
    recorder.record(op)
    (entry,) = recorder.entries()
    got = recorder.op(entry)
    assert got.run_id == "r1" and got.id.startswith(recorder.id)


def test_a_flush_writes_one_parquet_file_per_date(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(), start=False)
    midnight = datetime(2025, 3, 1, tzinfo=UTC)
    call(recorder, 0, start=midnight - timedelta(seconds=1))
    call(recorder, 1, start=midnight + timedelta(seconds=1))
    call(recorder, 2, start=midnight + timedelta(seconds=2))
    assert recorder.pending == 3
    assert recorder.flush() == 3
    keys = journal_files(lake)
    assert [k.split("/")[1] for k in keys] == ["2025-02-28", "2025-03-01"]
    assert all(k.endswith(".parquet") and recorder.id in k for k in keys)
    assert [op.attributes["sql"] for op in read_ops(lake, keys[1])] == ["SELECT 1", "SELECT 2"]
    assert recorder.journaled == 3 and recorder.pending == 0 and recorder.flush() == 0


def test_the_flush_thread_writes_once_flush_max_ops_wait(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(flush_max_ops=5))
    try:
        for i in range(4):
            call(recorder, i)
        time.sleep(0.2)
        assert journal_files(lake) == []  # below the batch size, and the interval is far
        call(recorder, 4)
        wait_until(lambda: recorder.journaled == 5)
        assert len(journal_files(lake)) == 1
    finally:
        recorder.close()


def test_the_flush_thread_writes_every_interval(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(flush_interval_s=0.05))
    try:
        call(recorder)
        wait_until(lambda: recorder.journaled == 1)
    finally:
        recorder.close()


def test_close_flushes_everything_left(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings())
    for i in range(7):
        call(recorder, i)
    recorder.close()
    (key,) = journal_files(lake)
    assert len(read_ops(lake, key)) == 7 and recorder.pending == 0
    recorder.close()  # twice is fine


def test_a_failing_journal_write_is_counted_kept_in_errors_and_recording_goes_on(tmp_path):
    lake, errs, rescue = stores(tmp_path, broken=True)
    recorder = RingRecorder(lake, errs, settings(), start=False)
    call(recorder, 0, code="NOT_FOUND")
    call(recorder, 1)
    assert recorder.flush() == 2  # no exception
    assert recorder.journal_failures == 1 and recorder.journaled == 0
    records, _ = errs.list()
    (record,) = records
    assert record["operation"] == JOURNAL_WRITE and record["rescued"]  # the lake is down: rescue bucket
    assert record["context"]["count"] == "2" and record["context"]["key"].startswith(journal.JOURNAL_PREFIX)
    kept = json.loads(record["context"]["ops"])
    assert [o["code"] for o in kept] == ["NOT_FOUND", "OK"] and kept[0]["attributes"] == {"sql": "SELECT 0"}
    call(recorder, 2)  # still records
    assert recorder.recorded == 3 and recorder.pending == 1
    assert recorder.flush() == 1 and recorder.journal_failures == 2


def test_pending_ops_are_bounded_by_the_ring_and_the_overflow_is_counted(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(ring_size=16, flush_max_ops=16), start=False)
    for i in range(20):
        call(recorder, i)
    assert recorder.pending == 16 and recorder.dropped == 4


def test_record_never_raises(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(journal=False), start=False)
    tail = recorder.subscribe()

    def boom(entry):
        raise RuntimeError("a broken tail")

    tail.push = boom  # type: ignore[method-assign]
    call(recorder)
    recorder.record(ObservedOp(id="x", time=datetime.now(UTC), service="s", method="m", source="grpc"))
    assert recorder.record_failures == 2 and recorder.recorded == 2


def test_a_tail_is_woken_by_a_new_op(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(journal=False), start=False)
    tail = recorder.subscribe()
    threading.Timer(0.05, lambda: call(recorder)).start()
    started = time.monotonic()
    tail.wait(WAIT_S)
    assert time.monotonic() - started < WAIT_S / 2 and len(tail.queue) == 1
    recorder.unsubscribe(tail)
    call(recorder)
    assert len(tail.queue) == 1 and recorder.tails == 0


def test_close_ends_the_tails(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(journal=False), start=False)
    tail = recorder.subscribe()
    threading.Timer(0.05, recorder.close).start()
    started = time.monotonic()
    tail.wait(WAIT_S)
    assert tail.closed and time.monotonic() - started < WAIT_S / 2


@pytest.mark.parametrize("bad", [{"flush_max_ops": 50, "ring_size": 20}, {"list_default": 10, "list_max": 5}])
def test_inconsistent_settings_are_refused(bad):
    with pytest.raises(ValueError):
        ObserverSettings(**bad)


def test_dates_older_than_the_retention_are_pruned_and_the_rest_kept(tmp_path):
    lake, errs, _ = stores(tmp_path)
    today = datetime(2025, 3, 10, 12, tzinfo=UTC)
    recorder = RingRecorder(lake, errs, settings(journal_retention_days=3), clock=lambda: today, start=False)
    for days_ago in (0, 2, 3, 9):
        call(recorder, days_ago, start=today - timedelta(days=days_ago))
    recorder.flush()
    lake.put("_journal/notes.txt", [b"not a journal date"])
    assert recorder.prune() == 2
    assert [k.split("/")[1] for k in journal_files(lake)] == ["2025-03-08", "2025-03-10", "notes.txt"]
    assert recorder.pruned == 2 and recorder.prune() == 0


def test_retention_zero_keeps_every_date(tmp_path):
    lake, errs, _ = stores(tmp_path)
    recorder = RingRecorder(lake, errs, settings(), start=False)
    call(recorder, 0, start=datetime(2001, 1, 1, tzinfo=UTC))
    recorder.flush()
    assert recorder.prune() == 0 and len(journal_files(lake)) == 1


def test_the_flush_thread_prunes_at_start(tmp_path):
    lake, errs, _ = stores(tmp_path)
    old = RingRecorder(lake, errs, settings(), start=False)
    call(old, 0, start=datetime(2001, 1, 1, tzinfo=UTC))
    old.flush()
    recorder = RingRecorder(lake, errs, settings(journal_retention_days=1))
    try:
        wait_until(lambda: recorder.pruned == 1)
        assert journal_files(lake) == []
    finally:
        recorder.close()


def test_a_failing_listing_does_not_stop_the_recorder(tmp_path):
    lake, errs, _ = stores(tmp_path)

    class UnlistableStore(LocalObjectStore):
        def list(self, prefix: str = "", page_size: int = 0, page_token: str = ""):
            raise errors.Unavailable("S3 endpoint unreachable", reason="STORAGE_UNAVAILABLE")

    recorder = RingRecorder(
        UnlistableStore("lake", tmp_path / "lake"), errs, settings(journal_retention_days=1), start=False
    )
    assert recorder.prune() == 0
    call(recorder)
    assert recorder.flush() == 1
