"""No caller reaches outside the lake, and committed data cannot be changed through the API.

Each test is a reproduction from the security review, sent over REST (Envoy's
JSON transcoding) and over gRPC, against a real server.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format

from lakehouse.api import catalog as convert
from lakehouse.api import errors
from lakehouse.api.catalog import DataFile
from lakehouse.servers.catalog import codec
from lakehouse.v1 import catalog_pb2, storage_pb2
from tests.support.system import System

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 120
CSV = b"id,name\n1,ann\n2,bob\n3,cy\n"
VERIFY_PROBLEMS_EXIT = 2


def _reason(response: httpx.Response) -> str:
    return next(d for d in response.json()["details"] if d["@type"].endswith("ErrorInfo"))["reason"]


def _metadata(response: httpx.Response) -> dict[str, str]:
    return next(d for d in response.json()["details"] if d["@type"].endswith("ErrorInfo")).get("metadata", {})


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _dataset(lh, name: str) -> catalog_pb2.Dataset:
    lh.ingest(name, CSV, format="csv", mode="create")
    return lh.get_dataset(name)


def _rows(lh, name: str) -> list[list]:
    return lh.sql(f"SELECT id, name FROM {name} ORDER BY id").rows


# 1. Buckets stay inside the allowed roots -------------------------------------


@pytest.mark.parametrize("where", ["/etc", "/", "buckets/../..", "buckets/../lake"])
def test_bucket_outside_the_allowed_roots_is_denied(system, where: str) -> None:
    bucket = f"etcb-{uuid.uuid4().hex[:6]}"
    r = httpx.post(f"{system.rest}/v1/buckets", json={"bucket": bucket, "local_path": where})
    assert r.status_code == 403, r.text
    assert _reason(r) == "BUCKET_LOCATION_NOT_ALLOWED"
    assert _metadata(r)["setting"] == "LAKEHOUSE_STORAGE__LOCAL_BUCKET_ROOTS"
    assert "LAKEHOUSE_STORAGE__LOCAL_BUCKET_ROOTS" in r.json()["message"]
    assert httpx.get(f"{system.rest}/v1/buckets/{bucket}").status_code == 404
    got = httpx.get(f"{system.rest}/v1/buckets/{bucket}/objects:get", params={"key": "passwd"})
    assert got.status_code == 404 and b"root:" not in got.content
    with system.client() as lh:
        with pytest.raises(errors.PermissionDenied) as caught:
            lh._call(lh.storage.CreateBucket, storage_pb2.CreateBucketRequest(bucket=bucket, local_path=where))
        assert caught.value.reason == "BUCKET_LOCATION_NOT_ALLOWED"
        with pytest.raises(errors.NotFound):
            lh._call(lh.storage.GetBucket, storage_pb2.GetBucketRequest(bucket=bucket))
    assert bucket not in [b["name"] for b in httpx.get(f"{system.rest}/v1/buckets").json()["buckets"]]


def test_symlink_out_of_the_root_is_denied(system, tmp_path: Path) -> None:
    root = system.settings.local_bucket_roots[0]
    root.mkdir(parents=True, exist_ok=True)
    link = root / f"escape-{uuid.uuid4().hex[:6]}"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("outside the lake")
    link.symlink_to(tmp_path / "outside")
    for where in (str(link), f"buckets/{link.name}"):
        r = httpx.post(f"{system.rest}/v1/buckets", json={"bucket": "escape", "local_path": where})
        assert r.status_code == 403, r.text
        assert _reason(r) == "BUCKET_LOCATION_NOT_ALLOWED"
        assert str(tmp_path) not in r.text  # the symlink's target is not disclosed
    assert httpx.get(f"{system.rest}/v1/buckets/escape").status_code == 404


def test_bucket_under_the_allowed_root_works(system) -> None:
    bucket = f"ok-{uuid.uuid4().hex[:6]}"
    r = httpx.post(f"{system.rest}/v1/buckets", json={"bucket": bucket, "local_path": f"buckets/{bucket}"})
    assert r.status_code == 200, r.text
    try:
        put = httpx.post(f"{system.rest}/v1/buckets/{bucket}/objects:put", params={"key": "a/b.txt"}, content=b"hi")
        assert put.status_code == 200, put.text
        got = httpx.get(f"{system.rest}/v1/buckets/{bucket}/objects:get", params={"key": "a/b.txt"})
        assert got.content == b"hi"
        assert (system.settings.local_bucket_roots[0] / bucket / "a" / "b.txt").read_bytes() == b"hi"
    finally:
        assert httpx.delete(f"{system.rest}/v1/buckets/{bucket}").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_s3_endpoint_off_the_allow_list_is_denied_without_connecting(system) -> None:
    """No SSRF and no port-scan oracle: a listening and a closed port get the same 403,
    and nothing connects to the listening one."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        listening.setblocking(False)
        answers = []
        for port in (listening.getsockname()[1], _free_port()):
            body = {
                "bucket": "scan",
                "s3": {"endpoint": f"127.0.0.1:{port}", "bucket": "abc", "access_key": "a", "secret_key": "b"},
            }
            r = httpx.post(f"{system.rest}/v1/buckets", json=body, timeout=60)
            assert r.status_code == 403, r.text
            assert _reason(r) == "S3_ENDPOINT_NOT_ALLOWED"
            assert "LAKEHOUSE_STORAGE__S3_BUCKET_ENDPOINTS" in r.json()["message"]
            answers.append(r.json())
            with system.client() as lh, pytest.raises(errors.PermissionDenied) as caught:
                lh._call(
                    lh.storage.CreateBucket,
                    storage_pb2.CreateBucketRequest(
                        bucket="scan", s3=storage_pb2.S3Location(endpoint=f"127.0.0.1:{port}", bucket="abc")
                    ),
                )
            assert caught.value.reason == "S3_ENDPOINT_NOT_ALLOWED"
        with pytest.raises(BlockingIOError):
            listening.accept()  # the server never connected
    assert answers[0] == answers[1]
    assert httpx.get(f"{system.rest}/v1/buckets/scan").status_code == 404


# 2. Committed data cannot be changed -------------------------------------------


def test_managed_prefixes_are_read_only_through_the_object_api(system) -> None:
    with system.client() as lh:
        name = _name("guarded")
        ds = _dataset(lh, name)
        before = _rows(lh, name)
        part = ds.current.files[0].path
        on_disk = system.settings.lake_root / part
        original = on_disk.read_bytes()

        r = httpx.post(f"{system.rest}/v1/buckets/lake/objects:put", params={"key": part}, content=b"tampered")
        assert r.status_code == 403, r.text
        assert _reason(r) == "MANAGED_PREFIX_READ_ONLY"
        with pytest.raises(errors.PermissionDenied) as caught:
            lh.put_object("lake", part, b"tampered")
        assert caught.value.reason == "MANAGED_PREFIX_READ_ONLY"
        r = httpx.delete(f"{system.rest}/v1/buckets/lake/objects", params={"key": part})
        assert r.status_code == 403 and _reason(r) == "MANAGED_PREFIX_READ_ONLY"
        with pytest.raises(errors.PermissionDenied):
            lh.delete_object("lake", part)
        for key in (f"datasets/{name}/v2/part-new.parquet", "corpora/x/y", "_journal/x", "_errors/x", "_catalog/x"):
            r = httpx.post(f"{system.rest}/v1/buckets/lake/objects:put", params={"key": key}, content=b"x")
            assert r.status_code == 403, (key, r.text)

        assert on_disk.read_bytes() == original
        assert _rows(lh, name) == before
        # Reading stays allowed.
        got = httpx.get(f"{system.rest}/v1/buckets/lake/objects:get", params={"key": part})
        assert got.status_code == 200 and got.content == original
        listed = httpx.get(f"{system.rest}/v1/buckets/lake/objects", params={"prefix": f"datasets/{name}/"})
        assert [o["key"] for o in listed.json()["objects"]] == [part]


def _commit_request(name: str, expected: int, files: list[DataFile], schema) -> catalog_pb2.CommitVersionRequest:
    return catalog_pb2.CommitVersionRequest(
        dataset=name,
        expected_version=expected,
        files=[convert.file_to_pb(f) for f in files],
        schema=schema,
        mode=catalog_pb2.WRITE_MODE_APPEND,
    )


def test_commit_refuses_foreign_missing_and_mismatched_files(system) -> None:
    with system.client() as lh:
        victim = _dataset(lh, _name("victim"))
        target = _dataset(lh, _name("target"))
        name = target.name
        own = convert.file_from_pb(target.current.files[0])
        foreign = convert.file_from_pb(victim.current.files[0])
        fake_hash = "sha256:" + "0" * 64
        cases = [
            ([DataFile("../../etc/passwd", 1, 10, fake_hash)], 400, "INVALID_FILE_PATH"),
            ([DataFile("/etc/passwd", 1, 10, fake_hash)], 400, "INVALID_FILE_PATH"),
            ([own, foreign], 400, "FOREIGN_FILE"),
            ([DataFile(own.path, own.rows, own.bytes, fake_hash)], 400, "FILE_HASH_MISMATCH"),
            ([DataFile(own.path, own.rows, own.bytes + 1, own.content_hash)], 400, "FILE_SIZE_MISMATCH"),
            ([DataFile(f"datasets/{name}/v2/none.parquet", 1, 10, fake_hash)], 400, "FILE_MISSING"),
        ]
        for files, status, reason in cases:
            request = _commit_request(name, 1, files, target.current.schema)
            r = httpx.post(
                f"{system.rest}/v1/datasets/{name}/versions",
                content=json_format.MessageToJson(request),
                headers={"content-type": "application/json"},
            )
            assert r.status_code == status, (reason, r.text)
            assert _reason(r) == reason
            assert _metadata(r)["path"] == files[-1].path
            with pytest.raises((errors.InvalidArgument, errors.FailedPrecondition)) as caught:
                lh._call(lh.catalog.CommitVersion, request)
            assert caught.value.reason == reason
        assert lh.get_dataset(name).current.version == 1
        assert lh.get_dataset(victim.name).current.version == 1
        # The same request with the true manifest entry commits.
        assert lh._call(lh.catalog.CommitVersion, _commit_request(name, 1, [own], target.current.schema)).version == 2


def test_deleting_a_dataset_never_deletes_another_datasets_files(system) -> None:
    """The review's alias: a manifest naming another dataset's file (stored as an
    unchecked catalog would have), then deleted."""
    with system.client() as lh:
        victim = _dataset(lh, _name("victim"))
        before = _rows(lh, victim.name)
        victim_file = victim.current.files[0].path
        alias = _name("alias")
        files = [convert.file_from_pb(victim.current.files[0])]
        raw = sqlite3.connect(system.settings.catalog_db, timeout=30)
        try:
            stamp = codec.encode_time(codec.now_utc())
            with raw:
                raw.execute(
                    "INSERT INTO datasets (name, current_version, created_at, updated_at) VALUES (?, 1, ?, ?)",
                    (alias, stamp, stamp),
                )
                raw.execute(
                    "INSERT INTO versions VALUES (?, 1, ?, ?, 'append', '', '[]', ?)",
                    (
                        alias,
                        codec.encode_manifest(files, (), {}),
                        codec.encode_schema(convert.schema_from_pb(victim.current.schema)),
                        stamp,
                    ),
                )
        finally:
            raw.close()
        assert httpx.delete(f"{system.rest}/v1/datasets/{alias}").status_code == 200
        assert (system.settings.lake_root / victim_file).exists()
        assert _rows(lh, victim.name) == before

        own = _dataset(lh, _name("own"))
        own_file = system.settings.lake_root / own.current.files[0].path
        assert own_file.exists()
        lh.delete_dataset(own.name)
        assert not own_file.exists()  # its own files do go
        assert _rows(lh, victim.name) == before


# 8. A key segment over 255 bytes is a bad request, not an outage --------------------


def test_long_key_segment_is_400(system) -> None:
    key = "scratch/" + "x" * 300
    r = httpx.post(f"{system.rest}/v1/buckets/lake/objects:put", params={"key": key}, content=b"x")
    assert r.status_code == 400, r.text
    assert _reason(r) == "INVALID_KEY" and "255" in r.json()["message"]
    assert httpx.get(f"{system.rest}/v1/buckets/lake/objects:stat", params={"key": key}).status_code == 400
    with system.client() as lh, pytest.raises(errors.InvalidArgument) as caught:
        lh.put_object("lake", key, b"x")
    assert caught.value.reason == "INVALID_KEY"


# verify ------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def test_verify_reports_nothing_when_intact_and_finds_tampering(tmp_path: Path) -> None:
    """Its own system, so "every dataset is intact" is about a lake this test controls."""
    system = System.start(tmp_path / "home")
    try:
        with system.client() as lh:
            first = _dataset(lh, "first")
            lh.ingest("first", b"id,name\n4,dee\n", format="csv", mode="append")
            second = _dataset(lh, "second")

            clean = _cli("verify", "--all-versions", "--json")
            assert clean.returncode == 0, clean.stderr
            report = json.loads(clean.stdout)
            assert report["problems"] == [] and report["datasets_checked"] == 2 and report["files_checked"] == 3
            assert report["bytes_checked"] > 0
            assert "no problems" in _cli("verify").stderr

            # Tamper on disk (same size, so only the hash can tell), behind the API's back.
            part = system.settings.lake_root / first.current.files[0].path
            original = part.read_bytes()
            part.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
            found = _cli("verify", "--json")
            assert found.returncode == VERIFY_PROBLEMS_EXIT, found.stderr
            problems = json.loads(found.stdout)["problems"]
            assert [(p["dataset"], p["version"], p["path"], p["kind"]) for p in problems] == [
                ("first", 2, first.current.files[0].path, "hash_mismatch")
            ]
            text = _cli("verify", "first")
            assert text.returncode == VERIFY_PROBLEMS_EXIT and "hash_mismatch" in text.stdout
            assert _cli("verify", "second").returncode == 0

            r = httpx.post(f"{system.rest}/v1/datasets:verify", json={"dataset": "first"})
            assert r.status_code == 200, r.text
            assert [p["kind"] for p in r.json()["problems"]] == ["FILE_PROBLEM_KIND_HASH_MISMATCH"]
            assert lh.verify_datasets("second").problems == []

            (system.settings.lake_root / second.current.files[0].path).unlink()
            missing = lh.verify_datasets()
            assert sorted(catalog_pb2.FileProblemKind.Name(p.kind) for p in missing.problems) == [
                "FILE_PROBLEM_KIND_HASH_MISMATCH",
                "FILE_PROBLEM_KIND_MISSING",
            ]
            part.write_bytes(original)
            bad = httpx.post(f"{system.rest}/v1/datasets:verify", json={"dataset": "Not-A-Name"})
            assert bad.status_code == 400
            assert httpx.post(f"{system.rest}/v1/datasets:verify", json={"dataset": "nope"}).status_code == 404
    finally:
        system.stop()
