"""Workflows end to end on a real system (one server process, Envoy in front, the fake LLM):
the shipped examples over gRPC (architect-review against the fake LLM, the knowledge check
over an ingested document, the staffing placement through matrix search and playbooks),
their provenance in the observer, REST run/list/get with bad input as 400s, a node timeout,
the LLM provider down, streaming, the CLI, and a past run after a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from lakehouse.api import workflows as w
from lakehouse.api.errors import InvalidArgument, NotFound
from tests.support.documents import ANA, JOHN, MARIA, pdf, zip_of
from tests.support.fake_llm import FakeLLM
from tests.support.system import System
from tests.support.workflows import workflow

pytestmark = pytest.mark.integration

DATASET = "wf_docs"
CORPUS = "wf_resumes"
JOB_ORDER = "Forklift operator with OSHA-30 in IL"
CLI_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def fake():
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(scope="module")
def wsystem(tmp_path_factory, fake):
    env = {
        "LAKEHOUSE_MODELS__OLLAMA_URL": fake.url,
        "LAKEHOUSE_MODELS__CHAT_MODEL": "fake-model",
        "LAKEHOUSE_MODELS__HTTP_RETRIES": "1",
        "LAKEHOUSE_MODELS__HTTP_TIMEOUT_S": "5",
    }
    system = System.start(tmp_path_factory.mktemp("workflows-home"), env)
    with system.client() as lh:
        archive = zip_of({"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN), "ana.pdf": pdf(ANA)})
        assert lh.ingest(DATASET, archive, format="zip", embed={"embed_corpus": CORPUS}).rows == 3
    yield system
    system.stop()


@pytest.fixture(autouse=True)
def _fresh_fake(fake):
    fake.reset()
    fake.reply = "The design has a single writer."
    yield


def test_architect_review_chains_three_prompts_against_the_fake_llm(wsystem, fake):
    # One reply for every node: changing it between nodes raced the next node's request.
    fake.reply = "Three services share one database."
    seen_prompts = []
    with wsystem.client() as lh:
        events = lh.run_workflow_stream(
            "architect-review", inputs={"design": "An order service and a billing service."}
        )
        run = None
        for event in events:
            if isinstance(event, w.RunFinished):
                run = event.run
        assert run is not None and run.status == w.SUCCEEDED, run.error
        chats = [r.body["messages"][-1]["content"] for r in fake.requests if r.path == "/api/chat"]
        seen_prompts.extend(chats)
        assert len(chats) == 3
        assert "An order service and a billing service." in chats[0]
        assert "Three services share one database." in chats[1]  # shape -> weakness
        assert "Three services share one database." not in chats[0]
        assert "Three services share one database." in chats[2]  # weakness -> improvement
        assert run.node("improvement").output == {"text": "Three services share one database."}
        assert [op.method for op in run.ops] == ["prompt"] * 3 and {op.source for op in run.ops} == {"workflow"}
        # The observer recorded them too, findable by run.
        recorded = lh.list_ops(run_id=run.run_id).ops
        assert {op.node_id for op in recorded} == {"shape", "weakness", "improvement"}
        assert all(op.workflow == "architect-review" and op.source == "workflow" for op in recorded)


def test_the_knowledge_workflow_over_an_ingested_document(wsystem):
    with wsystem.client() as lh:
        run = lh.run_workflow("knowledge-review", inputs={"dataset": DATASET, "file_name": "maria.pdf"})
    assert run.status == w.SUCCEEDED, run.error
    agreed = {(f["kind"], f["value"]) for f in run.node("consensus").output["agreed"]}
    assert {("certification", "OSHA-30"), ("email", "maria.lopez@example.com"), ("state", "IL")} <= agreed
    assert run.node("hallucination").output["unsupported_count"] == 0
    report = run.node("render").output["text"]
    assert report.startswith("# Fact check: maria.pdf") and "certification: OSHA-30 (2 passes)" in report
    assert [n.node_id for n in run.nodes] == [
        "document",
        "extract_terms",
        "extract_patterns",
        "validate",
        "hallucination",
        "consensus",
        "render",
    ]
    assert len(run.ops) == 7 and run.ops[0].attributes["output.rows"] == "1"


def test_the_staffing_workflow_records_a_placement_with_no_rpc_inside_the_run(wsystem):
    started = datetime.now(UTC)
    with wsystem.client() as lh:
        run = lh.run_workflow("staffing-placement", inputs={"job_order": JOB_ORDER, "corpus": CORPUS})
        assert run.status == w.SUCCEEDED, run.error
        clauses = run.node("filter").output["filter"]["$and"]
        assert {"state": "IL"} in clauses and {"certifications": "OSHA-30"} in clauses
        hits = run.node("search").output["hits"]
        assert hits and {h["metadata"]["file_name"] for h in hits} == {"maria.pdf"}
        best = run.node("relevance").output["best"]
        entry = run.node("record").output
        assert entry["item_id"] == best["id"] and entry["corpus"] == CORPUS and entry["outcome"] == "success"
        assert entry["metadata"]["run_id"] == run.run_id and entry["metadata"]["file_name"] == "maria.pdf"
        stored = lh.get_playbook_entry(entry["id"])
        assert stored.item_id == best["id"] and stored.source == "workflow:staffing-placement"
        # Dispatch was in-process: while the run ran, the only RPC recorded was the run itself.
        ops = lh.list_ops(since=started, limit=1000).ops
        during = [op for op in ops if op.time <= run.finished]
        rpcs = {f"{op.service}/{op.method}" for op in during if op.source != "workflow"}
        assert rpcs == {"lakehouse.v1.ObserverService/RunWorkflow"}, rpcs
        nodes = {op.node_id for op in during if op.run_id == run.run_id}
        assert nodes == {"filter", "search", "relevance", "truth", "record"}


def test_a_node_timeout_skips_downstream_and_the_run_reports_it(wsystem, fake):
    fake.mode = "stall"  # the stream stops after its first tokens
    text = workflow(
        "id: draft\nprompt: write something\nidle_timeout: 300",
        "id: polish\ndepends_on: [draft]\nprompt: 'polish: $draft.output'",
        "id: notify\ndepends_on: [draft]\ntrigger_rule: all_done\nmode: echo\nwith: {value: done}",
    )
    with wsystem.client() as lh:
        run = lh.run_workflow(yaml=text)
    draft = run.node("draft")
    assert draft.status == w.FAILED and draft.reason == w.NODE_TIMEOUT and "300 ms" in draft.error
    assert run.node("polish").status == w.SKIPPED and run.node("polish").reason == w.SKIPPED_TRIGGER_RULE
    assert run.node("notify").status == w.SUCCEEDED
    assert run.status == w.FAILED and "draft (NODE_TIMEOUT)" in run.error


def test_the_llm_provider_down_fails_the_node_with_a_reason_and_the_run_completes(wsystem, fake):
    fake.fail_next(50, status=503)
    with wsystem.client() as lh:
        run = lh.run_workflow(yaml=workflow("id: a\nprompt: hello", "id: b\ndepends_on: [a]\nprompt: '$a.output'"))
    a = run.node("a")
    assert a.status == w.FAILED and a.reason.startswith("CHAT_PROVIDER") and "UNAVAILABLE" in a.error
    assert run.node("b").status == w.SKIPPED
    assert run.status == w.FAILED and run.finished is not None
    assert run.ops[0].code == "UNAVAILABLE"


def test_bad_workflows_are_invalid_argument_over_grpc(wsystem):
    with wsystem.client() as lh:
        with pytest.raises(InvalidArgument) as syntax:
            lh.run_workflow(yaml="name: t\ndescription: d\nnodes:\n  - id: a\n    mode: [echo\n")
        assert syntax.value.reason == w.WORKFLOW_YAML_SYNTAX and syntax.value.metadata["line"] == "6"
        with pytest.raises(InvalidArgument) as ref:
            lh.run_workflow(yaml=workflow("id: a\nmode: echo\nwith: {value: 1}", "id: b\nprompt: '$a.output'"))
        assert ref.value.reason == w.WORKFLOW_BAD_REFERENCE
        assert ref.value.violations[0].field == "nodes.b.prompt" and "'a' is not upstream of 'b'" in ref.value.message
        with pytest.raises(NotFound):
            lh.get_workflow_run("f" * 32)
        with pytest.raises(NotFound):
            lh.run_workflow("no-such-workflow")


def _violations(body: dict) -> dict[str, str]:
    (bad,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return {v["field"]: v["description"] for v in bad["field_violations"]}


def test_rest_run_list_and_get(wsystem):
    rest = wsystem.rest
    listed = httpx.get(f"{rest}/v1/observer/workflow/list", timeout=30)
    assert listed.status_code == 200, listed.text
    names = {x["name"]: x for x in listed.json()["workflows"]}
    assert {"architect-review", "knowledge-review", "staffing-placement"} <= set(names)
    assert names["knowledge-review"]["origin"] == "example"
    body = {"name": "knowledge-review", "inputs": {"dataset": DATASET, "file_name": "ana.pdf"}}
    ran = httpx.post(f"{rest}/v1/observer/workflow/run", json=body, timeout=60)
    assert ran.status_code == 200, ran.text
    run = ran.json()
    assert run["status"] == "succeeded" and len(run["nodes"]) == 7 and len(run["ops"]) == 7
    assert {op["source"] for op in run["ops"]} == {"workflow"} and run["ops"][0]["run_id"] == run["run_id"]
    agreed = {f["value"] for f in next(n for n in run["nodes"] if n["node_id"] == "consensus")["output"]["agreed"]}
    assert "OSHA-10" in agreed
    got = httpx.get(f"{rest}/v1/observer/workflow/runs/{run['run_id']}", timeout=30)
    assert got.status_code == 200 and got.json()["nodes"] == run["nodes"]
    missing = httpx.get(f"{rest}/v1/observer/workflow/runs/{'0' * 32}", timeout=30)
    assert missing.status_code == 404
    # The workflow ops show in the observer's statistics.
    stats = httpx.get(f"{rest}/v1/observer/stats", params={"source": "workflow"}, timeout=30).json()
    methods = {m["method"] for m in stats["methods"]}
    assert {"sql.query", "text.extract", "facts.consensus"} <= methods


def test_rest_stream_sends_node_events_then_the_run(wsystem):
    body = {
        "yaml": workflow("id: a\nmode: echo\nwith: {value: 1}", "id: b\ndepends_on: [a]\nprompt: 'say $a.output.value'")
    }
    r = httpx.post(f"{wsystem.rest}/v1/observer/workflow/run:stream", json=body, timeout=60)
    assert r.status_code == 200, r.text
    events = r.json()
    nodes = [(e["node"]["node_id"], e["node"]["status"]) for e in events if "node" in e]
    assert nodes == [("a", "running"), ("a", "succeeded"), ("b", "running"), ("b", "succeeded")]
    assert events[-1]["run"]["status"] == "succeeded" and {e["run_id"] for e in events} == {events[-1]["run"]["run_id"]}


@pytest.mark.parametrize(
    ("body", "reason", "field", "words"),
    [
        ({"yaml": "name: t\ndescription: d\nnodes: [\n"}, w.WORKFLOW_YAML_SYNTAX, "yaml", "line 4, column 1"),
        (
            {"yaml": workflow("id: a\ndepends_on: [b]\nprompt: x", "id: b\ndepends_on: [a]\nprompt: y")},
            w.WORKFLOW_CYCLE,
            "nodes.a.depends_on",
            "cycle: a -> b -> a",
        ),
        ({"yaml": workflow("id: a\nmode: nosuch.mode")}, w.WORKFLOW_UNKNOWN_MODE, "nodes.a.mode", "unknown mode"),
        (
            {"yaml": workflow("id: a\nmode: vector.search\nwith: {corpus: c, text: t, k: many}")},
            w.WORKFLOW_INVALID_WITH,
            "nodes.a.with.k",
            "not of type 'integer'",
        ),
        ({"name": "architect-review"}, w.WORKFLOW_MISSING_INPUT, "inputs.design", "required"),
    ],
)
def test_rest_bad_input_is_400_with_details(wsystem, body, reason, field, words):
    r = httpx.post(f"{wsystem.rest}/v1/observer/workflow/run", json=body, timeout=30)
    assert r.status_code == 400, r.text
    payload = r.json()
    (info,) = [d for d in payload["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert info["reason"] == reason
    assert words in _violations(payload)[field]


def test_a_node_above_the_limit_is_refused_over_rest(wsystem):
    nodes = [f"id: n{i}\nmode: echo\nwith: {{value: {i}}}" for i in range(257)]
    r = httpx.post(f"{wsystem.rest}/v1/observer/workflow/run", json={"yaml": workflow(*nodes)}, timeout=30)
    assert r.status_code == 400 and "at most 256" in r.text


def _cli(system: System, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **system.env}
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
    )


def test_the_cli_lists_runs_and_shows(wsystem, fake, tmp_path):
    listed = _cli(wsystem, "workflow", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("knowledge-review ") for line in listed.stdout.splitlines())
    fake.reply = "It is a monolith."
    ran = _cli(wsystem, "workflow", "run", "architect-review", "--input", "design=one big service", "--json")
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "succeeded"
    assert "  shape: running (prompt)" in ran.stderr and "  improvement: succeeded in" in ran.stderr
    shown = _cli(wsystem, "workflow", "show", run["run_id"])
    assert shown.returncode == 0 and f"run {run['run_id']} of architect-review: succeeded" in shown.stdout
    assert "It is a monolith." in shown.stdout
    path = tmp_path / "failing.yaml"
    path.write_text(workflow("id: a\nmode: sql.query\nwith: {sql: 'SELECT * FROM no_such_table'}", name="from-file"))
    failed = _cli(wsystem, "workflow", "run", str(path))
    assert failed.returncode == 1 and "a: failed" in failed.stderr and "of from-file: failed" in failed.stdout
    refused = _cli(wsystem, "workflow", "run", "architect-review")
    assert refused.returncode == 1 and "WORKFLOW_MISSING_INPUT" in refused.stderr


def test_a_past_run_survives_a_restart(wsystem):
    with wsystem.client() as lh:
        run = lh.run_workflow("knowledge-review", inputs={"dataset": DATASET, "file_name": "john.pdf"})
    wsystem.restart()
    with wsystem.client() as lh:
        again = lh.get_workflow_run(run.run_id)
    assert again.status == run.status and [n.output for n in again.nodes] == [n.output for n in run.nodes]
