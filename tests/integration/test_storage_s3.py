"""S3ObjectStore against a real SeaweedFS with signed requests enforced."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from minio import Minio

from lakehouse.api import errors
from lakehouse.servers.settings import Settings, StorageSettings
from lakehouse.servers.storage.core import StorageCore
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.storage.s3 import S3ObjectStore
from tests.support.fixtures import seaweed  # noqa: F401 - pytest fixture
from tests.support.seaweed import SeaweedS3

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PART_BYTES = 5 * MiB
# Generous ceiling for "fails fast instead of hanging" (timeouts below are 1 s).
FAIL_FAST_S = 5.0
SHORT_TIMEOUT_S = 1.0


def make_store(server: SeaweedS3, bucket: str = "", secret_key: str = "", **kwargs: object) -> S3ObjectStore:
    return S3ObjectStore(
        "lake",
        server.endpoint,
        server.access_key,
        secret_key or server.secret_key,
        bucket or f"t-{uuid.uuid4().hex[:16]}",
        part_bytes=PART_BYTES,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(seaweed: SeaweedS3) -> S3ObjectStore:  # noqa: F811
    return make_store(seaweed)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_refuses_unsigned_requests_on_s3_and_filer(seaweed: SeaweedS3) -> None:  # noqa: F811
    make_store(seaweed, bucket="guarded").put("secret.txt", [b"classified"])
    for url in (f"{seaweed.url}/guarded/secret.txt", f"{seaweed.filer_url}/buckets/guarded/secret.txt"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=FAIL_FAST_S)
        assert caught.value.code in (401, 403)


def test_bucket_is_created_on_first_use(seaweed: SeaweedS3) -> None:  # noqa: F811
    bucket = f"fresh-{uuid.uuid4().hex[:12]}"
    raw = Minio(seaweed.endpoint, seaweed.access_key, seaweed.secret_key, secure=False, region="us-east-1")
    assert not raw.bucket_exists(bucket)
    make_store(seaweed, bucket=bucket).check()
    assert raw.bucket_exists(bucket)
    make_store(seaweed, bucket=bucket).put("k", [b"v"])  # a second store reuses it
    assert raw.get_object(bucket, "k").read() == b"v"


def test_multipart_put_and_streamed_get(store: S3ObjectStore) -> None:
    data = os.urandom(12 * MiB + 123)  # three 5 MiB parts
    info = store.put("big/blob.bin", chunked(data, MiB - 7), "application/x-blob")
    assert info.key == "big/blob.bin" and info.size == len(data)
    assert info.content_type == "application/x-blob"
    pieces = list(store.get("big/blob.bin", chunk_bytes=MiB))
    assert all(len(p) <= MiB for p in pieces) and len(pieces) >= 12
    assert hashlib.md5(b"".join(pieces)).digest() == hashlib.md5(data).digest()


def test_small_put_stat_and_etag(store: S3ObjectStore) -> None:
    info = store.put("a/b.txt", [b"hello ", b"world"], "text/plain")
    stat = store.stat("a/b.txt")
    assert stat.size == 11 and stat.etag == hashlib.md5(b"hello world").hexdigest() == info.etag
    assert stat.content_type == "text/plain"
    assert b"".join(store.get("a/b.txt")) == b"hello world"


def test_failed_source_aborts_put_and_propagates(store: S3ObjectStore) -> None:
    class ClientGone(Exception):
        pass

    def broken() -> Iterator[bytes]:
        yield os.urandom(6 * MiB)  # past the first part: a multipart upload is under way
        raise ClientGone("upload stream cut")

    with pytest.raises(ClientGone):
        store.put("half.bin", broken())
    with pytest.raises(errors.NotFound):
        store.stat("half.bin")


KEYS = ["a", "a-c", "a.b/x", "a/b", "a/b-", "a/b.", "a/b/c", "a/b0", "a0", "b/z", "b/ä", "é", "Z"]


def test_list_prefix_and_pagination_in_key_order(store: S3ObjectStore) -> None:
    for key in KEYS:
        store.put(key, [key.encode()])
    expected = sorted(KEYS)
    page, token = store.list()
    assert [i.key for i in page] == expected and token == ""
    for size in (1, 2, 5):
        seen: list[str] = []
        token = ""
        while True:
            page, token = store.list("", size, token)
            assert len(page) <= size
            seen += [i.key for i in page]
            if not token:
                break
            assert token == page[-1].key
        assert seen == expected
    for prefix in ("a", "a/", "a/b", "b/", "é", "nothing"):
        page, _ = store.list(prefix, 100)
        assert [i.key for i in page] == [k for k in expected if k.startswith(prefix)]
    one = store.list("a/b/", 10)[0][0]
    assert (one.key, one.size, one.etag) == ("a/b/c", 5, hashlib.md5(b"a/b/c").hexdigest())


def test_delete_and_not_found(store: S3ObjectStore) -> None:
    store.put("gone", [b"x"])
    store.delete("gone")
    for call in (lambda: store.get("gone"), lambda: store.stat("gone"), lambda: store.delete("gone")):
        with pytest.raises(errors.NotFound) as caught:
            call()
        assert caught.value.reason == "OBJECT_NOT_FOUND"
    with pytest.raises(errors.InvalidArgument):
        store.get("../escape")


@pytest.mark.parametrize("credentials", ["wrong-secret", "wrong-access-key"])
def test_wrong_credentials_are_unauthenticated(seaweed: SeaweedS3, credentials: str) -> None:  # noqa: F811
    good = make_store(seaweed)
    good.put("k", [b"v"])
    if credentials == "wrong-secret":
        bad = make_store(seaweed, bucket=good.bucket, secret_key="not-the-secret")
    else:
        bad = S3ObjectStore("lake", seaweed.endpoint, "NOSUCHKEY", seaweed.secret_key, good.bucket)
    calls = {
        "check": bad.check,
        "put": lambda: bad.put("k2", [b"x"]),
        "get": lambda: bad.get("k"),
        "stat": lambda: bad.stat("k"),
        "list": bad.list,
        "delete": lambda: bad.delete("k"),
    }
    for name, call in calls.items():
        with pytest.raises(errors.Unauthenticated) as caught:
            call()
        assert caught.value.reason == "S3_AUTH_FAILED", name
    assert b"".join(good.get("k")) == b"v"


def test_unreachable_endpoint_is_unavailable_fast() -> None:
    dead = S3ObjectStore("lake", f"127.0.0.1:{free_port()}", "ak", "sk", "bucket", timeout_s=SHORT_TIMEOUT_S, retries=1)
    for call in (dead.check, lambda: dead.put("k", [b"x"]), lambda: dead.get("k"), dead.list):
        started = time.monotonic()
        with pytest.raises(errors.Unavailable) as caught:
            call()
        assert caught.value.reason == "STORAGE_UNAVAILABLE"
        assert time.monotonic() - started < FAIL_FAST_S


def test_pyarrow_filesystem_reads_and_writes_parquet(store: S3ObjectStore) -> None:
    fs, base = store.filesystem()
    assert base == store.bucket
    table = pa.table({"id": list(range(1000)), "name": [f"worker-{i}" for i in range(1000)]})
    path = f"{base}/datasets/people/v1/part-0.parquet"
    pq.write_table(table, path, filesystem=fs)
    assert pq.read_table(path, filesystem=fs).equals(table)
    info = store.stat("datasets/people/v1/part-0.parquet")
    assert info.size == fs.get_file_info(path).size
    raw = b"".join(store.get("datasets/people/v1/part-0.parquet"))
    assert pq.read_table(io.BytesIO(raw)).equals(table)
    fs.create_dir(f"{base}/datasets/empty/dir")  # directory markers are not objects
    assert [i.key for i in store.list("datasets/")[0]] == ["datasets/people/v1/part-0.parquet"]


def test_hung_server_and_journal_falls_back_to_rescue(tmp_path: Path) -> None:
    """A dedicated server: frozen (requests time out), then killed (connections refused)."""
    with SeaweedS3() as server:
        lake = make_store(server, timeout_s=SHORT_TIMEOUT_S, retries=0)
        rescue = LocalObjectStore("rescue", tmp_path / "rescue")
        journal = ErrorJournal(lake, rescue)
        first = journal.record("ingest.upload", errors.Internal("boom", reason="X"), {"dataset": "d"})
        assert [i.key.endswith(f"{first}.json") for i in lake.list("_errors/")[0]] == [True]

        server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(errors.Unavailable):
                lake.put("k", [b"v"])
            assert time.monotonic() - started < FAIL_FAST_S
            second = journal.record("storage.put", errors.Unavailable("s3 down"), {"key": "k"})
        finally:
            server.resume()
        assert [i.key.endswith(f"{second}.json") for i in rescue.list("_errors/")[0]] == [True]

        entries, token = journal.list()
        assert [(e["id"], e["rescued"]) for e in entries] == [(second, True), (first, False)]
        assert entries[0]["code"] == "UNAVAILABLE" and token == ""

        server.stop()
        third = journal.record("storage.put", RuntimeError("still down"), {})
        entries, _ = journal.list()  # the lake cannot be listed; rescued records still show
        assert [e["id"] for e in entries] == [third, second]


def test_s3_lake_registers_buckets_only_on_its_own_endpoint(seaweed: SeaweedS3, tmp_path: Path) -> None:  # noqa: F811
    """The default S3 allow-list of an S3 lake is the lake's endpoint; its own bucket cannot
    be registered twice, and its managed prefixes are read-only through the object API."""
    lake_bucket = f"lake-{uuid.uuid4().hex[:12]}"
    settings = Settings(
        home=tmp_path / "home",
        storage=StorageSettings(
            backend="s3",
            s3_endpoint=seaweed.endpoint,
            s3_access_key=seaweed.access_key,
            s3_secret_key=seaweed.secret_key,
            s3_bucket=lake_bucket,
        ),
    )
    core = StorageCore(settings)
    keys = {"access_key": seaweed.access_key, "secret_key": seaweed.secret_key}
    extra = f"extra-{uuid.uuid4().hex[:12]}"
    assert core.register_bucket("extra", "s3", endpoint=seaweed.endpoint, bucket=extra, **keys).backend == "s3"
    core.put_object("extra", "datasets/mine", [b"registered buckets have no managed prefixes"])
    with pytest.raises(errors.PermissionDenied) as caught:
        core.register_bucket("alias", "s3", endpoint=f"http://{seaweed.endpoint}", bucket=lake_bucket, **keys)
    assert caught.value.reason == "BUCKET_LOCATION_NOT_ALLOWED"
    with pytest.raises(errors.PermissionDenied) as caught:
        core.register_bucket("elsewhere", "s3", endpoint=f"127.0.0.1:{free_port()}", bucket="abc", **keys)
    assert caught.value.reason == "S3_ENDPOINT_NOT_ALLOWED"
    core.lake().put("datasets/d/v1/part.parquet", [b"committed"])
    with pytest.raises(errors.PermissionDenied) as caught:
        core.put_object("lake", "datasets/d/v1/part.parquet", [b"tampered"])
    assert caught.value.reason == "MANAGED_PREFIX_READ_ONLY"
    assert b"".join(core.lake().get("datasets/d/v1/part.parquet")) == b"committed"
