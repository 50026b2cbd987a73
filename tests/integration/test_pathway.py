"""PathwayService end to end (one server process, Envoy in front): the replay gate over REST
and gRPC from an empty memory, nearest, the bucket vector as the golden file has it,
paging, the state file surviving a restart, the CLI, and bad input as clean statuses
(unknown id NOT_FOUND / 404, malformed records INVALID_ARGUMENT / 400, a pathway whose mode
is gone replayed as a per-step failure)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import httpx
import pytest

from lakehouse.api import errors
from lakehouse.api.pathway import PATHWAY_MODE_UNKNOWN
from lakehouse.api.workflows import SUCCEEDED, RunRequest
from tests.support import pathway_golden
from tests.support.pathways import OFFLINE_WORKFLOWS
from tests.support.system import System

pytestmark = pytest.mark.integration
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def psystem(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("pathway-home"))
    yield system
    system.stop()


@pytest.fixture(scope="module")
def rest(psystem):
    with httpx.Client(base_url=psystem.rest, timeout=TIMEOUT_S) as client:
        yield client


def _details(body: dict, kind: str) -> list[dict]:
    return [d for d in body["details"] if d["@type"].endswith(kind)]


def _reason(response: httpx.Response) -> str:
    (info,) = _details(response.json(), "google.rpc.ErrorInfo")
    return info["reason"]


@pytest.fixture(scope="module")
def recorded(psystem, rest) -> list[str]:
    """The initial state, built from scratch: each offline workflow run over gRPC, its run
    recorded over REST."""
    assert rest.get("/v1/pathways").json()["total"] == 0
    ids = []
    with psystem.client() as lh:
        for wf in OFFLINE_WORKFLOWS:
            run = lh.workflows.run(RunRequest(yaml=wf.yaml, inputs=wf.inputs))
            assert run.status == SUCCEEDED, run
            r = rest.post("/v1/pathways", json={"task": wf.task, "run_id": run.run_id, "yaml": wf.yaml})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["source_run_id"] == run.run_id and len(base64.b64decode(body["vector"])) == 128
            ids.append(body["id"])
    return ids


def test_replay_gate_over_rest_and_grpc(psystem, rest, recorded) -> None:
    """G3.4.A as ratified: every recorded pathway replays, every step succeeding."""
    for pid in recorded:
        r = rest.post(f"/v1/pathways/{pid}:replay", json={})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True and {s["status"] for s in body["steps"]} == {"succeeded"}, body
    with psystem.client() as lh:
        results = [lh.pathways.replay(pid) for pid in recorded]
    assert all(r.ok for r in results)
    listed = rest.get("/v1/pathways").json()
    assert [p["replays"] for p in listed["pathways"]] == [2, 2, 2] and listed["total"] == 3


def test_nearest_over_rest_and_grpc(psystem, rest, recorded) -> None:
    r = rest.post("/v1/pathways:nearest", json={"task": "forklift operator OSHA-30 IL", "k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["searched"] >= 3 and body["matches"][0]["pathway"]["id"] == recorded[0]
    assert body["matches"][0]["rank"] == 1 and body["matches"][0]["score"] > 0.5
    with psystem.client() as lh:
        best = lh.pathways.nearest("fact check a résumé", k=1).matches[0]
    assert best.pathway.id == recorded[1] and best.pathway.workflow == "fact-check"


def test_bucket_vector_matches_the_golden_file(psystem, rest) -> None:
    cases = [c for c in pathway_golden.load()["cases"] if c["name"] in ("cjk", "emoji", "turkish_dotted_i", "empty")]
    for case in cases:
        r = rest.post("/v1/pathways:hash", json={"text": case["text"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["hex"] == case["hex"] and base64.b64decode(body["vector"]).hex() == case["hex"]
        assert body["tokens"] == case["token_count"] and body["algorithm"] == "lakehouse.pathway.buckets.v1"
    long_case = next(c for c in pathway_golden.load()["cases"] if c["name"] == "long_1mb_mixed")
    with psystem.client() as lh:
        assert lh.pathways.bucket_vector(pathway_golden.case_text(long_case)).hex == long_case["hex"]


def test_unknown_ids_are_not_found(psystem, rest) -> None:
    for response in (rest.get(f"/v1/pathways/{'0' * 32}"), rest.post(f"/v1/pathways/{'0' * 32}:replay", json={})):
        assert response.status_code == 404, response.text
        assert _reason(response) == "PATHWAY_NOT_FOUND"
    with psystem.client() as lh, pytest.raises(errors.NotFound):
        lh.pathways.get("nope")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": [{"id": "a", "mode": "echo"}]}, "task"),
        ({"task": "a task"}, "steps"),
        ({"task": "a task", "steps": [{"id": "a", "mode": "echo", "depends_on": ["z"]}]}, "steps[0].depends_on"),
        ({"task": "a task", "steps": [{"id": "9a", "mode": "echo"}]}, "steps[0].id"),
        ({"task": "a task", "steps": [{"id": "a", "mode": ""}]}, "steps[0].mode"),
        ({"task": "...", "steps": [{"id": "a", "mode": "echo"}]}, "task"),
    ],
)
def test_malformed_records_are_400(rest, body: dict, field: str) -> None:
    r = rest.post("/v1/pathways", json=body)
    assert r.status_code == 400, r.text
    (bad,) = _details(r.json(), "google.rpc.BadRequest")
    assert field in [v["field"] for v in bad["field_violations"]]


def test_unknown_json_fields_and_bad_values_are_400(rest) -> None:
    assert rest.post("/v1/pathways", json={"task": "t", "stepz": []}).status_code == 400
    assert rest.post("/v1/pathways:nearest", json={"task": "t", "k": "many"}).status_code == 400
    r = rest.post("/v1/pathways:nearest", json={"task": "forklift", "min_score": 3})
    assert r.status_code == 400 and _reason(r) == "PATHWAY_INVALID"


def test_a_run_that_failed_is_not_a_pathway(psystem, rest) -> None:
    yaml = (
        "name: f\ndescription: x\ninputs:\n  v: {default: 1}\nnodes:\n"
        "  - id: a\n    mode: echo\n    with: {value: $INPUTS.v}\n"
        "  - id: b\n    depends_on: [a]\n    mode: echo\n    with: {value: $a.output.missing}\n"
    )
    with psystem.client() as lh:
        run = lh.workflows.run(RunRequest(yaml=yaml))
    assert run.status == "failed"
    r = rest.post("/v1/pathways", json={"task": "t", "run_id": run.run_id, "yaml": yaml})
    assert r.status_code == 400, r.text  # FAILED_PRECONDITION
    assert _reason(r) == "PATHWAY_RUN_NOT_SUCCEEDED"


def test_a_mode_that_no_longer_exists_is_a_per_step_failure(psystem, rest) -> None:
    steps = [
        {"id": "start", "mode": "echo", "args": {"value": "x"}},
        {"id": "old", "mode": "retired.mode", "args": {}, "depends_on": ["start"]},
        {"id": "after", "mode": "echo", "args": {"value": "$old.output.value"}, "depends_on": ["old"]},
    ]
    r = rest.post("/v1/pathways", json={"task": "a pathway from an older deployment", "steps": steps})
    assert r.status_code == 200, r.text
    pid = r.json()["id"]
    replay = rest.post(f"/v1/pathways/{pid}:replay", json={})
    assert replay.status_code == 200, replay.text
    body = replay.json()
    assert body["ok"] is False
    assert [(s["step"], s["status"], s["reason"]) for s in body["steps"]] == [
        ("start", "succeeded", ""),
        ("old", "failed", PATHWAY_MODE_UNKNOWN),
        ("after", "skipped", "TRIGGER_RULE"),
    ]
    assert body["fingerprints"][0]["mode"] == "retired.mode" and len(body["fingerprints"][0]["fingerprint"]) == 16
    with psystem.client() as lh:
        stored = lh.pathways.get(pid)
    assert stored.replay_failures == 1 and stored.fingerprints[0].reason == PATHWAY_MODE_UNKNOWN


def test_paging(psystem, recorded) -> None:
    with psystem.client() as lh:
        first, token, total = lh.pathways.list(page_size=2)
        assert len(first) == 2 and token and total >= 3
        rest_of, _, _ = lh.pathways.list(page_size=1000, page_token=token)
        assert [p.id for p in first + rest_of][:3] == recorded
        with pytest.raises(errors.InvalidArgument):
            lh.pathways.list(page_token="x")


def _cli(system: System, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **system.env}
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "pathway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * 2,
    )


def test_cli(psystem, recorded, tmp_path) -> None:
    hashed = _cli(psystem, "hash", "Straße İstanbul")
    assert hashed.returncode == 0, hashed.stderr
    with psystem.client() as lh:
        assert hashed.stdout.strip() == lh.pathways.bucket_vector("Straße İstanbul").hex
    near = _cli(psystem, "nearest", "forklift operator OSHA-30 IL", "--k", "1")
    assert near.returncode == 0 and recorded[0] in near.stdout, near.stderr
    wf = OFFLINE_WORKFLOWS[2]
    path = tmp_path / "conditional.yaml"
    path.write_text(wf.yaml)
    made = _cli(psystem, "record", "--workflow", str(path), "--task", "cli night shift", "--json")
    assert made.returncode == 0, made.stderr
    pid = json.loads(made.stdout)["id"]
    replayed = _cli(psystem, "replay", pid)
    assert replayed.returncode == 0 and "ok" in replayed.stdout, replayed.stdout + replayed.stderr
    listed = _cli(psystem, "list")
    assert listed.returncode == 0 and pid in listed.stdout
    missing = _cli(psystem, "replay", "0" * 32)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_the_state_survives_a_restart(psystem, recorded) -> None:
    with psystem.client() as lh:
        before = lh.pathways.list(page_size=1000)[0]
    psystem.restart()
    with psystem.client() as lh:
        after = lh.pathways.list(page_size=1000)[0]
        assert after == before
        assert lh.pathways.replay(recorded[0]).ok
    state = psystem.settings.lake_root / psystem.settings.pathway.state_key
    assert state.read_bytes().startswith(b'{"algorithm":"lakehouse.pathway.buckets.v1"')
