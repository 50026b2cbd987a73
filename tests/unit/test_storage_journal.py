"""ErrorJournal: records land in the lake, or in the rescue bucket when the lake fails."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.model import ObjectInfo

START = datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)


class Clock:
    """Deterministic time: each call advances one second."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class BrokenStore(LocalObjectStore):
    """A store whose backend is down: every call fails like an unreachable S3."""

    def put(self, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        raise errors.Unavailable("S3 endpoint unreachable", reason="STORAGE_UNAVAILABLE")

    def list(self, prefix: str = "", page_size: int = 0, page_token: str = "") -> tuple[list[ObjectInfo], str]:
        raise errors.Unavailable("S3 endpoint unreachable", reason="STORAGE_UNAVAILABLE")

    def get(self, key: str, chunk_bytes: int = 0) -> Iterator[bytes]:
        raise errors.Unavailable("S3 endpoint unreachable", reason="STORAGE_UNAVAILABLE")


class CrashingStore(LocalObjectStore):
    """A store failing with a raw, non-lakehouse exception."""

    def put(self, key: str, chunks: Iterable[bytes], content_type: str = "") -> ObjectInfo:
        raise RuntimeError("driver bug")


@pytest.fixture
def lake(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore("lake", tmp_path / "lake")


@pytest.fixture
def rescue(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore("rescue", tmp_path / "rescue")


def keys_of(store: LocalObjectStore) -> list[str]:
    return [i.key for i in store.list()[0]]


def load(store: LocalObjectStore, key: str) -> dict[str, object]:
    return json.loads(b"".join(store.get(key)))


def test_record_writes_json_to_primary(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    journal = ErrorJournal(lake, rescue, clock=Clock())
    error = errors.NotFound("dataset 'x' not found", reason="DATASET_NOT_FOUND")
    record_id = journal.record("ingest.upload", error, {"dataset": "x", "bytes": "12"})

    assert re.fullmatch(r"20240302T000000000000-[0-9a-f]{12}", record_id)
    assert keys_of(lake) == [f"_errors/2024-03-02/{record_id}.json"]
    assert keys_of(rescue) == []
    entry = load(lake, f"_errors/2024-03-02/{record_id}.json")
    assert entry == {
        "id": record_id,
        "time": "2024-03-02T00:00:00+00:00",
        "operation": "ingest.upload",
        "error_type": "NotFound",
        "code": "NOT_FOUND",
        "reason": "DATASET_NOT_FOUND",
        "message": "dataset 'x' not found",
        "context": {"dataset": "x", "bytes": "12"},
        "rescued": False,
    }
    assert lake.stat(f"_errors/2024-03-02/{record_id}.json").content_type == "application/json"


def test_plain_exceptions_have_empty_code_and_reason(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    journal = ErrorJournal(lake, rescue)
    record_id = journal.record("query.run", ValueError("bad"), {})
    entry = journal.list()[0][0]
    assert (entry["id"], entry["error_type"], entry["code"], entry["reason"], entry["message"]) == (
        record_id,
        "ValueError",
        "",
        "",
        "bad",
    )


@pytest.mark.parametrize("primary_kind", [BrokenStore, CrashingStore])
def test_failing_primary_falls_back_to_rescue(
    tmp_path: Path, rescue: LocalObjectStore, primary_kind: type[LocalObjectStore]
) -> None:
    primary = primary_kind("lake", tmp_path / "lake")
    journal = ErrorJournal(primary, rescue, clock=Clock())
    record_id = journal.record("storage.put", OSError("disk on fire"), {"key": "a/b"})
    key = f"_errors/2024-03-02/{record_id}.json"
    assert keys_of(rescue) == [key]
    entry = load(rescue, key)
    assert entry["rescued"] is True
    assert entry["operation"] == "storage.put" and entry["context"] == {"key": "a/b"}
    assert isinstance(entry["rescue_cause"], str) and entry["rescue_cause"]
    assert not (tmp_path / "lake").exists()


def test_never_raises_even_when_everything_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("cannot print me")

    class BadKey:
        def __str__(self) -> str:
            raise RuntimeError("nor me")

    def exploding_clock() -> datetime:
        raise RuntimeError("no time")

    journal = ErrorJournal(
        BrokenStore("lake", tmp_path / "l"), CrashingStore("rescue", tmp_path / "r"), clock=exploding_clock
    )
    with caplog.at_level(logging.ERROR):
        record_id = journal.record("op", Unprintable(), {BadKey(): 3})  # type: ignore[dict-item]
    assert record_id
    assert record_id in caplog.text  # the record survives in the log at least


def test_unprintable_values_are_recorded_not_fatal(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("cannot print me")

    journal = ErrorJournal(lake, rescue)
    journal.record("op", Unprintable(), {"n": 5})  # type: ignore[dict-item]
    entry = journal.list()[0][0]
    assert entry["message"] == "<unprintable Unprintable>"
    assert entry["context"] == {"n": "5"}


def test_list_merges_both_stores_newest_first_with_paging(
    lake: LocalObjectStore, rescue: LocalObjectStore, tmp_path: Path
) -> None:
    clock = Clock()
    healthy = ErrorJournal(lake, rescue, clock=clock)
    failing = ErrorJournal(BrokenStore("lake", tmp_path / "x"), rescue, clock=clock)
    ids = []
    for n in range(7):
        journal = failing if n % 3 == 0 else healthy
        ids.append(journal.record(f"op{n}", RuntimeError(str(n)), {}))
    newest_first = list(reversed(ids))

    everything, token = healthy.list()
    assert [e["id"] for e in everything] == newest_first and token == ""
    assert [e["rescued"] for e in everything] == [n % 3 == 0 for n in reversed(range(7))]

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page, token = healthy.list(limit=3, page_token=token)
        pages += 1
        assert len(page) <= 3
        seen.extend(e["id"] for e in page)
        if not token:
            break
        assert token == page[-1]["id"]
    assert seen == newest_first and pages == 3


def test_list_still_shows_rescued_records_while_primary_is_down(tmp_path: Path, rescue: LocalObjectStore) -> None:
    journal = ErrorJournal(BrokenStore("lake", tmp_path / "l"), rescue)
    record_id = journal.record("op", RuntimeError("x"), {})
    page, token = journal.list()
    assert [e["id"] for e in page] == [record_id] and token == ""


def test_list_raises_when_no_store_can_be_read(tmp_path: Path) -> None:
    journal = ErrorJournal(BrokenStore("lake", tmp_path / "l"), BrokenStore("rescue", tmp_path / "r"))
    with pytest.raises(errors.Unavailable):
        journal.list()


def test_list_skips_corrupt_and_foreign_files(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    journal = ErrorJournal(lake, rescue, clock=Clock())
    good = journal.record("op", RuntimeError("x"), {})
    lake.put("_errors/2024-03-02/20240302T000005000000-aaaaaaaaaaaa.json", [b"{not json"])
    lake.put("_errors/2024-03-02/readme.txt", [b"ignore me"])
    assert [e["id"] for e in journal.list()[0]] == [good]


@pytest.mark.parametrize(
    ("limit", "token"),
    [(-1, ""), (10, "not-an-id"), (10, "../../etc"), (10, "20240302T000000000000-aaaaaaaaaaaa\n")],
)
def test_list_rejects_bad_paging(lake: LocalObjectStore, rescue: LocalObjectStore, limit: int, token: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        ErrorJournal(lake, rescue).list(limit, token)


def test_ids_are_unique_and_time_sortable(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    journal = ErrorJournal(lake, rescue)
    ids = [journal.record("op", RuntimeError(str(n)), {}) for n in range(20)]
    assert len(set(ids)) == 20
    assert [i.split("-")[0] for i in ids] == sorted(i.split("-")[0] for i in ids)


def test_record_in_both_stores_is_shown_once_as_rescued(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    """A timed-out write can land in the lake after the record was rescued."""
    journal = ErrorJournal(lake, rescue, clock=Clock())
    record_id = journal.record("op", RuntimeError("x"), {})
    key = f"_errors/2024-03-02/{record_id}.json"
    entry = load(lake, key)
    rescue.put(key, [json.dumps({**entry, "rescued": True}).encode()])
    page, _ = journal.list()
    assert [(e["id"], e["rescued"]) for e in page] == [(record_id, True)]


def test_list_raises_the_primary_error_when_nothing_is_readable(tmp_path: Path) -> None:
    class OtherBroken(BrokenStore):
        def list(self, prefix: str = "", page_size: int = 0, page_token: str = "") -> tuple[list[ObjectInfo], str]:
            raise errors.Unauthenticated("bad key", reason="S3_AUTH_FAILED")

    journal = ErrorJournal(OtherBroken("lake", tmp_path / "l"), BrokenStore("rescue", tmp_path / "r"))
    with pytest.raises(errors.Unauthenticated):
        journal.list()


def test_a_scoped_listing_shows_only_its_datasets_records(lake: LocalObjectStore, rescue: LocalObjectStore) -> None:
    journal = ErrorJournal(lake, rescue, clock=Clock())
    for dataset in ("sales", "payroll", "sales", ""):
        journal.record("ingest", errors.InvalidArgument("bad", reason="X"), {"dataset": dataset} if dataset else {})
    mine = lambda entry: entry["context"].get("dataset") == "sales"  # noqa: E731
    page, token = journal.list(1, "", mine)
    rest, last = journal.list(1, token, mine)
    assert [e["context"]["dataset"] for e in [*page, *rest]] == ["sales", "sales"] and last == ""
    assert len(journal.list()[0]) == 4
