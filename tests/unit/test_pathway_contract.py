"""The pathway API's contract, run against PathwayCore in-process and RemotePathway over
gRPC (lakehouse.api.pathway): same domain types, same errors, same bytes. Also the value
types' conversions, both ways, and the modes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lakehouse.api import errors
from lakehouse.api.pathway import (
    BugFingerprint,
    Pathway,
    PathwayApi,
    PathwayStep,
    RecordRequest,
    RemotePathway,
    SemanticFlag,
    TypeHint,
    pathway_from_pb,
    pathway_to_pb,
)
from lakehouse.api.workflows import SUCCEEDED, RunRequest
from lakehouse.servers.app import build_server
from lakehouse.servers.pathway import buckets
from lakehouse.servers.settings import Settings
from tests.support.contract import IMPLEMENTATIONS, implementation
from tests.support.pathways import OFFLINE_WORKFLOWS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    settings = Settings(home=tmp_path_factory.mktemp("pathway-contract") / "home")
    lh = build_server(settings, "matrix")
    yield lh
    lh.stop(0)


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest, server) -> Iterator[PathwayApi]:
    yield from implementation(request.param, server.address, lambda: server.runtime.pathway, RemotePathway)


def test_record_get_nearest_replay(api: PathwayApi, server, request: pytest.FixtureRequest) -> None:
    wf = OFFLINE_WORKFLOWS[0]
    run = server.runtime.workflows.run(RunRequest(yaml=wf.yaml, inputs=wf.inputs))
    assert run.status == SUCCEEDED
    task = f"{wf.task} ({request.node.callspec.id})"
    p = api.record(RecordRequest(task=task, run_id=run.run_id, yaml=wf.yaml))
    assert isinstance(p, Pathway) and p.modes == ("filter.derive", "echo")
    assert api.get(p.id) == p
    assert api.record(RecordRequest(task=task, run_id=run.run_id, yaml=wf.yaml)) == p
    nearest = api.nearest(task, k=1)
    assert nearest.matches[0].pathway == p and nearest.matches[0].score == pytest.approx(1.0)
    replayed = api.replay(p.id)
    assert replayed.ok and [s.status for s in replayed.steps] == [SUCCEEDED, SUCCEEDED]
    listed, token, total = api.list(page_size=1000)
    assert p.id in [x.id for x in listed] and token == "" and total == len(listed)


def test_explicit_steps_and_integers_survive_the_wire(api: PathwayApi, request: pytest.FixtureRequest) -> None:
    steps = (PathwayStep("a", "echo", {"value": {"k": 5, "ratio": 0.5, "list": [1, "x", None]}}),)
    p = api.record(RecordRequest(task=f"explicit {request.node.callspec.id}", steps=steps, inputs={"n": 3}))
    assert p.steps == steps and p.inputs == {"n": 3}


def test_errors(api: PathwayApi) -> None:
    with pytest.raises(errors.NotFound) as info:
        api.get("0" * 32)
    assert info.value.reason == "PATHWAY_NOT_FOUND"
    with pytest.raises(errors.NotFound):
        api.replay("0" * 32)
    with pytest.raises(errors.InvalidArgument) as info:
        api.record(RecordRequest(task="t", steps=(PathwayStep("a", "echo", depends_on=("zz",)),)))
    assert info.value.reason == "PATHWAY_INVALID" and info.value.violations[0].field == "steps[0].depends_on"
    with pytest.raises(errors.InvalidArgument) as info:
        api.nearest("")
    assert info.value.violations[0].field == "task"


def test_bucket_vector_bytes(api: PathwayApi) -> None:
    text = "Forklift operator — 東京 🙂 Straße"
    v = api.bucket_vector(text)
    assert v.vector == buckets.vector_bytes(text) and v.hex == buckets.vector_bytes(text).hex()
    assert v.values == tuple(float(x) for x in buckets.vector(text)) and v.tokens == 6


def test_value_types_convert_both_ways() -> None:
    p = Pathway(
        id="ab" * 16,
        task="t",
        steps=(PathwayStep("a", "prompt", {}, (), prompt="hello", when="true"),),
        vector=buckets.vector_bytes("t"),
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        inputs={"x": [1, 2]},
        workflow="w",
        source_run_id="cd" * 16,
        flags=(SemanticFlag("a", "PARTIAL", "d"),),
        type_hints=(TypeHint("a", "text", "string"),),
        fingerprints=(BugFingerprint("echo", "FAILED", "NODE_TIMEOUT", 3),),
        replays=4,
        replay_failures=3,
    )
    message = pathway_to_pb(p)
    assert message.fingerprints[0].fingerprint == p.fingerprints[0].fingerprint
    assert pathway_from_pb(message) == p
    assert BugFingerprint("echo", "FAILED", "NODE_TIMEOUT").fingerprint == p.fingerprints[0].fingerprint
    assert BugFingerprint("echo", "FAILED", "OTHER").fingerprint != p.fingerprints[0].fingerprint


def test_modes(server) -> None:
    yaml = """
name: record-and-find
description: records a pathway, then finds it
nodes:
  - id: rec
    mode: pathway.record
    with:
      task: night shift warehouse picker in Joliet
      steps: [{id: a, mode: echo, args: {value: picked}}]
  - id: near
    depends_on: [rec]
    mode: pathway.nearest
    with: {task: warehouse picker night shift, k: 3}
"""
    run = server.runtime.workflows.run(RunRequest(yaml=yaml))
    assert run.status == SUCCEEDED, run
    recorded = run.node("rec").output
    best = run.node("near").output["best"]
    assert best["id"] == recorded["id"] and best["modes"] == ["echo"] and best["rank"] == 1
