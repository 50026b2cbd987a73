"""DriftService end to end (one server process + Envoy): playbook drift after the corpus
changed under recorded entries, embedding drift across two generations of a real corpus,
audit baseline drift and its JSONL on the lake, every report in its lake dataset, and the
bad inputs (empty corpus, single generation, mismatched dimensions) each a clean gRPC
status and HTTP code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from lakehouse.api import errors
from lakehouse.api.drift import (
    AuditDriftQuery,
    DriftProgress,
    EmbeddingDriftQuery,
    GenerationSample,
    PlaybookDriftQuery,
    PlaybookDriftReport,
    VectorSample,
)

WAIT_S = 60.0
CLI_TIMEOUT_S = 60
DIM = 8
DOCS = [
    ("fork", "Forklift operator with OSHA-10, five years in a warehouse"),
    ("nurse", "Registered nurse, ICU nights, Chicago hospital"),
    ("chef", "Line cook and sous chef for a busy restaurant kitchen"),
    ("driver", "CDL truck driver, long haul, clean record"),
    ("teacher", "High school math teacher, ten years in the classroom"),
]
CROWD = [  # added later: closer to the forklift query than the recorded item
    ("crowd1", "Certified forklift operator for warehouse work"),
    ("crowd2", "Forklift operator, warehouse, certified, reach truck"),
    ("crowd3", "Warehouse forklift operator with forklift certification"),
]


@pytest.fixture(scope="module")
def rest(system):
    with httpx.Client(base_url=system.rest, timeout=WAIT_S) as client:
        yield client


def reason(response: httpx.Response) -> str:
    return next(d for d in response.json()["details"] if d["@type"].endswith("ErrorInfo"))["reason"]


def sql_rows(lh, text: str) -> list[dict]:
    return lh.queries.stream(text).read_all().to_pylist()


def rebuilt(lh, corpus: str) -> int:
    """Rebuild ``corpus`` into a new generation and swap it in; its number."""
    lh.rebuild_corpus(corpus)
    deadline = time.monotonic() + WAIT_S
    while lh.get_corpus(corpus).building:
        assert time.monotonic() < deadline, "rebuild did not finish"
        time.sleep(0.05)
    return int(lh.swap_generation(corpus).generation)


# Playbook drift --------------------------------------------------------------------


def test_playbook_drift_after_the_corpus_changed(system, rest):
    with system.client() as lh:
        lh.create_corpus("drift_docs")
        lh.add_items("drift_docs", [{"id": i, "text": t} for i, t in DOCS])
        lh.record_playbook_entries(
            [
                {"id": "drift-e1", "query": "forklift operator warehouse", "corpus": "drift_docs", "item_id": "fork"},
                {"id": "drift-e2", "query": "ICU registered nurse", "corpus": "drift_docs", "item_id": "nurse"},
                {
                    "id": "drift-e3",
                    "query": "truck driver",
                    "corpus": "drift_docs",
                    "item_id": "chef",
                    "outcome": "rejected",
                },
            ]
        )
        before = lh.drift.playbook_drift(PlaybookDriftQuery(corpora=("drift_docs",), k=2))
        assert (before.entries, before.drifted, before.worst) == (2, 0, ())
        assert before.corpora[0].skipped == 1
        lh.add_items("drift_docs", [{"id": i, "text": t} for i, t in CROWD])
        events = list(lh.drift.playbook_drift_stream(PlaybookDriftQuery(corpora=("drift_docs",), k=2)))
    after = events[-1]
    assert isinstance(after, PlaybookDriftReport) and any(isinstance(e, DriftProgress) for e in events[:-1])
    assert (after.entries, after.drifted, after.rate) == (2, 1, 0.5)
    [worst] = after.worst
    assert (worst.entry_id, worst.item_id) == ("drift-e1", "fork") and worst.rank > 2
    assert worst.top_item_id.startswith("crowd")
    # The same over REST, with every entry listed.
    r = rest.post("/v1/drift/playbook", json={"corpora": ["drift_docs"], "k": 2, "include_entries": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["entries"], body["drifted"]) == ("2", "1")
    assert {e["entry_id"]: e.get("drifted", False) for e in body["entries_checked"]} == {
        "drift-e1": True,
        "drift-e2": False,
    }
    assert rest.post("/v1/drift/playbook", json={"corpora": ["drift_docs"], "k": 4}).json()["drifted"] == "0"
    # Each run is a row per corpus in the report dataset.
    with system.client() as lh:
        rows = sql_rows(lh, f"SELECT drifted, rate FROM drift_playbook WHERE run_id = '{after.run_id}'")
    assert rows == [{"drifted": 1, "rate": 0.5}]


def test_playbook_drift_bad_options(rest):
    for path in ("/v1/drift/playbook", "/v1/drift/playbook:stream"):
        r = rest.post(path, json={"k": -1})
        assert r.status_code == 400 and reason(r) == "INVALID_DRIFT_OPTION", (path, r.text)
    r = rest.post("/v1/drift/playbook", json={"k": 5000})  # deeper than drift.playbook_depth
    assert r.status_code == 400 and reason(r) == "INVALID_DRIFT_OPTION", r.text


# Embedding drift -------------------------------------------------------------------


def gaussian(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM))
    x[:, :2] += shift
    return x


def items(x: np.ndarray) -> list[dict]:
    return [{"id": f"v{i}", "vector": row.tolist()} for i, row in enumerate(x)]


@pytest.fixture(scope="module")
def generations(system):
    """drift_gens: generation A (N(0, 1)) then B (two dimensions shifted), as rebuilds."""
    with system.client() as lh:
        lh.create_corpus("drift_gens", dimension=DIM, metric="l2")
        lh.add_items("drift_gens", items(gaussian(600, 1)))
        a = rebuilt(lh, "drift_gens")
        lh.add_items("drift_gens", items(gaussian(600, 2, shift=0.5)), upsert=True)
        b = rebuilt(lh, "drift_gens")
    return a, b


def test_embedding_drift_across_two_generations(system, rest, generations):
    a, b = generations
    with system.client() as lh:
        report = lh.drift.embedding_drift(
            EmbeddingDriftQuery(GenerationSample("drift_gens"), GenerationSample("drift_gens"), top_tests=100)
        )
        assert (report.baseline, report.current) == (
            f"corpus drift_gens generation {a}",
            f"corpus drift_gens generation {b}",
        )
        assert report.drifted and report.baseline_count == report.current_count == 600
        assert len(report.top) == report.tests == DIM + 32
        assert {t.index for t in report.top if t.kind == "dimension" and t.rejected} == {0, 1}  # the shifted ones
        assert report.centroid_l2 == pytest.approx(0.5 * np.sqrt(2), rel=0.3)
        rows = sql_rows(lh, f"SELECT drifted, correction, tests FROM drift_embedding WHERE run_id = '{report.run_id}'")
        assert rows == [{"drifted": True, "correction": "benjamini-hochberg", "tests": report.tests}]
    same = {"generation": {"corpus": "drift_gens", "generation": str(a)}}
    r = rest.post("/v1/drift/embedding", json={"baseline": same, "current": same})
    assert r.status_code == 200, r.text
    assert r.json().get("drifted", False) is False and r.json().get("rejected", 0) == 0
    r = rest.post(
        "/v1/drift/embedding",
        json={"baseline": same, "current": {"generation": {"corpus": "drift_gens"}}, "method": "projections"},
    )
    assert r.json()["drifted"] is True and r.json()["method"] == "projections"


def test_embedding_drift_of_inline_vectors_over_rest(rest):
    def sample(x):
        return {"vectors": {"vectors": [{"values": row.tolist()} for row in x]}}

    r = rest.post(
        "/v1/drift/embedding", json={"baseline": sample(gaussian(300, 5)), "current": sample(gaussian(300, 6))}
    )
    assert r.status_code == 200, r.text
    assert r.json().get("drifted", False) is False and r.json()["correction"] == "benjamini-hochberg"


def test_empty_corpus_single_generation_and_mismatched_dimensions(system, rest, generations):
    with system.client() as lh:
        lh.create_corpus("drift_empty", dimension=DIM, metric="l2")
        lh.create_corpus("drift_one", dimension=DIM, metric="l2")
        lh.add_items("drift_one", items(gaussian(50, 3)))
        cases = [
            (
                GenerationSample("drift_empty", 1),
                GenerationSample("drift_empty"),
                errors.FailedPrecondition,
                "EMPTY_SAMPLE",
            ),
            (
                GenerationSample("drift_one"),
                GenerationSample("drift_one"),
                errors.FailedPrecondition,
                "SINGLE_GENERATION",
            ),
            (
                GenerationSample("drift_gens"),
                VectorSample([[1.0, 2.0], [3.0, 4.0]]),
                errors.InvalidArgument,
                "DIMENSION_MISMATCH",
            ),
            (
                VectorSample([[1.0, 2.0], [3.0]]),
                VectorSample([[1.0], [2.0]]),
                errors.InvalidArgument,
                "DIMENSION_MISMATCH",
            ),
            (GenerationSample("drift_nope"), GenerationSample("drift_nope"), errors.NotFound, "CORPUS_NOT_FOUND"),
        ]
        for baseline, current, kind, why in cases:
            with pytest.raises(kind) as exc:
                lh.drift.embedding_drift(EmbeddingDriftQuery(baseline, current))
            assert exc.value.reason == why, (baseline, current)
    rest_cases = [
        (
            {"generation": {"corpus": "drift_empty", "generation": "1"}},
            {"generation": {"corpus": "drift_empty"}},
            400,
            "EMPTY_SAMPLE",
        ),
        ({"generation": {"corpus": "drift_one"}}, {"generation": {"corpus": "drift_one"}}, 400, "SINGLE_GENERATION"),
        (
            {"vectors": {"vectors": [{"values": [1, 2]}, {"values": [3, 4]}]}},
            {"vectors": {"vectors": [{"values": [1, 2, 3]}, {"values": [4, 5, 6]}]}},
            400,
            "DIMENSION_MISMATCH",
        ),
        (
            {"vectors": {"vectors": [{"values": [1]}]}},
            {"vectors": {"vectors": [{"values": [1]}, {"values": [2]}]}},
            400,
            "EMPTY_SAMPLE",
        ),
        ({}, {"generation": {"corpus": "drift_one"}}, 400, "INVALID_SAMPLE"),
        ({"generation": {"corpus": "drift_nope"}}, {"generation": {"corpus": "drift_nope"}}, 404, "CORPUS_NOT_FOUND"),
    ]
    for baseline, current, status, why in rest_cases:
        r = rest.post("/v1/drift/embedding", json={"baseline": baseline, "current": current})
        assert (r.status_code, reason(r)) == (status, why), (baseline, r.text)


# Audit baseline drift --------------------------------------------------------------


def test_audit_baseline_over_grpc_and_rest(system, rest):
    subject = "drift-test/search"
    with system.client() as lh:
        for p50 in (10.0, 11.0, 10.0):
            lh.drift.audit_drift(AuditDriftQuery(subject, {"p50_ms": p50, "recall": 0.95}, record=True))
        steady = lh.drift.audit_drift(AuditDriftQuery(subject, {"p50_ms": 10.4, "recall": 0.95}))
        assert steady.moved == 0 and steady.baseline_snapshots == 3 and not steady.recorded
    r = rest.post(
        "/v1/drift/audit", json={"subject": subject, "metrics": {"p50_ms": 15.0, "recall": 0.95}, "record": True}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["moved"] == 1 and body["recorded"] is True
    moved = {m["name"]: m for m in body["metrics"]}
    assert moved["p50_ms"]["status"] == "moved" and moved["p50_ms"]["baseline"] == 10.0
    assert moved["recall"]["status"] == "steady"
    listed = rest.get("/v1/drift/audit/snapshots", params={"subject": subject}).json()["snapshots"]
    assert [s["metrics"]["p50_ms"] for s in listed] == [10.0, 11.0, 10.0, 15.0]
    lines = (system.settings.lake_root / "_drift" / "audit_baselines.jsonl").read_text().splitlines()
    assert sum(subject in line for line in lines) == 4 and '"metrics":{"p50_ms":15.0,"recall":0.95}' in lines[-1]
    with system.client() as lh:
        rows = sql_rows(lh, f"SELECT metric, status FROM drift_audit WHERE run_id = '{body['run_id']}' ORDER BY metric")
    assert rows == [{"metric": "p50_ms", "status": "moved"}, {"metric": "recall", "status": "steady"}]
    r = rest.post("/v1/drift/audit", json={"subject": "drift-test/never"})
    assert (r.status_code, reason(r)) == (400, "NO_SNAPSHOTS"), r.text
    r = rest.post("/v1/drift/audit", json={"subject": subject, "metrics": {"x": 1}, "relative_tolerance": -1})
    assert (r.status_code, reason(r)) == (400, "INVALID_DRIFT_OPTION"), r.text


def test_cli(system, generations, tmp_path):
    env = {**os.environ, **system.env}

    def cli(*args: str, code: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "drift", *args], env=env, capture_output=True, text=True,
            timeout=CLI_TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == code, done.stderr
        return done.stdout + done.stderr

    out = cli("embedding", "--corpus", "drift_gens")
    assert out.startswith("DRIFTED: ") and "benjamini-hochberg" in out
    np.save(tmp_path / "a.npy", gaussian(200, 8))
    np.save(tmp_path / "b.npy", gaussian(200, 9))
    quiet = json.loads(
        cli(
            "embedding",
            "--baseline-vectors",
            str(tmp_path / "a.npy"),
            "--current-vectors",
            str(tmp_path / "b.npy"),
            "--json",
        )
    )
    assert quiet.get("drifted", False) is False and quiet["baseline_count"] == "200"
    with system.client() as lh:
        lh.create_corpus("drift_cli_one", dimension=DIM, metric="l2")
        lh.add_items("drift_cli_one", items(gaussian(20, 3)))
    assert "SINGLE_GENERATION" in cli("embedding", "--corpus", "drift_cli_one", code=1)
    cli("audit", "drift-test/cli", "--metric", "qps=100", "--record")
    moved = cli("audit", "drift-test/cli", "--metric", "qps=50")
    assert moved.startswith("1 of 1 metrics moved") and "moved   qps: 50 vs 100" in moved
    assert "drift-test/cli" in cli("snapshots", "--subject", "drift-test/cli")
    assert " entries drifted " in cli("playbook", "--corpus", "drift_docs", "--k", "2")
