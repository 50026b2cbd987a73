"""Failures of the parts around an ingest: object storage going away mid-ingest, a
server killed mid-ingest, wrong S3 credentials, an oversized REST upload. The
catalog never shows a version whose data is missing, and failures are journaled."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from lakehouse.api.errors import LakehouseError, NotFound, Unavailable
from tests.support.seaweed import SeaweedS3
from tests.support.system import System

ROWS_PER_CHUNK = 20_000
S3_TIMEOUT_S = "2"


def _csv_chunks(chunks: int, start: int = 0):
    yield b"id,name,city,score\n"
    for c in range(start, start + chunks):
        base = c * ROWS_PER_CHUNK
        yield "".join(f"{i},name{i},city{i % 97},{i % 1000}.25\n" for i in range(base, base + ROWS_PER_CHUNK)).encode()


@pytest.fixture()
def s3_system(tmp_path):
    with SeaweedS3() as s3:
        env = {
            **s3.lake_env("lake-test"),
            "LAKEHOUSE_STORAGE__S3_TIMEOUT_S": S3_TIMEOUT_S,
            "LAKEHOUSE_STORAGE__S3_RETRIES": "0",
        }
        system = System.start(tmp_path / "home", env)
        try:
            yield system, s3
        finally:
            s3.resume()
            system.stop()


def test_ingest_and_query_on_s3(s3_system):
    system, _ = s3_system
    with system.client() as lh:
        lh.ingest("on_s3", _csv_chunks(2), format="csv", mode="create")
        lh.ingest("on_s3", b"id,name,city,score\n2,x,y,1.0\n", format="csv", mode="upsert", primary_key=["id"])
        assert lh.sql("SELECT count(*), max(name) FILTER (WHERE id = 2) FROM on_s3").rows == [[40_000, "x"]]
        listed = lh.list_objects("lake", prefix="datasets/on_s3/")
        assert any(o.key.endswith(".parquet") for o in listed.objects)


def test_s3_unavailable_mid_ingest(s3_system):
    system, s3 = s3_system
    with system.client() as lh:
        lh.ingest("flaky", _csv_chunks(1), format="csv", mode="create")

        def upload_then_storage_dies():
            yield from _csv_chunks(3, start=1)
            s3.pause()  # the server has spooled the upload; now the lake disappears

        with pytest.raises(Unavailable) as exc:
            lh.ingest("flaky", upload_then_storage_dies(), format="csv", mode="append")
        assert exc.value.reason == "STORAGE_UNAVAILABLE"
        # While the lake is down the failure is already visible (from the rescue bucket).
        errors = [e for e in lh.list_errors() if e.operation == "ingest" and e.context.get("dataset") == "flaky"]
        assert errors, lh.list_errors()
        assert errors[0].code == "UNAVAILABLE"
        s3.resume()
        # The catalog shows no new version, and the data it names is intact.
        assert lh.get_dataset("flaky").current.version == 1
        assert lh.sql("SELECT count(*) FROM flaky").rows == [[ROWS_PER_CHUNK]]
        again = lh.ingest("flaky", _csv_chunks(3, start=1), format="csv", mode="append")
        assert again.version == 2
        assert lh.sql("SELECT count(*) FROM flaky").rows == [[4 * ROWS_PER_CHUNK]]
        r = httpx.get(f"{system.rest}/v1/errors")
        assert any(e["operation"] == "ingest" for e in r.json()["errors"])


def test_server_killed_mid_ingest_then_restarted(tmp_path):
    system = System.start(tmp_path / "home")
    try:
        with system.client() as lh:
            lh.ingest("crashy", _csv_chunks(1), format="csv", mode="create")
            converting = threading.Event()
            failure: list[BaseException] = []

            def big_ingest():
                try:
                    with system.client() as other:
                        other.ingest(
                            "crashy",
                            _csv_chunks(60, start=1),
                            format="csv",
                            mode="append",
                            on_progress=lambda p: converting.set() if p.phase == "convert" else None,
                        )
                except BaseException as exc:  # noqa: BLE001 - inspected below
                    failure.append(exc)

            worker = threading.Thread(target=big_ingest)
            worker.start()
            assert converting.wait(120), "ingest never reached the convert phase"
            system.kill_server()
            worker.join(60)
            assert failure and isinstance(failure[0], LakehouseError)

        system.restart()
        with system.client() as lh:
            dataset = lh.get_dataset("crashy")
            assert dataset.current.version == 1
            for f in dataset.current.files:
                assert (system.settings.lake_root / f.path).exists()
            assert lh.sql("SELECT count(*) FROM crashy").rows == [[ROWS_PER_CHUNK]]
            again = lh.ingest("crashy", _csv_chunks(60, start=1), format="csv", mode="append")
            assert again.version == 2
            assert lh.sql("SELECT count(*) FROM crashy").rows == [[61 * ROWS_PER_CHUNK]]
    finally:
        system.stop()


def test_wrong_s3_key_fails_cleanly(tmp_path, seaweed):
    """On a system whose settings allow this S3 endpoint for registered buckets."""
    system = System.start(tmp_path / "home", {"LAKEHOUSE_STORAGE__S3_BUCKET_ENDPOINTS": json.dumps([seaweed.endpoint])})
    try:
        _wrong_then_right_s3_key(system, seaweed)
    finally:
        system.stop()


def _wrong_then_right_s3_key(system, seaweed):
    body = {
        "bucket": "wrongkey",
        "s3": {
            "endpoint": seaweed.endpoint,
            "bucket": "wrongkey",
            "access_key": seaweed.access_key,
            "secret_key": "not-the-secret",
        },
    }
    r = httpx.post(f"{system.rest}/v1/buckets", json=body, timeout=60)
    assert r.status_code == 401, r.text
    info = next(d for d in r.json()["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == "S3_AUTH_FAILED"
    assert httpx.get(f"{system.rest}/v1/buckets/wrongkey").status_code == 404
    # With the right key the same bucket registers and works end to end.
    body["s3"]["secret_key"] = seaweed.secret_key
    assert httpx.post(f"{system.rest}/v1/buckets", json=body, timeout=60).status_code == 200
    with system.client() as lh:
        lh.put_object("wrongkey", "a/b.txt", b"hello")
        assert b"".join(lh.get_object("wrongkey", "a/b.txt")) == b"hello"
        lh.delete_object("wrongkey", "a/b.txt")
        with pytest.raises(NotFound):
            lh.stat_object("wrongkey", "a/b.txt")


def test_rest_upload_over_the_documented_limit(tmp_path):
    system = System.start(tmp_path / "home", {"LAKEHOUSE_INGEST__MAX_REST_BODY_BYTES": "1000"})
    try:
        body = b"id,v\n" + b"".join(f"{i},{i}\n".encode() for i in range(1000))
        r = httpx.post(f"{system.rest}/v1/datasets/limited:ingest", params={"format": "csv"}, content=body)
        # 400, not 429: resending the same body cannot succeed.
        assert r.status_code == 400, r.text
        info = next(d for d in r.json()["details"] if d["@type"].endswith("ErrorInfo"))
        assert info["reason"] == "REQUEST_TOO_LARGE"
        assert info["metadata"]["setting"] == "ingest.max_rest_body_bytes"
        with system.client() as lh:
            with pytest.raises(NotFound):
                lh.get_dataset("limited")
            assert lh.ingest("limited", body, format="csv").rows == 1000  # gRPC streams are not limited
    finally:
        system.stop()


def test_storage_object_api_over_rest(system):
    data = bytes(range(256)) * 4096  # 1 MiB, binary
    r = httpx.post(
        f"{system.rest}/v1/buckets/lake/objects:put",
        params={"key": "scratch/blob.bin"},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["size"] == str(len(data))
    got = httpx.get(f"{system.rest}/v1/buckets/lake/objects:get", params={"key": "scratch/blob.bin"})
    assert got.status_code == 200 and got.content == data
    listed = httpx.get(f"{system.rest}/v1/buckets/lake/objects", params={"prefix": "scratch/"}).json()
    assert [o["key"] for o in listed["objects"]] == ["scratch/blob.bin"]
    for bad in ("../escape", "/abs/path", "a/../../b"):
        r = httpx.get(f"{system.rest}/v1/buckets/lake/objects:stat", params={"key": bad})
        assert r.status_code == 400, (bad, r.text)
    assert httpx.delete(f"{system.rest}/v1/buckets/lake/objects", params={"key": "scratch/blob.bin"}).status_code == 200
    assert (
        httpx.get(f"{system.rest}/v1/buckets/lake/objects:stat", params={"key": "scratch/blob.bin"}).status_code == 404
    )


def test_streamed_upload_does_not_wait_for_the_whole_body(system):
    """Progress events arrive while the client is still sending: the upload is streamed."""
    sent = []
    seen_while_sending = threading.Event()

    def slow_chunks():
        for chunk in _csv_chunks(20):
            sent.append(len(chunk))
            yield chunk
            time.sleep(0.01)

    with system.client() as lh:

        def progress(p):
            if p.phase == "upload" and len(sent) < 21:
                seen_while_sending.set()

        lh.ingest("streamed", slow_chunks(), format="csv", mode="replace", on_progress=progress)
    assert seen_while_sending.is_set()
