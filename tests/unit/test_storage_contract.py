"""The storage API's contract, run against StorageCore in-process and RemoteStorage over
gRPC (lakehouse.api.storage): same domain types, same errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse.api import errors
from lakehouse.api.paging import drain_pages
from lakehouse.api.storage import BucketInfo, ErrorRecord, ObjectInfo, RemoteStorage, StorageApi
from lakehouse.servers.app import build_server
from lakehouse.servers.settings import Settings
from tests.support.contract import IMPLEMENTATIONS, implementation


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    home = tmp_path_factory.mktemp("storage-contract") / "home"
    lh = build_server(Settings(home=home), "storage")
    lh.runtime.storage.journal.record("contract.setup", errors.NotFound("gone", reason="SOMETHING_GONE"), {"k": "v"})
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[StorageApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.storage, RemoteStorage)


def test_buckets_and_objects_round_trip_as_domain_types(api: StorageApi, server, request) -> None:
    name = f"extra-{request.node.callspec.id}"
    directory = server.runtime.settings.home_dir / "buckets" / name
    created = api.create_bucket(name, str(directory))
    assert isinstance(created, BucketInfo) and created == api.get_bucket(name)
    assert created.backend == "local" and created.location == f"local:buckets/{name}"
    assert name in [b.name for b in api.list_buckets()]

    written = api.put_object(name, "docs/a.txt", [b"hello ", b"world"], content_type="text/plain")
    assert isinstance(written, ObjectInfo) and written.size == 11
    assert api.stat_object(name, "docs/a.txt") == written
    body = api.get_object(name, "docs/a.txt")
    assert body.content_type == "text/plain" and b"".join(body.chunks) == b"hello world"
    api.put_object(name, "docs/b.txt", [b""])
    assert b"".join(api.get_object(name, "docs/b.txt").chunks) == b""

    listed = list(drain_pages(lambda token: api.list_objects(name, "docs/", 1, token)))
    assert [o.key for o in listed] == ["docs/a.txt", "docs/b.txt"]
    api.delete_object(name, "docs/a.txt")
    with pytest.raises(errors.NotFound):
        api.stat_object(name, "docs/a.txt")
    api.delete_bucket(name)
    assert name not in [b.name for b in api.list_buckets()]


def test_error_journal_reads_the_same_records(api: StorageApi) -> None:
    records, token = api.list_errors()
    assert token == ""
    (record,) = [r for r in records if r.operation == "contract.setup"]
    assert isinstance(record, ErrorRecord)
    assert (record.code, record.reason, record.context) == ("NOT_FOUND", "SOMETHING_GONE", {"k": "v"})
    assert record.time is not None and record.time.tzinfo is not None


@pytest.mark.parametrize(
    ("call", "error", "reason"),
    [
        (lambda a: a.get_bucket("nobody"), errors.NotFound, "BUCKET_NOT_FOUND"),
        (lambda a: a.get_object("lake", "no/such.txt"), errors.NotFound, "OBJECT_NOT_FOUND"),
        (lambda a: a.stat_object("lake", "../escape"), errors.InvalidArgument, "INVALID_KEY"),
        (lambda a: a.delete_bucket("lake"), errors.FailedPrecondition, "BUCKET_PROTECTED"),
        (lambda a: a.list_objects("lake", "", -1), errors.InvalidArgument, "INVALID_PAGE"),
        (lambda a: a.list_errors(0, "not-a-token"), errors.InvalidArgument, "INVALID_PAGE"),
        (lambda a: a.put_object("lake", "_catalog/x", [b"x"]), errors.PermissionDenied, "MANAGED_PREFIX_READ_ONLY"),
    ],
    ids=["missing-bucket", "missing-object", "bad-key", "protected", "bad-page", "bad-token", "managed-prefix"],
)
def test_errors_are_the_same_both_ways(api: StorageApi, call, error, reason) -> None:
    with pytest.raises(errors.LakehouseError) as info:
        call(api)
    assert type(info.value) is error and info.value.reason == reason, info.value
