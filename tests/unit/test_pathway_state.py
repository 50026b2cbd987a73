"""The state file (docs/pathway.md): its exact shape, byte-stable round trips, strict
reading, and vectors recomputed when the file is of another algorithm version."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lakehouse.api.pathway import BugFingerprint, Pathway, PathwayStep, SemanticFlag, TypeHint
from lakehouse.servers.pathway import buckets, state
from lakehouse.servers.pathway.types import StateError

WHEN = datetime(2026, 12, 2, 19, 30, 0, 123456, tzinfo=UTC)


def pathway(task: str = "forklift operator in IL", n: int = 0) -> Pathway:
    return Pathway(
        id=f"{n:032x}",
        task=task,
        steps=(
            PathwayStep("filter", "filter.derive", {"text": "$INPUTS.job"}),
            PathwayStep("search", "matrix.search", {"text": "$INPUTS.job", "k": 5}, ("filter",), when=""),
            PathwayStep("say", "prompt", {}, ("search",), prompt="Summarise $search.output"),
        ),
        vector=buckets.vector_bytes(task),
        recorded_at=WHEN,
        inputs={"job": "Forklift — OSHA 30 ✓", "k": 5, "ratio": 0.25, "tags": ["a", None, True]},
        workflow="staffing-placement",
        source_run_id="ab" * 16,
        flags=(SemanticFlag("search", "PARTIAL", "a corpus did not answer"),),
        type_hints=(TypeHint("search", "hits", "array"), TypeHint("search", "count", "number")),
        fingerprints=(BugFingerprint("matrix.search", "UNAVAILABLE", "CORPUS_DOWN", 2),),
        replays=3,
        replay_failures=1,
    )


def test_the_file_has_the_documented_shape() -> None:
    data = state.encode([pathway(n=1), pathway("second task", n=2)])
    lines = data.decode("ascii").split("\n")
    assert lines[0] == (
        '{"algorithm":"lakehouse.pathway.buckets.v1","buckets":32,'
        '"format":"lakehouse.pathway.state","version":1,"traces":['
    )
    assert lines[1].endswith("},") and not lines[2].endswith(",")
    assert lines[3:] == ["]}", ""]
    doc = json.loads(data)
    assert [t["id"] for t in doc["traces"]] == [f"{1:032x}", f"{2:032x}"]
    trace = doc["traces"][0]
    assert list(trace) == sorted(trace)
    assert trace["recorded_at"] == "2026-12-02T19:30:00.123456Z"
    assert trace["vector"] == buckets.vector_bytes("forklift operator in IL").hex()
    assert (
        trace["fingerprints"][0]["fingerprint"]
        == BugFingerprint("matrix.search", "UNAVAILABLE", "CORPUS_DOWN").fingerprint
    )


def test_an_empty_memory() -> None:
    data = state.encode([])
    assert data.endswith(b'"traces":[\n]}\n')
    assert state.decode(data).pathways == []


def test_round_trip_is_byte_stable() -> None:
    original = [pathway(n=i) for i in range(5)]
    data = state.encode(original)
    loaded = state.decode(data)
    assert loaded.pathways == original and not loaded.rehashed
    assert state.encode(loaded.pathways) == data
    assert state.encode_lines([state.trace_text(p) for p in loaded.pathways]) == data


def test_other_algorithm_versions_are_rehashed() -> None:
    p = replace(pathway(), vector=bytes(128))
    doc = json.loads(state.encode([p]))
    doc["algorithm"] = "lakehouse.pathway.buckets.v0"
    loaded = state.decode(json.dumps(doc).encode())
    assert loaded.rehashed and loaded.pathways[0].vector == buckets.vector_bytes(p.task)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.update(buckets=16), "buckets 16"),
        (lambda d: d["traces"][0].pop("task"), r"traces\[0\].task: missing"),
        (lambda d: d["traces"][0].update(replays="3"), r"traces\[0\].replays: expected int"),
        (lambda d: d["traces"][0].update(replays=True), r"traces\[0\].replays: expected int"),
        (lambda d: d["traces"][0]["steps"][1].update(depends_on=[1]), r"steps\[1\].depends_on"),
        (lambda d: d["traces"][0].update(vector="abcd"), "2 bytes, not 128"),
        (lambda d: d["traces"][0].update(vector="zz"), r"traces\[0\]"),
        (lambda d: d["traces"][0].update(recorded_at="yesterday"), r"traces\[0\]"),
        (lambda d: d["traces"][0]["fingerprints"][0].update(fingerprint="0" * 16), "does not match"),
        (lambda d: d["traces"].append(dict(d["traces"][0])), "appears twice"),
    ],
)
def test_damaged_files_are_refused_by_field(change, message: str) -> None:
    doc = json.loads(state.encode([pathway()]))
    change(doc)
    with pytest.raises(StateError, match=message):
        state.decode(json.dumps(doc).encode())


def test_not_json() -> None:
    with pytest.raises(StateError, match="not JSON"):
        state.decode(b"{not json")
