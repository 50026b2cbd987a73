"""Status codes a caller can act on, over gRPC and REST through Envoy: undecodable
requests are INVALID_ARGUMENT (not 500), too-deep JSON is 400 naming its limit, a
body over a limit is never 429, a server that dies mid-call is UNAVAILABLE, and
Envoy's admin interface is not reachable over TCP."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest

from lakehouse.api.errors import InvalidArgument, Unavailable
from lakehouse.api.status import from_rpc_error
from lakehouse.gateway.config import MAX_JSON_BODY_BYTES
from lakehouse.gateway.process import admin_request
from lakehouse.v1 import catalog_pb2, ingest_pb2, ingest_pb2_grpc, vector_pb2
from tests.support.system import System

RAW = {"request_serializer": None, "response_deserializer": None}  # bytes in, bytes out
CALL_TIMEOUT_S = 30


def _info(body: dict) -> dict:
    return next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))


def _raw_unary(system: System, method: str, payload: bytes) -> grpc.RpcError:
    with grpc.insecure_channel(system.grpc_address) as channel:
        with pytest.raises(grpc.RpcError) as exc:
            channel.unary_unary(method, **RAW)(payload, timeout=CALL_TIMEOUT_S)
    return exc.value


def _bad_utf8_get_dataset() -> bytes:
    good = catalog_pb2.GetDatasetRequest(dataset="abc").SerializeToString()
    return good.replace(b"abc", b"a\xffc")


# Invalid UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v1/datasets/ab%FFc", "/v1/datasets/ab%C3%28c", "/v1/buckets/lake/objects:stat?key=a%FFb"],
    ids=["path_ff", "path_bad_sequence", "query_key"],
)
def test_invalid_utf8_over_rest_is_400(system, path):
    r = httpx.get(f"{system.rest}{path}", timeout=CALL_TIMEOUT_S)
    assert r.status_code == 400, r.text
    assert _info(r.json())["reason"] == "INVALID_REQUEST_ENCODING"


def test_invalid_utf8_over_grpc_is_invalid_argument(system):
    err = _raw_unary(system, "/lakehouse.v1.CatalogService/GetDataset", _bad_utf8_get_dataset())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    mapped = from_rpc_error(err)
    assert isinstance(mapped, InvalidArgument) and mapped.reason == "INVALID_REQUEST_ENCODING"
    assert mapped.metadata["message"] == "lakehouse.v1.GetDatasetRequest"


def test_corrupt_wire_bytes_are_invalid_argument(system):
    err = _raw_unary(system, "/lakehouse.v1.CatalogService/GetDataset", b"\xff\xff\xff")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    assert from_rpc_error(err).reason == "INVALID_REQUEST_ENCODING"


def test_invalid_utf8_in_a_client_stream_is_invalid_argument(system):
    # The first IngestRequest names the dataset: field 1, length 3, not UTF-8.
    with grpc.insecure_channel(system.grpc_address) as channel:
        with pytest.raises(grpc.RpcError) as exc:
            channel.stream_unary("/lakehouse.v1.IngestService/Ingest", **RAW)(
                iter([b"\x0a\x03a\xffb"]), timeout=CALL_TIMEOUT_S
            )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.value
    assert from_rpc_error(exc.value).reason == "INVALID_REQUEST_ENCODING"


# Deep nesting ----------------------------------------------------------------


def _nested(depth: int):
    value = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture(scope="module")
def deep_corpus(client):
    client.create_corpus("deep_meta")
    return "deep_meta"


def test_deep_json_metadata_is_400_naming_the_limit(system, deep_corpus):
    body = {"items": [{"id": "d90", "text": "deep", "metadata": _nested(90)}]}
    r = httpx.post(f"{system.rest}/v1/corpora/{deep_corpus}/items:add", json=body, timeout=CALL_TIMEOUT_S)
    assert r.status_code == 400, r.text
    info = _info(r.json())
    assert info["reason"] == "NESTING_TOO_DEEP"
    assert info["metadata"] == {"limit": str(system.settings.max_json_depth), "setting": "max_json_depth"}


def test_json_just_inside_the_limit_is_accepted(system, deep_corpus):
    # body, items, item, metadata: 4 levels, then 28 more objects = 32.
    body = {"items": [{"id": "d29", "text": "deep", "metadata": _nested(29)}]}
    assert system.settings.max_json_depth == 32
    r = httpx.post(f"{system.rest}/v1/corpora/{deep_corpus}/items:add", json=body, timeout=CALL_TIMEOUT_S)
    assert r.status_code == 200, r.text


def test_deep_struct_over_grpc_is_invalid_argument_naming_the_decoder_limit(system, deep_corpus):
    request = vector_pb2.AddItemsRequest(corpus=deep_corpus)
    struct = request.items.add(id="g40", text="deep").metadata
    for _ in range(40):
        struct = struct.fields["a"].struct_value
    err = _raw_unary(system, "/lakehouse.v1.VectorService/AddItems", request.SerializeToString())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    mapped = from_rpc_error(err)
    assert mapped.reason == "NESTING_TOO_DEEP" and mapped.metadata["limit"] == "100"


# Never 429 for what retrying cannot fix ---------------------------------------


def test_json_body_over_the_gateway_limit_is_413_not_resource_exhausted(system):
    body = b'{"sql": "' + b"x" * (MAX_JSON_BODY_BYTES + 1) + b'"}'
    r = httpx.post(
        f"{system.rest}/v1/sql", content=body, headers={"content-type": "application/json"}, timeout=CALL_TIMEOUT_S
    )
    assert r.status_code == 413, r.text[:200]
    assert r.json()["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]


# Envoy admin -------------------------------------------------------------------


def _listening_tcp_ports(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def test_envoy_admin_is_an_owner_only_unix_socket(system):
    state = system.state
    assert _listening_tcp_ports(state.envoy_pid) == {system.settings.port}
    socket_path = Path(state.admin_socket)
    mode = os.stat(socket_path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(socket_path.parent).st_mode) == 0o700
    assert socket_path.is_relative_to(system.settings.run_dir)
    assert admin_request(socket_path, "/ready").status_code == 200  # the owner still has it


# A server that dies mid-call ---------------------------------------------------


@pytest.fixture()
def doomed(tmp_path):
    system = System.start(tmp_path / "home")
    yield system
    system.stop()


def test_server_death_before_the_response_is_unavailable_in_plain_text(doomed):
    """Envoy answers for the dead upstream; a gRPC caller gets UNAVAILABLE with a plain
    grpc-message (the REST JSON shape is for REST callers only)."""
    admitted = threading.Event()
    resume = threading.Event()

    def requests():
        yield ingest_pb2.IngestRequest(dataset="doomed", format="csv", body={"data": b"id,v\n1,1\n"})
        admitted.set()
        resume.wait(CALL_TIMEOUT_S)

    with grpc.insecure_channel(doomed.grpc_address) as channel:
        call = ingest_pb2_grpc.IngestServiceStub(channel).Ingest.future(requests(), timeout=CALL_TIMEOUT_S)
        assert admitted.wait(CALL_TIMEOUT_S)
        time.sleep(0.5)  # the server is inside the handler, waiting for more chunks
        doomed.kill_server()
        try:
            with pytest.raises(grpc.RpcError) as exc:
                call.result(timeout=CALL_TIMEOUT_S)
        finally:
            resume.set()
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE, exc.value
    assert not exc.value.details().lstrip().startswith("{"), exc.value.details()


def test_server_death_mid_stream_is_unavailable(doomed):
    """After the response has started Envoy can only reset the stream, which gRPC
    libraries report as INTERNAL; the client reports it as UNAVAILABLE."""
    with doomed.client() as lh:
        reader = lh.query_reader("SELECT i, repeat('x', 1000) AS pad FROM range(1000000) t(i)")
        reader.read_next_batch()
        doomed.kill_server()
        with pytest.raises(Unavailable) as exc:
            while True:
                reader.read_next_batch()
    assert exc.value.reason in ("STREAM_RESET", "UPSTREAM_UNAVAILABLE"), exc.value
