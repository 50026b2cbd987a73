"""CatalogCore on a real SQLite file: versions, conflicts, pagination, generation, deletes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.servers import errors
from lakehouse.servers.catalog.core import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, CatalogCore
from lakehouse.servers.catalog.model import DataFile, NewVersion, WriteMode

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _file(path: str, rows: int = 10) -> DataFile:
    return DataFile(path=path, rows=rows, bytes=rows * 10, content_hash=f"sha256:{path}")


def _new(name: str, expected: int, *paths: str, mode: WriteMode = WriteMode.APPEND, **kw) -> NewVersion:
    return NewVersion(
        dataset=name,
        expected_version=expected,
        files=tuple(_file(p) for p in paths),
        deltas=kw.pop("deltas", ()),
        schema=kw.pop("schema", SCHEMA),
        mode=mode,
        **kw,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "catalog.sqlite"


@pytest.fixture
def catalog(db: Path):
    core = CatalogCore(db)
    yield core
    core.close()


def test_commit_and_read_back(catalog: CatalogCore) -> None:
    nested = pa.schema([("id", pa.int64()), ("tags", pa.list_(pa.string())), ("at", pa.timestamp("us", "UTC"))])
    v1 = catalog.commit_version(
        _new(
            "people",
            0,
            "a.parquet",
            mode=WriteMode.CREATE,
            schema=nested,
            source_hash="sha256:x",
            primary_key=("id",),
        )
    )
    assert v1.version == 1
    ds = catalog.get_dataset("people")
    assert ds.name == "people" and ds.current_version == 1 and ds.version_count == 1
    assert ds.current.schema.equals(nested)
    assert ds.current.files == (_file("a.parquet"),)
    assert ds.current.primary_key == ("id",)
    assert ds.current.mode == WriteMode.CREATE
    assert ds.current.source_hash == "sha256:x"
    assert ds.created_at.tzinfo is not None

    delta = _file("d1.parquet", 3)
    v2 = catalog.commit_version(_new("people", 1, "a.parquet", "b.parquet", deltas=(delta,), schema=nested))
    assert v2.version == 2
    ds = catalog.get_dataset("people")
    assert ds.current_version == 2 and ds.version_count == 2
    assert [f.path for f in ds.current.files] == ["a.parquet", "b.parquet"]
    assert ds.current.deltas == (delta,)
    assert catalog.get_version("people", 1).files == (_file("a.parquet"),)


def test_version_conflict_is_aborted(catalog: CatalogCore) -> None:
    catalog.commit_version(_new("t", 0, "a"))
    catalog.commit_version(_new("t", 1, "b"))
    with pytest.raises(errors.Aborted) as info:
        catalog.commit_version(_new("t", 1, "c"))
    assert info.value.reason == "VERSION_CONFLICT"
    assert info.value.metadata["current_version"] == "2"
    assert catalog.get_dataset("t").current_version == 2
    # A writer expecting a version of a dataset that does not exist also lost a race.
    with pytest.raises(errors.Aborted):
        catalog.commit_version(_new("missing", 3, "x"))


def test_create_when_exists(catalog: CatalogCore) -> None:
    catalog.commit_version(_new("t", 0, "a"))
    with pytest.raises(errors.AlreadyExists) as info:
        catalog.commit_version(_new("t", 0, "b"))
    assert info.value.reason == "DATASET_EXISTS"
    assert catalog.get_dataset("t").current.files == (_file("a"),)


def test_not_found_reasons(catalog: CatalogCore) -> None:
    with pytest.raises(errors.NotFound) as info:
        catalog.get_dataset("nope")
    assert info.value.reason == "DATASET_NOT_FOUND" and info.value.metadata["dataset"] == "nope"
    with pytest.raises(errors.NotFound) as info:
        catalog.get_version("nope", 1)
    assert info.value.reason == "DATASET_NOT_FOUND"
    catalog.commit_version(_new("t", 0, "a"))
    with pytest.raises(errors.NotFound) as info:
        catalog.get_version("t", 7)
    assert info.value.reason == "VERSION_NOT_FOUND" and info.value.metadata["dataset"] == "t"
    with pytest.raises(errors.NotFound):
        catalog.list_versions("nope")
    with pytest.raises(errors.NotFound):
        catalog.delete_dataset("nope")


@pytest.mark.parametrize("bad", ["", "Upper", "1abc", "a-b", "a" * 64, "a/b"])
def test_invalid_names(catalog: CatalogCore, bad: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        catalog.get_dataset(bad)
    assert info.value.reason == "INVALID_DATASET_NAME"
    with pytest.raises(errors.InvalidArgument):
        catalog.commit_version(_new(bad, 0, "a"))


def test_commit_validation(catalog: CatalogCore) -> None:
    with pytest.raises(errors.InvalidArgument):
        catalog.commit_version(_new("t", 0, "a", primary_key=("nope",)))
    with pytest.raises(errors.InvalidArgument):
        catalog.commit_version(_new("t", -1, "a"))
    with pytest.raises(errors.NotFound):
        catalog.get_dataset("t")  # nothing was written


def test_find_by_source_hash_returns_latest(catalog: CatalogCore) -> None:
    catalog.commit_version(_new("t", 0, "a", source_hash="sha256:one"))
    catalog.commit_version(_new("t", 1, "b", source_hash="sha256:two"))
    catalog.commit_version(_new("t", 2, "c", source_hash="sha256:one"))
    assert catalog.find_by_source_hash("t", "sha256:one").version == 3
    assert catalog.find_by_source_hash("t", "sha256:two").version == 2
    assert catalog.find_by_source_hash("t", "sha256:three") is None
    assert catalog.find_by_source_hash("t", "") is None
    assert catalog.find_by_source_hash("other", "sha256:one") is None


def test_list_datasets_pagination(catalog: CatalogCore) -> None:
    names = [f"d{i:04d}" for i in range(DEFAULT_PAGE_SIZE + 5)]
    for name in reversed(names):
        catalog.commit_version(_new(name, 0, "x"))
    page, token = catalog.list_datasets()
    assert [d.name for d in page] == names[:DEFAULT_PAGE_SIZE] and token
    rest, token2 = catalog.list_datasets(page_token=token)
    assert [d.name for d in rest] == names[DEFAULT_PAGE_SIZE:] and token2 == ""
    seen, token = [], ""
    while True:
        page, token = catalog.list_datasets(page_size=7, page_token=token)
        seen += [d.name for d in page]
        if not token:
            break
    assert seen == names
    big, _ = catalog.list_datasets(page_size=MAX_PAGE_SIZE * 10)
    assert len(big) == len(names)  # clamped, not rejected
    with pytest.raises(errors.InvalidArgument):
        catalog.list_datasets(page_size=-1)
    with pytest.raises(errors.InvalidArgument) as info:
        catalog.list_datasets(page_token="!!not base64!!")
    assert info.value.reason == "INVALID_PAGE_TOKEN"


def test_list_versions_newest_first(catalog: CatalogCore) -> None:
    for v in range(5):
        catalog.commit_version(_new("t", v, f"f{v}"))
    page, token = catalog.list_versions("t", page_size=2)
    assert [v.version for v in page] == [5, 4]
    page, token = catalog.list_versions("t", page_size=2, page_token=token)
    assert [v.version for v in page] == [3, 2]
    page, token = catalog.list_versions("t", page_size=2, page_token=token)
    assert [v.version for v in page] == [1] and token == ""


def test_generation_counts_commits_and_deletes_across_instances(catalog: CatalogCore, db: Path) -> None:
    g0 = catalog.generation()
    catalog.commit_version(_new("t", 0, "a"))
    assert catalog.generation() == g0 + 1
    with pytest.raises(errors.Aborted):
        catalog.commit_version(_new("t", 0 + 5, "a"))
    assert catalog.generation() == g0 + 1  # a rejected commit changes nothing
    other = CatalogCore(db)  # another process would open the file the same way
    try:
        assert other.generation() == g0 + 1
        other.commit_version(_new("t", 1, "b"))
        assert catalog.generation() == g0 + 2
        assert catalog.get_dataset("t").current_version == 2
        catalog.delete_dataset("t")
        assert other.generation() == g0 + 3
    finally:
        other.close()


def test_delete_returns_every_referenced_file(catalog: CatalogCore) -> None:
    catalog.commit_version(_new("t", 0, "v1/a"))
    catalog.commit_version(_new("t", 1, "v1/a", "v2/b", deltas=(_file("d/3"),)))
    catalog.commit_version(_new("t", 2, "v3/c", mode=WriteMode.REPLACE))
    catalog.commit_version(_new("keep", 0, "k"))
    files = catalog.delete_dataset("t")
    assert sorted(f.path for f in files) == ["d/3", "v1/a", "v2/b", "v3/c"]
    with pytest.raises(errors.NotFound):
        catalog.get_dataset("t")
    assert catalog.find_by_source_hash("t", "") is None
    assert [d.name for d in catalog.list_datasets()[0]] == ["keep"]
    # The name can be used again; history restarts.
    assert catalog.commit_version(_new("t", 0, "new")).version == 1


def test_sqlite_pragmas(catalog: CatalogCore, db: Path) -> None:
    catalog.generation()
    conn = catalog._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] >= 1
    finally:
        raw.close()


def test_concurrent_writers_and_readers(catalog: CatalogCore) -> None:
    """Writers on many threads retry on VERSION_CONFLICT; every commit lands exactly once."""
    writers, commits_each = 6, 5
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(commits_each):
                while True:
                    try:
                        current = catalog.get_dataset("t").current_version
                    except errors.NotFound:
                        current = 0
                    try:
                        catalog.commit_version(_new("t", current, f"w{worker}-{i}"))
                        break
                    except (errors.Aborted, errors.AlreadyExists):
                        continue
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    def read() -> None:
        try:
            for _ in range(50):
                catalog.list_datasets()
                catalog.generation()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    ds = catalog.get_dataset("t")
    assert ds.current_version == writers * commits_each
    versions, _ = catalog.list_versions("t", page_size=MAX_PAGE_SIZE)
    paths = sorted(v.files[0].path for v in versions)
    assert paths == sorted(f"w{w}-{i}" for w in range(writers) for i in range(commits_each))
