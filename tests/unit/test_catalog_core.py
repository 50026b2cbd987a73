"""CatalogCore on a real SQLite file: versions, conflicts, pagination, generation, deletes."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import DataFile, NewVersion, WriteMode
from lakehouse.api.paging import PagingSettings
from lakehouse.servers.catalog import codec
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.catalog.integrity import ProblemKind, verify_datasets
from lakehouse.servers.settings import CatalogSettings
from lakehouse.servers.storage.local import LocalObjectStore

DEFAULT_PAGE_SIZE = PagingSettings().default_page_size
MAX_PAGE_SIZE = PagingSettings().max_page_size
SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _file(path: str, rows: int = 10, dataset: str = "") -> DataFile:
    """A manifest entry (no lake behind it); ``dataset`` puts ``path`` under its prefix."""
    key = f"datasets/{dataset}/{path}" if dataset else path
    return DataFile(
        path=key, rows=rows, bytes=rows * 10, content_hash="sha256:" + hashlib.sha256(key.encode()).hexdigest()
    )


def _new(name: str, expected: int, *paths: str, mode: WriteMode = WriteMode.APPEND, **kw) -> NewVersion:
    return NewVersion(
        dataset=name,
        expected_version=expected,
        files=tuple(_file(p, dataset=name) for p in paths),
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
    assert ds.current.files == (_file("a.parquet", dataset="people"),)
    assert ds.current.primary_key == ("id",)
    assert ds.current.mode == WriteMode.CREATE
    assert ds.current.source_hash == "sha256:x"
    assert ds.created_at.tzinfo is not None

    delta = _file("d1.parquet", 3, dataset="people")
    v2 = catalog.commit_version(_new("people", 1, "a.parquet", "b.parquet", deltas=(delta,), schema=nested))
    assert v2.version == 2
    ds = catalog.get_dataset("people")
    assert ds.current_version == 2 and ds.version_count == 2
    assert [f.path for f in ds.current.files] == ["datasets/people/a.parquet", "datasets/people/b.parquet"]
    assert ds.current.deltas == (delta,)
    assert catalog.get_version("people", 1).files == (_file("a.parquet", dataset="people"),)


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
    assert catalog.get_dataset("t").current.files == (_file("a", dataset="t"),)


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
    assert info.value.reason == "INVALID_PAGE"


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
    catalog.commit_version(_new("t", 1, "v1/a", "v2/b", deltas=(_file("d/3", dataset="t"),)))
    catalog.commit_version(_new("t", 2, "v3/c", mode=WriteMode.REPLACE))
    catalog.commit_version(_new("keep", 0, "k"))
    files = catalog.delete_dataset("t")
    assert sorted(f.path for f in files) == [f"datasets/t/{p}" for p in ("d/3", "v1/a", "v2/b", "v3/c")]
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
    assert paths == sorted(f"datasets/t/w{w}-{i}" for w in range(writers) for i in range(commits_each))


# Committed data cannot be changed: commit-time verification and verify ----------


class Lake:
    """A local lake bucket and a catalog that verifies commits against it."""

    def __init__(self, root: Path, **settings: bool) -> None:
        self.store = LocalObjectStore("lake", root / "lake")
        self.catalog = CatalogCore(root / "catalog.sqlite", self.store, CatalogSettings(**settings))

    def write(self, key: str, data: bytes, rows: int = 1) -> DataFile:
        """Put ``data`` at ``key``; the entry a writer would commit for it."""
        self.store.put(key, [data])
        return DataFile(key, rows, len(data), "sha256:" + hashlib.sha256(data).hexdigest())

    def path(self, key: str) -> Path:
        return self.store.root / key

    def commit(self, name: str, expected: int, *files: DataFile, deltas: tuple[DataFile, ...] = ()):
        return self.catalog.commit_version(
            NewVersion(name, expected, tuple(files), deltas, SCHEMA, WriteMode.APPEND if expected else WriteMode.CREATE)
        )


@pytest.fixture
def lake(tmp_path: Path):
    box = Lake(tmp_path)
    yield box
    box.catalog.close()


def _versions_of(catalog: CatalogCore, name: str) -> int:
    try:
        return catalog.get_dataset(name).current_version
    except errors.NotFound:
        return 0


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../../etc/passwd", "INVALID_FILE_PATH"),
        ("/etc/passwd", "INVALID_FILE_PATH"),
        ("datasets/t/../other/v1/part.parquet", "INVALID_FILE_PATH"),
        ("datasets/other/v1/part.parquet", "FOREIGN_FILE"),
        ("datasets/tt/v1/part.parquet", "FOREIGN_FILE"),  # a name that merely starts with "t"
        ("datasets/t", "FOREIGN_FILE"),
        ("_catalog/snapshot.parquet", "FOREIGN_FILE"),
        ("part.parquet", "FOREIGN_FILE"),
    ],
)
def test_commit_refuses_paths_outside_the_dataset(lake: Lake, path: str, reason: str) -> None:
    entry = DataFile(path, 1, 10, "sha256:" + "0" * 64)
    with pytest.raises(errors.InvalidArgument) as caught:
        lake.commit("t", 0, entry)
    assert caught.value.reason == reason
    assert caught.value.metadata["path"] == path
    assert _versions_of(lake.catalog, "t") == 0


def test_commit_refuses_repeated_files_and_bad_hashes(lake: Lake) -> None:
    good = lake.write("datasets/t/v1/a.parquet", b"aaaa")
    with pytest.raises(errors.InvalidArgument) as caught:
        lake.commit("t", 0, good, good)
    assert caught.value.reason == "DUPLICATE_FILE"
    with pytest.raises(errors.InvalidArgument) as caught:
        lake.commit("t", 0, good, deltas=(good,))
    assert caught.value.reason == "DUPLICATE_FILE"
    for bad in ("", "md5:abc", "sha256:" + "A" * 64, "sha256:" + "0" * 63):
        with pytest.raises(errors.InvalidArgument) as caught:
            lake.commit("t", 0, DataFile(good.path, 1, good.bytes, bad))
        assert caught.value.reason == "INVALID_CONTENT_HASH"
    assert _versions_of(lake.catalog, "t") == 0


def test_commit_checks_existence_size_and_hash(lake: Lake) -> None:
    good = lake.write("datasets/t/v1/a.parquet", b"committed bytes")
    cases = {
        "FILE_MISSING": DataFile("datasets/t/v1/missing.parquet", 1, 5, good.content_hash),
        "FILE_SIZE_MISMATCH": DataFile(good.path, 1, good.bytes + 1, good.content_hash),
        "FILE_HASH_MISMATCH": DataFile(good.path, 1, good.bytes, "sha256:" + "0" * 64),
    }
    for reason, entry in cases.items():
        with pytest.raises(errors.FailedPrecondition) as caught:
            lake.commit("t", 0, entry)
        assert caught.value.reason == reason
        assert caught.value.metadata["path"] == entry.path and caught.value.metadata["dataset"] == "t"
    delta = lake.write("datasets/t/deltas/0000000001-00000-x.parquet", b"delta")
    with pytest.raises(errors.FailedPrecondition) as caught:
        lake.commit("t", 0, good, deltas=(DataFile(delta.path, 1, delta.bytes, good.content_hash),))
    assert caught.value.reason == "FILE_HASH_MISMATCH"  # deltas are checked like base files
    assert _versions_of(lake.catalog, "t") == 0
    assert lake.commit("t", 0, good, deltas=(delta,)).version == 1


def test_carried_over_entries_are_not_reread_but_changed_ones_are(lake: Lake) -> None:
    first = lake.write("datasets/t/v1/a.parquet", b"first")
    lake.commit("t", 0, first)
    lake.path(first.path).write_bytes(b"FIRST")  # tampered behind the catalog's back
    second = lake.write("datasets/t/v2/b.parquet", b"second")
    assert lake.commit("t", 1, first, second).version == 2  # known entry: verify finds it, not commit
    relabelled = DataFile(first.path, first.rows, first.bytes, "sha256:" + hashlib.sha256(b"other").hexdigest())
    with pytest.raises(errors.FailedPrecondition) as caught:
        lake.commit("t", 2, relabelled, second)
    assert caught.value.reason == "FILE_HASH_MISMATCH"


def test_hash_check_can_be_switched_off_but_size_cannot(tmp_path: Path) -> None:
    box = Lake(tmp_path, verify_content_hash=False)
    try:
        good = box.write("datasets/t/v1/a.parquet", b"payload")
        with pytest.raises(errors.FailedPrecondition) as caught:
            box.commit("t", 0, DataFile(good.path, 1, good.bytes - 1, good.content_hash))
        assert caught.value.reason == "FILE_SIZE_MISMATCH"
        with pytest.raises(errors.FailedPrecondition):
            box.commit("t", 0, DataFile("datasets/t/v1/none.parquet", 1, 1, good.content_hash))
        assert box.commit("t", 0, DataFile(good.path, 1, good.bytes, "sha256:" + "1" * 64)).version == 1
    finally:
        box.catalog.close()


def _legacy_commit(db: Path, name: str, version: int, *paths: str) -> None:
    """A manifest as an unchecked catalog could have stored it (before paths were verified)."""
    raw = sqlite3.connect(db)
    try:
        files = [_file(p) for p in paths]
        stamp = codec.encode_time(codec.now_utc())
        with raw:
            raw.execute(
                "INSERT OR REPLACE INTO datasets (name, current_version, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (name, version, stamp, stamp),
            )
            raw.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, '', '[]', ?)",
                (name, version, codec.encode_manifest(files, (), {}), codec.encode_schema(SCHEMA), "append", stamp),
            )
    finally:
        raw.close()


def test_delete_returns_only_files_the_dataset_owns(catalog: CatalogCore, db: Path) -> None:
    catalog.commit_version(_new("victim", 0, "v1/a"))
    catalog.commit_version(_new("owner", 0, "v1/own", "v1/shared"))
    _legacy_commit(db, "alias", 1, "datasets/victim/v1/a", "../../etc/passwd", "_catalog/x", "datasets/alias/v1/b")
    _legacy_commit(db, "borrower", 1, "datasets/owner/v1/shared")
    assert [f.path for f in catalog.delete_dataset("alias")] == ["datasets/alias/v1/b"]
    assert [f.path for f in catalog.delete_dataset("owner")] == ["datasets/owner/v1/own"]  # shared stays
    assert [f.path for f in catalog.delete_dataset("victim")] == ["datasets/victim/v1/a"]


def test_verify_finds_tampered_truncated_and_missing_files(lake: Lake) -> None:
    a = lake.write("datasets/t/v1/a.parquet", b"a" * 1000)
    b = lake.write("datasets/t/v2/b.parquet", b"b" * 500)
    c = lake.write("datasets/u/v1/c.parquet", b"c" * 100)
    lake.commit("t", 0, a)
    lake.commit("t", 1, a, b)
    lake.commit("u", 0, c)
    clean = verify_datasets(lake.catalog, lake.store, all_versions=True)
    assert clean.problems == ()
    assert (clean.datasets_checked, clean.files_checked, clean.bytes_checked) == (2, 3, 1600)

    lake.path(a.path).write_bytes(b"A" + b"a" * 999)  # same size, other bytes
    lake.path(b.path).write_bytes(b"b" * 10)
    lake.path(c.path).unlink()
    report = verify_datasets(lake.catalog, lake.store)
    found = {(p.dataset, p.version, p.path, p.kind) for p in report.problems}
    assert found == {
        ("t", 2, a.path, ProblemKind.HASH_MISMATCH),
        ("t", 2, b.path, ProblemKind.SIZE_MISMATCH),
        ("u", 1, c.path, ProblemKind.MISSING),
    }
    hashed = next(p for p in report.problems if p.kind == ProblemKind.HASH_MISMATCH)
    assert (
        hashed.expected == a.content_hash and hashed.actual == "sha256:" + hashlib.sha256(b"A" + b"a" * 999).hexdigest()
    )
    sized = next(p for p in report.problems if p.kind == ProblemKind.SIZE_MISMATCH)
    assert (sized.expected, sized.actual) == ("500", "10")

    only_u = verify_datasets(lake.catalog, lake.store, "u")
    assert only_u.datasets_checked == 1 and [p.path for p in only_u.problems] == [c.path]
    with pytest.raises(errors.NotFound):
        verify_datasets(lake.catalog, lake.store, "nope")


def test_verify_all_versions_reaches_files_only_old_versions_name(lake: Lake) -> None:
    old = lake.write("datasets/t/v1/a.parquet", b"old")
    new = lake.write("datasets/t/v2/b.parquet", b"new")
    lake.commit("t", 0, old)
    lake.catalog.commit_version(NewVersion("t", 1, (new,), (), SCHEMA, WriteMode.REPLACE))
    lake.path(old.path).write_bytes(b"OLD")
    assert verify_datasets(lake.catalog, lake.store).problems == ()
    report = verify_datasets(lake.catalog, lake.store, all_versions=True)
    assert [(p.version, p.path, p.kind) for p in report.problems] == [(1, old.path, ProblemKind.HASH_MISMATCH)]
