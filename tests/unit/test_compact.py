"""Compaction (servers/ingest/compact.py): the rows written are the rows a query sees."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.ingest.compact import COMPACTED_FROM, Compactor, EngineLimits
from lakehouse.servers.ingest.core import IngestCore, IngestSpec
from lakehouse.servers.query.core import QueryCore
from lakehouse.servers.settings import IngestSettings, Settings
from lakehouse.servers.storage.local import LocalObjectStore

TYPED = (
    b"id,name,score,ok,day,at\n"
    b"1,ann,1.5,true,2026-01-02,2026-01-02 03:04:05\n"
    b"2,bo,,false,2026-02-03,2026-02-03 04:05:06\n"
    b"3,cy,3.25,,2026-03-04,2026-03-04 05:06:07\n"
    b"4,,4.0,true,,\n"
)


class RecordingJournal:
    def __init__(self) -> None:
        self.records: list[tuple[str, BaseException, dict[str, str]]] = []

    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str:
        self.records.append((operation, error, dict(context or {})))
        return "id"


class Env:
    def __init__(self, tmp_path: Path, **ingest) -> None:
        self.settings = Settings(home=tmp_path / "home", ingest=IngestSettings(**ingest))
        self.store = LocalObjectStore("lake", self.settings.lake_root)
        self.catalog = CatalogCore(self.settings.catalog_db, self.store, self.settings.catalog)
        self.journal = RecordingJournal()
        self.core = IngestCore(self.catalog, self.store, self.journal, self.settings)
        self.query = QueryCore(self.catalog, self.store, self.settings.query)

    def ingest(self, name: str, data: bytes, mode: WriteMode = WriteMode.APPEND, **kw):
        return self.core.ingest(IngestSpec(name, "csv", mode, **kw), [data])

    def rows(self, name: str) -> list[list]:
        return sorted(self.query.execute_rows(f"SELECT * FROM {name}", 0).rows, key=lambda r: r[0])

    def lake_files(self, name: str) -> set[str]:
        root = self.settings.lake_root / "datasets" / name
        return {p.relative_to(self.settings.lake_root).as_posix() for p in root.rglob("*") if p.is_file()}

    def close(self) -> None:
        self.query.close()
        self.catalog.close()


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path)
    yield e
    e.close()


def test_compaction_writes_exactly_what_a_query_sees(env: Env) -> None:
    env.ingest("people", TYPED, WriteMode.CREATE, primary_key=("id",))
    env.ingest(
        "people", b"id,name,score,ok,day,at\n3,cyrus,9.5,true,2026-04-05,2026-04-05 06:07:08\n", WriteMode.UPSERT
    )
    env.ingest("people", b"id\n2\n", WriteMode.DELETE)
    env.ingest("people", b"id,name,score,ok,day,at\n5,dee,,,,\n2,back,1.0,false,2026-05-06,\n", WriteMode.UPSERT)
    env.ingest("people", b"id\n1\n", WriteMode.DELETE)
    before = env.catalog.get_dataset("people").current
    seen = env.rows("people")

    result = env.core.compact("people")

    after = env.catalog.get_dataset("people").current
    assert result.version == after.version == before.version + 1 and not result.deduplicated
    assert after.deltas == () and after.mode == WriteMode.REPLACE
    assert after.schema == before.schema and after.primary_key == ("id",)
    assert result.rows == len(seen) == after.base_rows == 4
    assert env.rows("people") == seen
    # The new base files alone hold those rows, with the dataset's exact types.
    table = pq.read_table([env.settings.lake_root / f.path for f in after.files][0])
    assert table.schema.remove_metadata() == before.schema
    assert sorted(table.column("id").to_pylist()) == [2, 3, 4, 5]


def test_a_version_without_deltas_is_left_as_it_is(env: Env) -> None:
    env.ingest("people", TYPED, WriteMode.CREATE)
    result = env.core.compact("people")
    assert result.deduplicated and result.version == 1 and result.files == 0
    assert env.catalog.get_dataset("people").current_version == 1


def test_everything_deleted_compacts_to_an_empty_version(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n2,bo\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id\n1\n2\n", WriteMode.DELETE)
    result = env.core.compact("people")
    current = env.catalog.get_dataset("people").current
    assert result.rows == 0 and current.files == () and current.deltas == ()
    assert env.rows("people") == []
    assert env.query.execute_rows("SELECT id, name FROM people", 0).columns == [("id", "BIGINT"), ("name", "VARCHAR")]


def test_upserts_into_an_empty_base(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id\n1\n", WriteMode.DELETE)
    env.core.compact("people")  # v3: no files at all
    env.ingest("people", b"id,name\n7,gus\n", WriteMode.UPSERT)
    env.core.compact("people")
    assert env.rows("people") == [[7, "gus"]]


def test_many_files_stream_through_the_part_writer(tmp_path: Path) -> None:
    e = Env(tmp_path, rows_per_file=1000, row_group_rows=250, batch_rows=300)
    try:
        body = "id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(3500))
        e.ingest("big", body.encode(), WriteMode.CREATE, primary_key=("id",))
        e.ingest("big", b"id,v\n10,-1\n", WriteMode.UPSERT)
        result = e.core.compact("big")
        assert result.rows == 3500 and result.files == 4
        total = e.query.execute_rows("SELECT count(*), sum(v) FROM big", 0).rows
        assert total == [[3500, sum(i * 2 for i in range(3500)) - 20 - 1]]
    finally:
        e.close()


def test_a_concurrent_commit_wins_and_the_attempt_leaves_nothing(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id,name\n1,ann2\n", WriteMode.UPSERT)
    stale = env.catalog.get_dataset("people")
    env.ingest("people", b"id,name\n2,bo\n", WriteMode.UPSERT)  # lands between read and commit
    files_before = env.lake_files("people")
    compactor = Compactor(
        env.store, env.journal, env.settings.ingest, EngineLimits("256MB", env.settings.spool_dir / "duckdb-tmp")
    )
    with pytest.raises(errors.Aborted) as exc:
        compactor.run(stale, lambda new, plan: env.catalog.commit_version(new), lambda exc: None, lambda: False)
    assert exc.value.reason == "VERSION_CONFLICT"
    assert env.lake_files("people") == files_before
    operation, _, context = env.journal.records[-1]
    assert operation == "ingest.compact" and context["note"] == "attempt files deleted"
    # Retried on the fresh version it succeeds.
    result = env.core.compact("people")
    assert result.version == 4
    assert env.rows("people") == [[1, "ann2"], [2, "bo"]]


def test_cancelled_compaction_commits_nothing(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id\n1\n", WriteMode.DELETE)
    files_before = env.lake_files("people")
    with pytest.raises(errors.Cancelled):
        env.core.compact("people", cancelled=lambda: True)
    assert env.catalog.get_dataset("people").current_version == 2
    assert env.lake_files("people") == files_before
    assert env.journal.records == []  # the caller's choice, not a fault


def test_unknown_and_invalid_datasets(env: Env) -> None:
    with pytest.raises(errors.NotFound):
        env.core.compact("missing")
    with pytest.raises(errors.InvalidArgument):
        env.core.compact("Not A Name")


def test_the_manifest_says_what_was_compacted(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id\n1\n", WriteMode.DELETE)
    env.core.compact("people")
    with sqlite3.connect(env.settings.catalog_db) as db:
        (manifest,) = db.execute("SELECT manifest FROM versions WHERE dataset='people' AND version=3").fetchone()
    assert json.loads(manifest)["extra"][COMPACTED_FROM] == "2"


def test_an_unreadable_file_fails_cleanly_without_server_paths(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE, primary_key=("id",))
    env.ingest("people", b"id\n1\n", WriteMode.DELETE)
    base = env.catalog.get_dataset("people").current.files[0]
    (env.settings.lake_root / base.path).write_bytes(b"not parquet at all")
    with pytest.raises(errors.Unavailable) as exc:
        env.core.compact("people")
    assert exc.value.reason == "COMPACTION_FAILED"
    assert str(env.settings.lake_root) not in exc.value.message
    assert env.catalog.get_dataset("people").current_version == 2
