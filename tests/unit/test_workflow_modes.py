"""The mode catalog: registration, the deterministic fact-check modes, SQL parameter
binding, and the service modes over stand-in APIs (their calls and their reshaped output)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lakehouse.api import workflows as w
from lakehouse.api.errors import InvalidArgument
from lakehouse.api.matrix import (
    CorpusListing,
    CorpusStats,
    HostedCorpus,
    MatrixHit,
    MatrixResult,
    PlaybookEntry,
    Verdict,
)
from lakehouse.api.query import Rows
from lakehouse.api.vector import CorpusInfo
from lakehouse.api.workflows import RunRequest
from lakehouse.servers.settings import Settings
from lakehouse.servers.workflows.builtin import bind
from lakehouse.servers.workflows.core import EXAMPLES_DIR
from lakehouse.servers.workflows.modes import Mode, ModeCatalog, ModeContext, default_catalog
from tests.support.workflows import make_core, services, workflow

SOURCE = (
    "Maria Lopez\nJoliet, IL 60431\nmaria.lopez@example.com\n(815) 555-0134\nCERTIFICATIONS\nOSHA-30\nFirst Aid\n"
    "SUMMARY\n7 years as a forklift operator.\nEXPERIENCE\nForklift Operator - Midwest Logistics\n"
    "SKILLS\npallet jack, RF scanner"
)
CATALOG = default_catalog()


def call(name: str, args: dict, **apis) -> dict:
    settings = Settings()
    ctx = ModeContext(services(settings, **apis), workflow="t", run_id="r" * 32, node_id="n")
    mode = CATALOG.get(name)
    assert mode is not None and not list(mode.validator.iter_errors(args)), list(mode.validator.iter_errors(args))
    return dict(mode.fn(ctx, args))


# Catalog -----------------------------------------------------------------------------


def test_the_shipped_catalog():
    assert set(CATALOG.names()) >= {
        "matrix.search",
        "matrix.relevance",
        "matrix.downgrade",
        "playbook.record",
        "playbook.lookup",
        "sql.query",
        "vector.search",
        "llm.chat",
        "text.extract",
        "facts.validate",
        "facts.hallucination",
        "facts.consensus",
        "text.render",
        "filter.derive",
    }
    assert all(m.description for m in CATALOG)


def test_adding_a_mode_is_one_registration(tmp_path):
    catalog = default_catalog()

    @catalog.register(
        "drift.example", {"type": "object", "properties": {"baseline": {"type": "number"}}, "required": ["baseline"]}
    )
    def drift(ctx, a):
        """How far today is from the baseline."""
        return {"drift": 1.0 - a["baseline"]}

    core, _ = make_core(tmp_path, catalog=catalog)
    result = core.run(RunRequest(yaml=workflow("id: d\nmode: drift.example\nwith: {baseline: 0.25}")))
    assert result.node("d").output == {"drift": 0.75}
    with pytest.raises(ValueError, match="twice"):
        catalog.add(Mode("drift.example", drift, {"type": "object"}))
    assert "drift.example" not in default_catalog().names()  # a copy: the shipped catalog is untouched
    with pytest.raises(Exception, match="is not valid"):
        ModeCatalog().add(Mode("bad", drift, {"type": "nonsense"}))


# Fact-check modes --------------------------------------------------------------------


def test_extract_with_the_vocabulary_cites_verbatim_sentences():
    out = call("text.extract", {"text": SOURCE, "rules": "vocabulary"})
    facts = {(c["kind"], c["value"]) for c in out["claims"]}
    assert {("certification", "OSHA-30"), ("role", "forklift operator"), ("state", "IL"), ("city", "Joliet")} <= facts
    assert ("email", "maria.lopez@example.com") in facts and ("years_experience", "7") in facts
    assert all(c["evidence"] in SOURCE and c["pass"] == "vocabulary" for c in out["claims"])
    assert len(facts) == out["count"]  # unique by kind and value


def test_extract_with_patterns():
    rules = [
        {"kind": "certification", "pattern": r"\b(OSHA[- ]?\d+)\b"},
        {"kind": "email", "pattern": r"\S+@\S+", "group": 0},
    ]
    out = call("text.extract", {"text": SOURCE, "rules": rules})
    assert [(c["kind"], c["value"]) for c in out["claims"]] == [
        ("email", "maria.lopez@example.com"),
        ("certification", "OSHA-30"),
    ]
    assert out["pass"] == "patterns"


def test_a_pattern_that_is_not_a_regular_expression_is_refused_at_load():
    with pytest.raises(InvalidArgument) as info:
        make_core_parse(
            workflow("id: x\nmode: text.extract\nwith: {text: t, rules: [{kind: k, pattern: '(unclosed'}]}")
        )
    assert info.value.reason == w.WORKFLOW_INVALID_WITH and "regex" in info.value.message


def make_core_parse(text):
    from lakehouse.servers.settings import WorkflowSettings
    from lakehouse.servers.workflows.schema import parse_workflow

    return parse_workflow(text, CATALOG, WorkflowSettings())


def test_validate_keeps_good_claims_and_says_why_for_the_rest():
    claims = [
        {"kind": "email", "value": "maria.lopez@example.com", "evidence": "maria.lopez@example.com"},
        {"kind": "email", "value": "not-an-email", "evidence": "x"},
        {"kind": "salary", "value": "90k", "evidence": "x"},
        {"kind": "state", "value": "", "evidence": "x"},
    ]
    out = call(
        "facts.validate",
        {
            "claims": claims,
            "kinds": ["email", "state", "certification"],
            "required_kinds": ["certification"],
            "patterns": {"email": r"[^@\s]+@[^@\s]+\.\w+"},
        },
    )
    assert out["passes"] == [[claims[0]]]
    assert [i["why"] for i in out["invalid"]] == [
        "'not-an-email' does not match the email pattern '[^@\\\\s]+@[^@\\\\s]+\\\\.\\\\w+'",
        "kind 'salary' is not one of ['certification', 'email', 'state']",
        "empty value",
    ]
    assert out["missing_kinds"] == ["certification"] and not out["ok"]


def test_the_hallucination_check_rejects_a_claim_the_source_does_not_say():
    extracted = call("text.extract", {"text": SOURCE, "rules": "vocabulary"})["claims"]
    fabricated = [
        {"kind": "certification", "value": "CDL-A", "evidence": "OSHA-30"},  # real evidence, wrong value
        {"kind": "role", "value": "welder", "evidence": "10 years as a welder."},  # evidence not in the source
        {"kind": "skill", "value": "forklift"},  # no evidence: looked for in the source
        {"kind": "skill", "value": "TIG welding"},
    ]
    out = call("facts.hallucination", {"passes": [extracted, fabricated], "source": SOURCE})
    assert out["passes"][0] == extracted  # every extracted claim is grounded
    assert out["passes"][1] == [fabricated[2]]
    assert [(u["value"], u["why"]) for u in out["unsupported"]] == [
        ("CDL-A", "its evidence does not say 'CDL-A'"),
        ("welder", "its evidence is not a passage of the source"),
        ("TIG welding", "'TIG welding' does not appear in the source"),
    ]
    assert out["unsupported_count"] == 3 and not out["ok"]


def test_consensus_keeps_what_enough_passes_agree_on():
    a = [{"kind": "certification", "value": "OSHA-30"}, {"kind": "state", "value": "IL"}]
    b = [{"kind": "certification", "value": "osha 30"}, {"kind": "email", "value": "m@x.com"}]
    out = call("facts.consensus", {"passes": [a, b]})
    assert out["min_votes"] == 2
    assert [(x["value"], x["votes"], x["passes"]) for x in out["agreed"]] == [("OSHA-30", 2, [0, 1])]
    assert [x["value"] for x in out["disputed"]] == ["IL", "m@x.com"]
    assert call("facts.consensus", {"passes": [a, b], "min_votes": 1})["agreed_count"] == 3


def test_render_writes_markdown_and_refuses_unknown_fields():
    out = call(
        "text.render",
        {
            "title": "Report",
            "intro": "Two facts.",
            "sections": [
                {
                    "heading": "Agreed",
                    "items": [{"kind": "state", "value": "IL", "votes": 2}],
                    "format": "{kind}={value} ({votes})",
                },
                {"heading": "None here", "items": [], "empty": "(nothing)"},
                {"heading": "Plain", "items": ["one", {"kind": "k", "value": "v"}]},
            ],
        },
    )
    assert out["text"] == (
        "# Report\n\nTwo facts.\n\n## Agreed\n\n- state=IL (2)\n\n"
        "## None here\n\n(nothing)\n\n## Plain\n\n- one\n- k: v\n"
    )
    with pytest.raises(InvalidArgument, match="has no field 'nope'"):
        call("text.render", {"title": "x", "sections": [{"heading": "h", "items": [{"a": 1}], "format": "{nope}"}]})
    with pytest.raises(InvalidArgument, match="name a field"):
        call(
            "text.render",
            {"title": "x", "sections": [{"heading": "h", "items": [{"a": 1}], "format": "{a.__class__}"}]},
        )


def test_the_knowledge_example_on_a_stand_in_query(tmp_path):
    class Documents:
        def __init__(self):
            self.sql = []

        def rows(self, sql, *, max_rows=0, timeout_s=None, query_id=""):
            self.sql.append(sql)
            return Rows(
                [("doc_id", "VARCHAR"), ("file_name", "VARCHAR"), ("text", "VARCHAR")],
                [["d1", "maria.pdf", SOURCE]],
                False,
            )

        def cancel(self, query_id):
            return None

    query = Documents()
    core, recorder = make_core(tmp_path, query=query)
    result = core.run(RunRequest(name="knowledge-review", inputs={"dataset": "docs", "file_name": "maria's.pdf"}))
    assert result.status == w.SUCCEEDED, result.error
    assert query.sql == ["SELECT doc_id, file_name, text FROM docs WHERE file_name = 'maria''s.pdf'"]
    agreed = {(f["kind"], f["value"]) for f in result.node("consensus").output["agreed"]}
    assert {("certification", "OSHA-30"), ("email", "maria.lopez@example.com"), ("state", "IL")} <= agreed
    assert result.node("hallucination").output["unsupported_count"] == 0
    report = result.node("render").output["text"]
    assert report.startswith("# Fact check: maria's.pdf") and "- certification: OSHA-30 (2 passes)" in report
    # one op per node execution; nodes of one layer run concurrently, so ops arrive in any order
    assert sorted(op.node_id for op in recorder.ops) == sorted(n.node_id for n in result.nodes)


def test_sql_parameters_are_bound_as_literals():
    assert bind("SELECT * FROM t WHERE a = :a AND b = :b AND c = :c", {"a": "o'x", "b": 3, "c": None}) == (
        "SELECT * FROM t WHERE a = 'o''x' AND b = 3 AND c = NULL"
    )
    assert (
        bind("SELECT x::INT, ':a' FROM t WHERE \":a\" = :a", {"a": True})
        == "SELECT x::INT, ':a' FROM t WHERE \":a\" = TRUE"
    )
    with pytest.raises(InvalidArgument, match=":missing; give it in params"):
        bind("SELECT :missing", {"other": 1})


# Service modes ------------------------------------------------------------------------


def _hit(i: int, corpus: str = "resumes") -> MatrixHit:
    return MatrixHit(
        corpus, f"doc{i}#0", 0.9 - i / 10, 0.9 - i / 10, i + 1, 1, {"doc_id": f"doc{i}", "state": "IL"}, f"text {i}"
    )


class Matrix:
    def __init__(self):
        self.requests, self.entries, self.candidates = [], [], []

    def search(self, request):
        self.requests.append(request)
        return MatrixResult(
            [_hit(0), _hit(1)], [CorpusStats("resumes", "local", True, 2)], 3, "composed", False, "kept", [], False
        )

    def filter_relevance(self, text, candidates, *, threshold=None, margin=None, embedding_model=""):
        self.candidates.append(list(candidates))
        return [Verdict(0, True, 0.7), Verdict(1, False, 0.1, "below_threshold")]

    def record_entry(self, entry):
        self.entries.append(entry)
        return PlaybookEntry(**{**entry.__dict__, "id": "e1", "score": 1.0, "time": datetime(2026, 1, 2, tzinfo=UTC)})

    def list_corpora(self):
        now = datetime.now(UTC)
        infos = [
            CorpusInfo(n, 8, "cosine", 16, 40, "hash/h8", 10, 0, 1, 0, (1,), 100, False, now, tags=tags)
            for n, tags in (("resumes", ("primary",)), ("jobs", ()))
        ]
        return CorpusListing([HostedCorpus(i, "local") for i in infos], [])


def test_matrix_search_relevance_and_playbook_record(tmp_path):
    matrix = Matrix()
    out = call(
        "matrix.search",
        {"text": "forklift in IL", "corpora": ["resumes"], "k": 2, "filter": {"state": "IL"}},
        matrix=matrix,
    )
    (request,) = matrix.requests
    assert request.k == 2 and request.filter == {"state": "IL"} and request.corpora == ("resumes",)
    assert out["count"] == 2 and out["hits"][0]["metadata"]["doc_id"] == "doc0" and out["filtered_out"] == 3
    judged = call("matrix.relevance", {"text": "forklift", "candidates": out["hits"]}, matrix=matrix)
    assert [(c.corpus, c.id) for c in matrix.candidates[0]] == [("resumes", "doc0#0"), ("resumes", "doc1#0")]
    assert judged["kept_count"] == 1 and judged["best"]["id"] == "doc0#0" and judged["best"]["relevance"] == 0.7
    assert judged["dropped"][0]["why"] == "below_threshold"
    entry = call("playbook.record", {"query": "forklift", "corpus": "resumes", "item_id": "doc0#0"}, matrix=matrix)
    stored = matrix.entries[0]
    assert stored.source == "workflow:t" and stored.metadata == {"workflow": "t", "run_id": "r" * 32, "node_id": "n"}
    assert entry["id"] == "e1" and entry["time"] == "2026-01-02T00:00:00+00:00"


def test_relevance_refuses_a_candidate_it_cannot_score():
    with pytest.raises(InvalidArgument, match="candidates\\[0\\]"):
        call("matrix.relevance", {"text": "x", "candidates": [{"score": 1}]}, matrix=Matrix())


def test_the_downgrade_gate_for_strong_and_weak_models():
    strong = call("matrix.downgrade", {"model": "claude-sonnet", "corpora": ["resumes", "jobs"]}, matrix=Matrix())
    assert strong["downgraded"] and strong["mode"] == "isolation" and strong["corpora"] == ["resumes"]
    weak = call("matrix.downgrade", {"model": "qwen2.5:7b", "corpora": ["resumes", "jobs"]}, matrix=Matrix())
    assert not weak["downgraded"] and weak["weak"] and weak["weak_pattern"] == "qwen2.5:*"


def test_filter_derive_reads_a_job_order():
    out = call("filter.derive", {"text": "Forklift operator with OSHA-30 in IL"})
    assert out["derived"] and {"state": "IL"} in out["filter"]["$and"]
    assert out["certifications"] == ["OSHA-30"]
    assert call("filter.derive", {"text": "someone nice"}) == {
        "filter": None,
        "derived": False,
        "states": [],
        "certifications": [],
        "roles": [],
    }


def test_sql_query_names_its_query_so_a_stop_cancels_it():
    class Query:
        cancelled: list[str] = []

        def rows(self, sql, *, max_rows=0, timeout_s=None, query_id=""):
            self.seen = (sql, max_rows, timeout_s, query_id)
            return Rows([("n", "BIGINT")], [[1], [2]], True)

        def cancel(self, query_id):
            self.cancelled.append(query_id)

    query = Query()
    settings = Settings()
    ctx = ModeContext(services(settings, query=query), workflow="t", run_id="r" * 32, node_id="n", attempt=2)
    out = CATALOG.get("sql.query").fn(ctx, {"sql": "SELECT :v AS n", "params": {"v": 1}, "timeout_ms": 1500})
    assert out == {
        "columns": ["n"],
        "types": {"n": "BIGINT"},
        "rows": [{"n": 1}, {"n": 2}],
        "row_count": 2,
        "truncated": True,
    }
    assert query.seen == ("SELECT 1 AS n", settings.workflows.sql_max_rows, 1.5, f"workflow-{'r' * 32}-n-2")
    ctx.cancel()
    assert query.cancelled == [f"workflow-{'r' * 32}-n-2"]


def test_every_example_ships_with_the_package():
    assert {p.stem for p in EXAMPLES_DIR.glob("*.yaml")} == {
        "architect-review",
        "knowledge-review",
        "staffing-placement",
    }
