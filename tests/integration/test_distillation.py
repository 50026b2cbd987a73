"""Distillation end to end: scoring over gRPC and REST (Envoy), a run that picks up real
Ask answers, workflow runs and playbook outcomes from a running system, the SFT export
behind the contamination firewall, bad inputs as clean 400s, the workflow modes, and the
G3.5.A gate: bumping the scorer version (a settings change and a restart) makes scorer
drift report a non-zero drifted count over the scored history."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import httpx
import pytest
from google.protobuf import json_format

from lakehouse.api.distillation import GOLD, SILVER, Check, DriftRequest, EvalItem, Evidence, ExportRequest, RunRequest
from lakehouse.api.errors import InvalidArgument
from lakehouse.v1 import distillation_pb2, distillation_pb2_grpc
from tests.support.documents import ANA, JOHN, MARIA, pdf, zip_of
from tests.support.system import System
from tests.support.workflows import workflow

CORPUS = "distill_resumes"
QUESTION = "Forklift operator with OSHA-30 in IL"
RECORD = {
    "id": "inline-1",
    "query": "Forklift operator with OSHA-30 in IL",
    "context": ["Maria Lopez, forklift operator, OSHA-30, Joliet IL"],
    "answer": "Maria Lopez is a forklift operator with OSHA-30 [1].",
    "citations": ["resumes/maria#0"],
    "checks": [{"name": "grounded", "passed": True}],
}


@pytest.fixture(scope="module")
def dsystem(tmp_path_factory):
    env = {
        "LAKEHOUSE_ASK__CORPORA": json.dumps([CORPUS]),
        "LAKEHOUSE_DISTILLATION__SETTLE_S": "0",
        "LAKEHOUSE_DISTILLATION__SCORER_VERSION": "v1",
    }
    system = System.start(tmp_path_factory.mktemp("distill-home"), env)
    with system.client() as lh:
        archive = zip_of({"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN), "ana.pdf": pdf(ANA)})
        assert lh.ingest(CORPUS, archive, format="zip", embed={"embed_corpus": CORPUS}).rows == 3
    yield system
    system.stop()


def _violations(body: dict) -> dict[str, str]:
    (bad,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return {v["field"]: v["description"] for v in bad["field_violations"]}


def _reason(body: dict) -> str:
    (info,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    return info["reason"]


def test_score_records_over_grpc_the_client_and_rest(dsystem):
    with dsystem.client() as lh:
        stub = distillation_pb2_grpc.DistillationServiceStub(lh.channel)
        reply = stub.ScoreRecords(
            distillation_pb2.ScoreRecordsRequest(
                records=[json_format.ParseDict(RECORD, distillation_pb2.EvidenceRecord())]
            )
        )
        assert [(s.record_id, s.category, s.scorer_version) for s in reply.scores] == [("inline-1", GOLD, "v1")]
        batch = lh.distillation.score([Evidence(query="q", answer="an answer", outcome="rejected")], "v2")
        assert batch.scores[0].category == "reject" and batch.scorer_version == "v2"
        assert batch.scores[0].record_id.startswith("rec-")
    r = httpx.post(f"{dsystem.rest}/v1/distillation/score", json={"records": [RECORD]}, timeout=30)
    assert r.status_code == 200, r.text
    (score,) = r.json()["scores"]
    assert score["category"] == GOLD and score["scorer_version"] == "v1" and score["reasons"][-1].startswith("gold:")


@pytest.mark.parametrize(
    ("path", "body", "reason", "field"),
    [
        (
            "/v1/distillation/score",
            {"records": [RECORD, {**RECORD, "query": ""}]},
            "INVALID_EVIDENCE",
            "records[1].query",
        ),
        (
            "/v1/distillation/score",
            {"records": [{**RECORD, "outcome": "great"}]},
            "INVALID_EVIDENCE",
            "records[0].outcome",
        ),
        (
            "/v1/distillation/score",
            {"records": [RECORD], "scorer_version": "v9"},
            "UNKNOWN_SCORER_VERSION",
            "scorer_version",
        ),
        ("/v1/distillation/export", {"min_category": "platinum"}, "UNKNOWN_CATEGORY", "min_category"),
        (
            "/v1/drift/scorer",
            {"pairs": [{"record": RECORD, "category": "bronze"}]},
            "UNKNOWN_CATEGORY",
            "pairs[0].category",
        ),
        ("/v1/distillation/runs", {"sources": ["email"]}, "UNKNOWN_EVIDENCE_SOURCE", "sources[0]"),
    ],
)
def test_bad_input_is_a_clean_400_over_rest(dsystem, path, body, reason, field):
    r = httpx.post(f"{dsystem.rest}{path}", json=body, timeout=30)
    assert r.status_code == 400, r.text
    payload = r.json()
    assert _reason(payload) == reason and field in _violations(payload)


def test_bad_input_is_invalid_argument_over_grpc(dsystem):
    with dsystem.client() as lh, pytest.raises(InvalidArgument) as err:
        lh.distillation.score([Evidence(query="ok"), Evidence(query="ok", checks=(Check("", True),))])
    assert err.value.reason == "INVALID_EVIDENCE" and err.value.violations[0].field == "records[1].checks[0].name"


def test_an_export_with_nothing_qualifying_is_an_empty_file_and_a_report(dsystem):
    r = httpx.post(
        f"{dsystem.rest}/v1/distillation/export", json={"min_category": "gold", "scorer_version": "v2"}, timeout=30
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["jsonl"] == "" and int(body["exported"]) == 0 and body["key"].endswith(".jsonl")
    assert body["sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of b""


def _record_evidence(lh) -> None:
    """Real evidence: an Ask answer, a workflow run (which also uses the distillation.score
    mode), a placement in the playbook."""
    answer = lh.ask(QUESTION)
    assert answer.grounded and answer.citations
    flow = workflow(
        "id: score\nmode: distillation.score\nwith:\n  records:\n    - {query: forklift, answer: a long answer}",
        "id: echoed\ndepends_on: [score]\nmode: echo\nwith: {value: '$score.output'}",
        name="distill-flow",
    )
    run = lh.run_workflow(yaml=flow)
    assert run.status == "succeeded", run
    assert run.node("score").output["scores"][0]["scorer_version"] == "v1"
    entry = lh.record_playbook_entry(
        {
            "query": "Forklift operator in Joliet",
            "corpus": CORPUS,
            "item_id": answer.citations[0].id,
            "outcome": "success",
        }
    )
    assert entry.id


def test_a_run_picks_up_ask_workflow_and_playbook_evidence_and_then_only_new(dsystem):
    with dsystem.client() as lh:
        _record_evidence(lh)
        first = lh.distillation.run(RunRequest())
        by = {s.source: s for s in first.sources}
        assert by["ask"].scored >= 1 and by["workflow"].scored >= 1 and by["playbook"].scored >= 1, first
        assert first.version >= 1 and first.dataset == "distillation_scored" and first.scorer_version == "v1"
        assert {c.category for c in by["ask"].categories} == {GOLD}
        assert {c.category for c in by["playbook"].categories} == {SILVER}
        rows = lh.sql("SELECT source, count(*) AS n FROM distillation_scored GROUP BY source ORDER BY source").rows
        assert [r[0] for r in rows] == ["ask", "playbook", "workflow"]
        ask_row = lh.sql("SELECT query, answer, scorer_version FROM distillation_scored WHERE source = 'ask'").rows[0]
        assert ask_row[0] == QUESTION and "maria.pdf" in ask_row[1] and ask_row[2] == "v1"
        again = lh.distillation.run(RunRequest())
        assert again.scored == 0 and again.version == 0
        assert all(s.watermark_after == s.watermark_before for s in again.sources)
    r = httpx.post(f"{dsystem.rest}/v1/distillation/runs", json={"sources": ["playbook"]}, timeout=60)
    assert r.status_code == 200, r.text
    assert int(r.json()["scored"]) == 0 and [s["source"] for s in r.json()["sources"]] == ["playbook"]


def test_export_through_the_firewall_is_deterministic(dsystem):
    with dsystem.client() as lh:
        lh.ask("welder with MIG welding experience in TX")  # a second Ask run, scored below
        lh.distillation.run(RunRequest(sources=("ask",)))
        near_duplicate = EvalItem("heldout-7", "Forklift operator with OSHA-30 in Illinois")
        unrelated = EvalItem("heldout-8", "registered nurse with ICU experience in Alaska")
        out = lh.distillation.export(ExportRequest(min_category=SILVER, eval_items=(near_duplicate, unrelated)))
        again = lh.distillation.export(ExportRequest(min_category=SILVER, eval_items=(near_duplicate, unrelated)))
    assert out.jsonl == again.jsonl and out.sha256 == again.sha256 and out.key == again.key
    excluded = {x.record_id: x for x in out.excluded}
    assert excluded and all(x.eval_id == "heldout-7" and x.field == "query" for x in excluded.values())
    lines = [json.loads(line) for line in out.jsonl.decode().splitlines()]
    assert len(lines) == out.exported and [line["metadata"]["record_id"] for line in lines] == list(out.record_ids)
    assert not set(out.record_ids) & set(excluded)
    assert all(QUESTION not in line["messages"][0]["content"] for line in lines)
    assert out.scorer_versions == ("v1",) and out.considered == out.exported + len(out.excluded)
    # The provenance row, and the file in the lake bucket.
    with dsystem.client() as lh:
        rows = lh.sql(f"SELECT exported, record_ids FROM distillation_exports WHERE sha256 = '{out.sha256}'").rows
        assert rows and json.loads(rows[0][1]) == list(out.record_ids)
        assert b"".join(lh.get_object("lake", out.key)) == out.jsonl
    body = httpx.post(
        f"{dsystem.rest}/v1/distillation/export",
        json={
            "min_category": "silver",
            "eval_items": [
                {"id": "heldout-7", "text": near_duplicate.text},
                {"id": "heldout-8", "text": unrelated.text},
            ],
        },
        timeout=30,
    ).json()
    assert base64.b64decode(body["jsonl"]) == out.jsonl and body["excluded"][0]["eval_id"] == "heldout-7"


def test_the_g35a_gate_bumping_the_scorer_version_drifts_the_history(dsystem):
    with dsystem.client() as lh:
        lh.distillation.run(RunRequest())
        same = lh.distillation.drift(DriftRequest())
        assert same.total >= 3 and same.drifted == 0 and same.scorer_version == "v1"
    dsystem.env["LAKEHOUSE_DISTILLATION__SCORER_VERSION"] = "v2"  # changed rules, a new version
    dsystem.restart()
    try:
        with dsystem.client() as lh:
            report = lh.distillation.drift(DriftRequest(include_entries=True))
            assert report.scorer_version == "v2" and report.persisted_versions == ("v1",)
            assert report.total == same.total and report.drifted > 0
            assert (report.shifts[0].from_category, report.shifts[0].to_category) == (GOLD, SILVER)
            assert [e.record_id for e in report.entries] == sorted(e.record_id for e in report.entries)
            assert len(report.entries) == report.drifted
            rows = lh.sql("SELECT scorer_version, total, drifted, shifts FROM drift_scorer ORDER BY time").rows
            assert [(r[0], r[2]) for r in rows][-2:] == [("v1", 0), ("v2", report.drifted)]
            assert json.loads(rows[-1][3])[0] == {"count": report.shifts[0].count, "from": GOLD, "to": SILVER}
        r = httpx.post(f"{dsystem.rest}/v1/drift/scorer", json={}, timeout=30)
        assert r.status_code == 200, r.text
        shifts = r.json()["shifts"]
        counts = [(-int(s["count"]), s["from_category"], s["to_category"]) for s in shifts]
        assert counts == sorted(counts) and r.json()["entries"] == []
        cli = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "distill", "drift"],
            capture_output=True,
            text=True,
            env={**os.environ, **dsystem.env},
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert f"{report.drifted} of {report.total} drifted under v2" in cli.stdout
    finally:
        dsystem.env["LAKEHOUSE_DISTILLATION__SCORER_VERSION"] = "v1"
