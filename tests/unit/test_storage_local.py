"""LocalObjectStore: atomic puts, streamed gets, ordered paging, and no way out of the root."""

from __future__ import annotations

import errno
import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.paging import PagingSettings
from lakehouse.servers.storage import local as local_module
from lakehouse.servers.storage.listing import level_of, ordered_walk, take_page
from lakehouse.servers.storage.local import TEMP_PREFIX, LocalObjectStore


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore("lake", tmp_path / "lake")


def read_all(store: LocalObjectStore, key: str) -> bytes:
    return b"".join(store.get(key))


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_put_get_round_trip_with_md5_etag(store: LocalObjectStore) -> None:
    chunks = [b"hello ", b"", b"world", os.urandom(100_000)]
    info = store.put("a/b/c.bin", chunks, "application/x-test")
    body = b"".join(chunks)
    assert info.key == "a/b/c.bin"
    assert info.size == len(body)
    assert info.etag == hashlib.md5(body).hexdigest()
    assert info.content_type == "application/x-test"
    assert read_all(store, "a/b/c.bin") == body
    assert store.stat("a/b/c.bin") == info
    assert (store.root / "a" / "b" / "c.bin").read_bytes() == body


def test_get_streams_in_requested_chunks(store: LocalObjectStore) -> None:
    body = os.urandom(10_000)
    store.put("k", [body])
    pieces = list(store.get("k", chunk_bytes=4096))
    assert [len(p) for p in pieces] == [4096, 4096, 10_000 - 8192]
    assert b"".join(pieces) == body
    with pytest.raises(errors.InvalidArgument):
        store.get("k", chunk_bytes=-1)


def test_overwrite_replaces_content_and_etag(store: LocalObjectStore) -> None:
    first = store.put("k", [b"one"])
    second = store.put("k", [b"two!"])
    assert read_all(store, "k") == b"two!"
    assert second.etag != first.etag and second.size == 4


def test_missing_objects_are_not_found(store: LocalObjectStore) -> None:
    store.put("dir/file", [b"x"])
    for key in ("nope", "dir", "dir/file/deeper", "dir/nope"):
        with pytest.raises(errors.NotFound) as caught:
            store.get(key)
        assert caught.value.reason == "OBJECT_NOT_FOUND"
        with pytest.raises(errors.NotFound):
            store.stat(key)
        with pytest.raises(errors.NotFound):
            store.delete(key)


def test_invalid_keys_are_rejected_by_every_method(store: LocalObjectStore) -> None:
    for call in (
        lambda: store.put("../x", [b"x"]),
        lambda: store.get("/etc/passwd"),
        lambda: store.stat("a//b"),
        lambda: store.delete("a/"),
        lambda: store.list("../"),
        lambda: store.list("", 10, "a\\b"),
    ):
        with pytest.raises(errors.InvalidArgument):
            call()
    assert not (store.root.parent / "x").exists()


def test_failed_put_keeps_old_object_and_leaves_no_temp(store: LocalObjectStore) -> None:
    store.put("k", [b"old"])

    def broken() -> Iterator[bytes]:
        yield b"partial new content"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):  # the caller's own error, unchanged
        store.put("k", broken())
    assert read_all(store, "k") == b"old"
    assert all_files(store.root) == ["k"]


def test_put_is_atomic_for_readers_and_temp_never_listed(store: LocalObjectStore) -> None:
    store.put("k", [b"old"])
    seen: dict[str, object] = {}

    def slow() -> Iterator[bytes]:
        yield b"new-"
        # Mid-write: readers still get the old object, listings show only real keys.
        seen["during"] = read_all(store, "k")
        seen["listed"] = [i.key for i in store.list()[0]]
        seen["files"] = all_files(store.root)
        yield b"content"

    store.put("k", slow())
    assert seen["during"] == b"old"
    assert seen["listed"] == ["k"]
    assert any(TEMP_PREFIX in name for name in seen["files"])  # the temp file existed
    assert read_all(store, "k") == b"new-content"
    assert all_files(store.root) == ["k"]


def test_leftover_temp_and_foreign_names_are_never_listed(store: LocalObjectStore) -> None:
    store.put("d/real", [b"x"])
    (store.root / "d" / f"{TEMP_PREFIX}deadbeef").write_bytes(b"crash leftover")
    (store.root / "d" / "bad\nname").write_bytes(b"not a valid key")
    assert [i.key for i in store.list()[0]] == ["d/real"]


def test_delete_removes_and_prunes_empty_directories(store: LocalObjectStore) -> None:
    store.put("a/b/c/d", [b"1"])
    store.put("a/keep", [b"2"])
    store.delete("a/b/c/d")
    assert not (store.root / "a" / "b").exists()
    assert (store.root / "a" / "keep").exists()
    with pytest.raises(errors.NotFound):
        store.get("a/b/c/d")
    store.put("a/b", [b"a file where a directory was"])
    assert read_all(store, "a/b") == b"a file where a directory was"


def test_file_and_directory_of_the_same_name_conflict(store: LocalObjectStore) -> None:
    store.put("a", [b"file"])
    with pytest.raises(errors.FailedPrecondition) as caught:
        store.put("a/b", [b"x"])
    assert caught.value.reason == "KEY_CONFLICT"
    store.put("x/y", [b"file"])
    with pytest.raises(errors.FailedPrecondition):
        store.put("x", [b"x"])
    assert read_all(store, "a") == b"file" and read_all(store, "x/y") == b"file"
    assert all_files(store.root) == ["a", "x/y"]


# Listing ---------------------------------------------------------------------

# No key is also a directory of another (that conflicts locally); '-' and '.' sort
# before '/', '0' after it, so per-directory name order is not key order.
TRICKY_KEYS = [
    "a-c",
    "a/b/c",
    "a/b-",
    "a/b.",
    "a/b0",
    "a0",
    "a.b/x",
    "b/ä",
    "b/z",
    "é",
    "_errors/2024-01-02/x.json",
    "Z",
]


def put_keys(store: LocalObjectStore, keys: list[str]) -> list[str]:
    """Put each key; return those stored ("a" and "a/b" cannot both exist locally)."""
    stored = []
    for key in keys:
        try:
            store.put(key, [key.encode()])
        except errors.FailedPrecondition:
            continue
        stored.append(key)
    return stored


def listed(store: LocalObjectStore, prefix: str = "", page_size: int = 0) -> list[str]:
    out: list[str] = []
    token = ""
    while True:
        page, token = store.list(prefix, page_size, token)
        assert len(page) <= (page_size or PagingSettings().default_page_size)
        out.extend(i.key for i in page)
        if not token:
            return out
        assert token == page[-1].key


def test_list_is_lexicographic_across_directories(store: LocalObjectStore) -> None:
    assert put_keys(store, TRICKY_KEYS) == TRICKY_KEYS
    assert listed(store) == sorted(TRICKY_KEYS) != TRICKY_KEYS
    assert sorted(TRICKY_KEYS) == sorted(TRICKY_KEYS, key=lambda k: k.encode())  # code points == UTF-8 bytes


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 100])
def test_pagination_visits_every_key_once_in_order(store: LocalObjectStore, page_size: int) -> None:
    rng = random.Random(page_size)
    # Directory names never end in a leaf suffix, so no key is another's directory.
    dirs, suffixes = ["a", "b", "é", "ab"], "-.0~z"
    keys = {
        "/".join([*rng.choices(dirs, k=rng.randint(0, 2)), rng.choice(dirs) + rng.choice(suffixes)]) for _ in range(80)
    }
    assert put_keys(store, sorted(keys)) == sorted(keys)
    assert len(keys) > 40
    assert listed(store, page_size=page_size) == sorted(keys)


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b", "b/", "é", "zzz", "a."])
def test_list_prefix_matches_string_prefix(store: LocalObjectStore, prefix: str) -> None:
    keys = put_keys(store, TRICKY_KEYS)
    assert listed(store, prefix, 2) == sorted(k for k in keys if k.startswith(prefix))


def test_page_size_zero_uses_default_and_large_is_capped(tmp_path) -> None:
    store = LocalObjectStore("t", tmp_path / "paged", paging=PagingSettings(default_page_size=3, max_page_size=5))
    put_keys(store, [f"k{i:02d}" for i in range(8)])
    page, token = store.list()
    assert [i.key for i in page] == ["k00", "k01", "k02"] and token == "k02"
    page, token = store.list("", 1000)
    assert len(page) == 5 and token == "k04"
    page, token = store.list("", 1000, token)
    assert [i.key for i in page] == ["k05", "k06", "k07"] and token == ""


def test_walk_tolerates_s3_style_markers_and_repeated_prefixes() -> None:
    """What SeaweedFS answers: a level lists its own marker "d/", and a prefix may repeat."""
    tree = {
        "": [("d/", True, None), ("d/", True, None), ("d-x", False, None)],
        "d/": [("d/", True, None), ("d/e/", True, None), ("d/k", False, None)],
        "d/e/": [("d/e/", True, None), ("d/e/z", False, None)],
    }
    calls: list[str] = []

    def read_level(request: str) -> list[tuple[str, bool, None]]:
        calls.append(request)
        return tree.get(level_of(request), [])

    assert [k for k, _ in ordered_walk(read_level, "", "")] == ["d-x", "d/e/z", "d/k"]
    assert calls == ["", "d/", "d/e/"]
    calls.clear()
    assert [k for k, _ in ordered_walk(read_level, "", "d/e/z")] == ["d/k"]
    assert [k for k, _ in ordered_walk(read_level, "d/e", "")] == ["d/e/z"]


def test_take_page() -> None:
    assert take_page(iter("abc"), 2, str) == (["a", "b"], "b")
    assert take_page(iter("ab"), 2, str) == (["a", "b"], "")
    assert take_page(iter(""), 2, str) == ([], "")


def test_list_of_missing_root_is_empty(tmp_path: Path) -> None:
    assert LocalObjectStore("x", tmp_path / "never-created").list() == ([], "")


# Escapes ---------------------------------------------------------------------


def test_symlinks_are_never_followed(store: LocalObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"do not read")
    store.put("inside/ok", [b"fine"])
    (store.root / "dirlink").symlink_to(outside, target_is_directory=True)
    (store.root / "filelink").symlink_to(outside / "secret")
    (store.root / "inside" / "innerlink").symlink_to(store.root / "inside" / "ok")

    for key in ("dirlink/secret", "filelink", "inside/innerlink"):
        with pytest.raises(errors.PermissionDenied) as caught:
            store.get(key)
        assert caught.value.reason == "UNSAFE_PATH"
        with pytest.raises(errors.PermissionDenied):
            store.stat(key)
        with pytest.raises(errors.PermissionDenied):
            store.delete(key)
    with pytest.raises(errors.PermissionDenied):
        store.put("dirlink/planted", [b"x"])
    with pytest.raises(errors.PermissionDenied):
        store.put("filelink", [b"x"])
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"do not read"
    assert [i.key for i in store.list()[0]] == ["inside/ok"]
    assert store.list("dirlink/") == ([], "")
    assert store.list("dirlink/se") == ([], "")


def test_symlinked_root_itself_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    store = LocalObjectStore("x", tmp_path / "alias")
    store.put("k", [b"v"])
    assert (real / "k").read_bytes() == b"v"


# Etags and the data plane -------------------------------------------------------


def test_files_written_by_pyarrow_are_visible_with_correct_etag(store: LocalObjectStore) -> None:
    fs, base = store.filesystem()
    fs.create_dir(f"{base}/datasets/t/v1")
    table = pa.table({"id": list(range(100)), "name": [f"n{i}" for i in range(100)]})
    pq.write_table(table, f"{base}/datasets/t/v1/part-0.parquet", filesystem=fs)
    info = store.stat("datasets/t/v1/part-0.parquet")
    raw = (store.root / "datasets/t/v1/part-0.parquet").read_bytes()
    assert info.size == len(raw) and info.etag == hashlib.md5(raw).hexdigest()
    assert read_all(store, "datasets/t/v1/part-0.parquet") == raw
    assert [i.key for i in store.list("datasets/")[0]] == ["datasets/t/v1/part-0.parquet"]
    assert pq.read_table(f"{base}/datasets/t/v1/part-0.parquet", filesystem=fs).equals(table)


def test_in_place_rewrite_invalidates_cached_etag(store: LocalObjectStore) -> None:
    store.put("k", [b"original"], "text/plain")
    path = store.root / "k"
    path.write_bytes(b"rewritten by someone else")  # same inode, new size and mtime
    info = store.stat("k")
    assert info.etag == hashlib.md5(b"rewritten by someone else").hexdigest()
    assert info.size == len(b"rewritten by someone else")


def test_etag_without_xattr_support(store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(local_module.os, "setxattr", unsupported)
    monkeypatch.setattr(local_module.os, "getxattr", unsupported)
    info = store.put("k", [b"abc"])
    assert info.etag == hashlib.md5(b"abc").hexdigest()
    assert store.stat("k").etag == info.etag


def test_check_creates_root_and_fails_when_root_is_a_file(tmp_path: Path) -> None:
    store = LocalObjectStore("x", tmp_path / "new" / "root")
    store.check()
    assert (tmp_path / "new" / "root").is_dir()
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    with pytest.raises(errors.Unavailable) as caught:
        LocalObjectStore("y", blocker).check()
    assert caught.value.reason == "STORAGE_UNAVAILABLE"
    with pytest.raises(errors.Unavailable):
        LocalObjectStore("y", blocker).put("k", [b"x"])


def test_info_describes_the_bucket(tmp_path: Path) -> None:
    store = LocalObjectStore("lake", tmp_path / "l")
    assert (store.info.name, store.info.backend, store.info.location) == (
        "lake",
        "local",
        str(tmp_path / "l"),
    )
