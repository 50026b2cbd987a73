"""Vacuum (servers/catalog/retention.py) and CatalogCore.expire_versions on a real catalog and lake."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import DatasetVersion, WriteMode
from lakehouse.servers.catalog import codec
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.catalog.retention import Retention, RetentionPolicy, expired_versions
from lakehouse.servers.ingest.core import IngestCore, IngestSpec
from lakehouse.servers.settings import RetentionSettings, Settings
from lakehouse.servers.storage.local import LocalObjectStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCHEMA = pa.schema([("id", pa.int64())])


def _v(version: int, minutes: float) -> DatasetVersion:
    return DatasetVersion("d", version, (), (), SCHEMA, T0 + timedelta(minutes=minutes), WriteMode.APPEND, "")


# The policy -------------------------------------------------------------------------


def test_policy_keeps_current_n_newest_and_recently_superseded() -> None:
    versions = [_v(n, 10 * n) for n in range(1, 7)]  # v6 (current) committed at minute 60
    now = T0 + timedelta(minutes=60)
    assert expired_versions(versions, 6, RetentionPolicy(0, 0), now) == [1, 2, 3, 4, 5]
    assert expired_versions(versions, 6, RetentionPolicy(2, 0), now) == [1, 2, 3]
    # v4 stopped being current when v5 came (minute 50): 10 minutes ago; v3 at minute 40.
    assert expired_versions(versions, 6, RetentionPolicy(0, 15 * 60), now) == [1, 2, 3]
    assert expired_versions(versions, 6, RetentionPolicy(0, 10 * 60), now) == [1, 2, 3, 4]
    # Either rule keeps a version.
    assert expired_versions(versions, 6, RetentionPolicy(3, 15 * 60), now) == [1, 2]
    assert expired_versions([_v(1, 0)], 1, RetentionPolicy(0, 0), now) == []


def test_policy_after_an_earlier_vacuum_left_gaps() -> None:
    versions = [_v(1, 10), _v(4, 40), _v(7, 70)]
    now = T0 + timedelta(minutes=75)
    # v4 was superseded at minute 70 (by the next kept version, 7): kept for 10 minutes.
    assert expired_versions(versions, 7, RetentionPolicy(0, 10 * 60), now) == [1]
    assert expired_versions(versions, 7, RetentionPolicy(1, 0), now) == [1]


# Vacuum on a real catalog and lake ---------------------------------------------------------


class Env:
    def __init__(self, tmp_path: Path, clock=None) -> None:
        self.settings = Settings(home=tmp_path / "home")
        self.store = LocalObjectStore("lake", self.settings.lake_root)
        self.catalog = CatalogCore(self.settings.catalog_db, self.store, self.settings.catalog)
        self.ingest_core = IngestCore(self.catalog, self.store, None, self.settings)
        self.journaled: list[tuple[str, BaseException, dict]] = []
        self.retention = Retention(
            self.catalog, self.store, self, RetentionSettings(), **({"clock": clock} if clock else {})
        )

    def record(self, operation: str, error: BaseException, context: dict | None = None) -> str:
        self.journaled.append((operation, error, dict(context or {})))
        return "id"

    def ingest(self, name: str, data: bytes, mode: WriteMode = WriteMode.APPEND, **kw):
        return self.ingest_core.ingest(IngestSpec(name, "csv", mode, **kw), [data])

    def files(self, name: str) -> set[str]:
        root = self.settings.lake_root / "datasets" / name
        return {p.relative_to(self.settings.lake_root).as_posix() for p in root.rglob("*.parquet")}

    def named_by(self, name: str, version: int | None = None) -> set[str]:
        v = self.catalog.get_version(name, version) if version else self.catalog.get_dataset(name).current
        return {f.path for f in (*v.files, *v.deltas)}

    def versions(self, name: str) -> list[int]:
        return [v.version for v in self.catalog.list_versions(name)[0]]


@pytest.fixture
def env(tmp_path: Path):
    e = Env(tmp_path)
    yield e
    e.catalog.close()


def _history(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n2,bo\n", WriteMode.CREATE, primary_key=("id",))  # v1
    env.ingest("people", b"id,name\n3,cy\n", WriteMode.APPEND)  # v2: v1's file + one more
    env.ingest("people", b"id\n2\n", WriteMode.DELETE)  # v3: + a delete delta
    env.ingest("people", b"id,name\n9,zed\n", WriteMode.REPLACE)  # v4: new files only


def test_vacuum_expires_versions_then_deletes_only_their_files(env: Env) -> None:
    _history(env)
    before = env.files("people")
    (result,) = env.retention.vacuum("people", retain_versions=0, retain_duration_s=0)
    assert result.expired_versions == (1, 2, 3)
    assert env.versions("people") == [4]
    assert env.files("people") == env.named_by("people")
    assert result.files_deleted == len(before) - len(env.files("people")) == 3
    assert result.bytes_deleted > 0 and result.files_left == ()


def test_files_a_kept_version_still_names_stay(env: Env) -> None:
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE)  # v1
    env.ingest("people", b"id,name\n2,bo\n", WriteMode.APPEND)  # v2 names v1's file too
    env.ingest("people", b"id,name\n3,cy\n", WriteMode.APPEND)  # v3 names all three
    (result,) = env.retention.vacuum("people", retain_versions=0, retain_duration_s=0)
    assert result.expired_versions == (1, 2) and result.files_deleted == 0
    assert env.files("people") == env.named_by("people")


def test_dry_run_reports_the_same_and_removes_nothing(env: Env) -> None:
    _history(env)
    before = env.files("people")
    (dry,) = env.retention.vacuum("people", retain_versions=1, retain_duration_s=0, dry_run=True)
    assert env.files("people") == before and env.versions("people") == [4, 3, 2, 1]
    (real,) = env.retention.vacuum("people", retain_versions=1, retain_duration_s=0)
    assert (dry.expired_versions, dry.files_deleted, dry.bytes_deleted) == (
        real.expired_versions,
        real.files_deleted,
        real.bytes_deleted,
    )
    assert real.expired_versions == (1, 2) and env.versions("people") == [4, 3]


def test_settings_apply_where_the_request_is_silent(tmp_path: Path) -> None:
    now = [datetime.now(UTC)]
    e = Env(tmp_path, clock=lambda: now[0])
    try:
        _history(e)
        # Defaults: nothing superseded less than a week ago goes.
        assert e.retention.vacuum("people")[0].expired_versions == ()
        assert e.retention.vacuum("people", retain_versions=0)[0].expired_versions == ()
        now[0] += timedelta(days=8)
        assert e.retention.vacuum("people", retain_versions=2, dry_run=True)[0].expired_versions == (1,)
        assert e.retention.vacuum("people")[0].expired_versions == (1, 2, 3)
    finally:
        e.catalog.close()


def test_vacuum_of_every_dataset(env: Env) -> None:
    _history(env)
    env.ingest("other", b"id\n1\n", WriteMode.CREATE)
    env.ingest("other", b"id\n2\n", WriteMode.REPLACE)
    results = env.retention.vacuum("", retain_versions=0, retain_duration_s=0)
    assert {r.dataset: r.expired_versions for r in results} == {"other": (1,), "people": (1, 2, 3)}


def test_bad_requests(env: Env) -> None:
    with pytest.raises(errors.NotFound) as missing:
        env.retention.vacuum("missing")
    assert missing.value.reason == "DATASET_NOT_FOUND"
    with pytest.raises(errors.InvalidArgument):
        env.retention.vacuum("Bad-Name")
    with pytest.raises(errors.InvalidArgument) as negative:
        env.retention.vacuum("", retain_versions=-1)
    assert negative.value.reason == "INVALID_RETENTION"
    with pytest.raises(errors.InvalidArgument):
        env.retention.vacuum("", retain_duration_s=-5)


def test_expire_versions_never_takes_the_current_one(env: Env) -> None:
    _history(env)
    with pytest.raises(errors.FailedPrecondition) as exc:
        env.catalog.expire_versions("people", [3, 4])
    assert exc.value.reason == "CURRENT_VERSION"
    assert env.versions("people") == [4, 3, 2, 1]  # the transaction changed nothing
    assert env.catalog.expire_versions("people", [99]) == ((), ())
    with pytest.raises(errors.NotFound):
        env.catalog.expire_versions("missing", [1])


def test_expire_versions_bumps_the_generation(env: Env) -> None:
    _history(env)
    before = env.catalog.generation()
    env.catalog.expire_versions("people", [1])
    assert env.catalog.generation() == before + 1


def test_a_file_another_dataset_names_is_never_deleted(env: Env) -> None:
    """A manifest committed before paths were checked may name another dataset's file."""
    env.ingest("people", b"id,name\n1,ann\n", WriteMode.CREATE)  # v1
    env.ingest("people", b"id,name\n2,bo\n", WriteMode.REPLACE)  # v2
    shared = next(iter(env.named_by("people", 1)))
    env.ingest("alias", b"id,name\n5,eve\n", WriteMode.CREATE)
    alias = env.catalog.get_dataset("alias").current
    forged = codec.encode_manifest([*alias.files, *env.catalog.get_version("people", 1).files], [], {})
    with sqlite3.connect(env.settings.catalog_db) as db:
        db.execute("UPDATE versions SET manifest = ? WHERE dataset = 'alias'", (forged,))
    (result,) = env.retention.vacuum("people", retain_versions=0, retain_duration_s=0)
    assert result.expired_versions == (1,) and result.files_deleted == 0
    assert (env.settings.lake_root / shared).exists()


class _StickyStore(LocalObjectStore):
    def delete(self, key: str) -> None:
        raise errors.Unavailable("disk said no", reason="STORAGE_UNAVAILABLE")


def test_files_that_cannot_be_deleted_are_journaled_orphans(env: Env) -> None:
    _history(env)
    sticky = Retention(env.catalog, _StickyStore("lake", env.settings.lake_root), env, RetentionSettings())
    (result,) = sticky.vacuum("people", retain_versions=0, retain_duration_s=0)
    assert result.expired_versions == (1, 2, 3) and result.files_deleted == 0 and len(result.files_left) == 3
    assert env.versions("people") == [4]  # catalog first: the versions are gone regardless
    operation, _, context = env.journaled[-1]
    assert operation == "catalog.vacuum" and context["dataset"] == "people"
    assert set(context["files_left"].split(",")) == set(result.files_left)
