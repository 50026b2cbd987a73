"""Bucket scoping: a caller's profiles name the buckets it may use (object API, ingest from
an object); any other bucket, the lake included, does not exist for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lakehouse.api import errors
from lakehouse.api.auth import READER, WRITER, Identity, Principal, Profile
from lakehouse.api.catalog import WriteMode
from lakehouse.api.ingest import INVALID_SOURCE_OBJECT, SOURCE_OBJECTS_UNAVAILABLE, IngestSpec, ObjectRef
from lakehouse.api.storage import BUCKET_NOT_FOUND, OBJECT_NOT_FOUND
from lakehouse.servers.auth.context import CALLER
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.ingest.core import IngestCore
from lakehouse.servers.settings import Settings
from lakehouse.servers.storage.core import StorageCore


@contextmanager
def calling_as(*buckets: str, role: str = WRITER) -> Iterator[None]:
    who = Identity(Principal("team"), profiles=(Profile("p", "team", role, buckets=buckets, datasets=("*",)),))
    token = CALLER.set(who)
    try:
        yield
    finally:
        CALLER.reset(token)


def _reason(info: pytest.ExceptionInfo) -> str:
    return info.value.reason


@pytest.fixture
def storage(tmp_path: Path) -> StorageCore:
    settings = Settings(home=tmp_path / "home")
    core = StorageCore(settings)
    for name in ("team-a", "team-b"):
        core.register_bucket(name, "local", root=str(settings.local_bucket_roots[0] / name))
        core.store(name).put("raw/people.csv", [f"id,team\n1,{name}\n2,{name}\n".encode()])
    return core


def test_unscoped_caller_sees_every_bucket(storage: StorageCore) -> None:
    assert [b.name for b in storage.list_buckets()] == ["lake", "rescue", "team-a", "team-b"]
    with calling_as("*"):
        assert len(storage.list_buckets()) == 4


def test_scoped_caller_sees_only_its_buckets(storage: StorageCore) -> None:
    with calling_as("team-a"):
        assert [b.name for b in storage.list_buckets()] == ["team-a"]
        assert storage.get_bucket("team-a").name == "team-a"
        assert b"".join(storage.get_object("team-a", "raw/people.csv").chunks).startswith(b"id,team")
        storage.put_object("team-a", "raw/more.csv", [b"id\n3\n"])
        assert [o.key for o in storage.list_objects("team-a", "raw/")[0]] == ["raw/more.csv", "raw/people.csv"]
        # Another team's bucket and the lake (dataset files) answer as if they did not exist.
        for bucket in ("team-b", "lake", "rescue"):
            for call in (
                lambda b=bucket: storage.get_bucket(b),
                lambda b=bucket: storage.get_object(b, "raw/people.csv"),
                lambda b=bucket: storage.stat_object(b, "raw/people.csv"),
                lambda b=bucket: storage.list_objects(b),
                lambda b=bucket: storage.put_object(b, "raw/x.csv", [b"x"]),
                lambda b=bucket: storage.delete_object(b, "raw/people.csv"),
            ):
                with pytest.raises(errors.NotFound) as info:
                    call()
                assert _reason(info) == BUCKET_NOT_FOUND
                assert "team-b" not in str(info.value) or bucket == "team-b"
    # Nothing was written to or deleted from team-b.
    assert [o.key for o in storage.list_objects("team-b")[0]] == ["raw/people.csv"]


def test_a_hidden_bucket_and_a_missing_one_answer_alike(storage: StorageCore) -> None:
    with calling_as("team-a"):
        with pytest.raises(errors.NotFound) as hidden:
            storage.get_bucket("team-b")
        with pytest.raises(errors.NotFound) as missing:
            storage.get_bucket("team-c")
    assert str(hidden.value).replace("team-b", "X") == str(missing.value).replace("team-c", "X")
    assert hidden.value.reason == missing.value.reason == BUCKET_NOT_FOUND


class Ingest:
    def __init__(self, tmp_path: Path, storage: StorageCore | None) -> None:
        self.settings = Settings(home=tmp_path / "home")
        self.catalog = CatalogCore(self.settings.catalog_db)
        self.reads: list[tuple[str, str]] = []

        def read_object(bucket: str, key: str):
            self.reads.append((bucket, key))
            return storage.get_object(bucket, key).chunks

        self.core = IngestCore(
            self.catalog,
            StorageCore(self.settings).lake(),
            None,
            self.settings,
            read_object=read_object if storage is not None else None,
        )

    def run(self, dataset: str, source: ObjectRef, chunks=(), **kw):
        return self.core.ingest(IngestSpec(dataset, "auto", WriteMode.APPEND, source=source, **kw), list(chunks))


def test_ingest_reads_the_named_object(tmp_path: Path, storage: StorageCore) -> None:
    env = Ingest(tmp_path / "i", storage)
    with calling_as("team-a"):
        result = env.run("people_a", ObjectRef("team-a", "raw/people.csv"))
    assert (result.rows, result.version) == (2, 1)
    assert env.reads == [("team-a", "raw/people.csv")]
    # The same object again is the same bytes: no second version.
    with calling_as("team-a"):
        assert env.run("people_a", ObjectRef("team-a", "raw/people.csv")).version == 1
    env.catalog.close()


def test_ingest_from_a_bucket_outside_the_profile_is_not_found(tmp_path: Path, storage: StorageCore) -> None:
    env = Ingest(tmp_path / "i", storage)
    with calling_as("team-a"), pytest.raises(errors.NotFound) as info:
        env.run("people_b", ObjectRef("team-b", "raw/people.csv"))
    assert _reason(info) == BUCKET_NOT_FOUND
    assert env.reads == []  # refused before any read
    with pytest.raises(errors.NotFound):
        env.catalog.get_dataset("people_b")
    with calling_as("team-a"), pytest.raises(errors.NotFound) as missing:
        env.run("people_a", ObjectRef("team-a", "raw/nope.csv"))
    assert _reason(missing) == OBJECT_NOT_FOUND
    env.catalog.close()


@pytest.mark.parametrize(
    ("source", "chunks", "field"),
    [
        (ObjectRef("team-a", ""), (), "source_key"),
        (ObjectRef("", "raw/people.csv"), (), "source_bucket"),
        (ObjectRef("team-a", "raw/people.csv"), (b"id\n1\n",), "body"),
    ],
)
def test_bad_source_objects(tmp_path: Path, storage: StorageCore, source: ObjectRef, chunks, field: str) -> None:
    env = Ingest(tmp_path / "i", storage)
    with pytest.raises(errors.InvalidArgument) as info:
        env.run("people_a", source, chunks)
    assert _reason(info) == INVALID_SOURCE_OBJECT
    assert info.value.violations[0].field == field
    assert env.reads == []
    env.catalog.close()


def test_ingest_without_object_access_says_so(tmp_path: Path) -> None:
    env = Ingest(tmp_path / "i", None)
    with pytest.raises(errors.FailedPrecondition) as info:
        env.run("people_a", ObjectRef("team-a", "raw/people.csv"))
    assert _reason(info) == SOURCE_OBJECTS_UNAVAILABLE
    env.catalog.close()


def test_reader_role_is_not_the_storage_cores_business(storage: StorageCore) -> None:
    """Roles are the interceptor's (rules.py); the core scopes by bucket only."""
    with calling_as("team-a", role=READER):
        assert [b.name for b in storage.list_buckets()] == ["team-a"]
