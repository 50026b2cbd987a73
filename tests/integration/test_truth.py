"""Truth rules end to end on a real system (one server process, Envoy in front): the
shipped staffing rules over an ingested résumé dataset (gRPC and REST, the report in the
lake), a record check, bad rule files and a rule naming a missing column as 400s with
positions, Ask flagging a candidate that breaks a rule, the staffing workflow flagging
the placement it records, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from lakehouse.api import truth as t
from lakehouse.api import workflows as w
from lakehouse.api.errors import UNKNOWN_COLUMN, InvalidArgument
from lakehouse.api.truth import CheckRequest
from lakehouse.demo.resumes import Resume
from tests.support.documents import ANA, JOHN, MARIA, pdf, zip_of
from tests.support.system import System

pytestmark = pytest.mark.integration

DATASET = "truth_resumes"
CORPUS = "truth_corpus"
JOB_ORDER = "Forklift operator with OSHA-30 in IL"
CLI_TIMEOUT_S = 120
LUIS = Resume(
    name="Luis Ortega",
    city="Chicago",
    state="IL",
    zip_code="60601",
    email="luis.ortega@example.com",
    phone="312-555-0142",
    roles=("forklift operator",),
    certifications=("OSHA-10", "Forklift certified"),
    skills=("pallet jack",),
    years=2,
)


@pytest.fixture(scope="module")
def tsystem(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("truth-home"))
    with system.client() as lh:
        archive = zip_of({"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN), "ana.pdf": pdf(ANA), "luis.pdf": pdf(LUIS)})
        assert lh.ingest(DATASET, archive, format="zip", embed={"embed_corpus": CORPUS}).rows == 4
    yield system
    system.stop()


@pytest.fixture(scope="module")
def files(tsystem) -> dict[str, str]:
    """doc_id -> file name."""
    with tsystem.client() as lh:
        table = lh.query(f"SELECT doc_id, file_name FROM {DATASET}")
    return dict(zip(table["doc_id"].to_pylist(), table["file_name"].to_pylist(), strict=True))


def _info(body: dict) -> dict:
    return next(d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo"))


def test_the_staffing_rules_over_the_resume_dataset_over_grpc(tsystem, files):
    with tsystem.client() as lh:
        result = lh.truth.check(CheckRequest(rule_set="staffing", dataset=DATASET))
        assert result.records == 4 and result.dataset == DATASET and result.dataset_version == 1
        broken = [(v.rule_id, files[v.key]) for v in result.violations]
        # Maria and Luis are forklift operators; only Luis holds a forklift certification.
        # Maria's OSHA-30 meets IL's OSHA-10 requirement (it supersedes it).
        assert broken == [("forklift-certification", "maria.pdf")], broken
        counts = {c.rule_id: (c.applicable, c.violations) for c in result.counts}
        assert counts == {
            "forklift-certification": (2, 1),
            "il-state-valid-certification": (2, 0),
            "welder-aws-certification": (1, 0),
            "known-state": (4, 0),
        }
        assert result.report_dataset == "truth_reports" and result.report_version >= 1
        report = lh.query(
            "SELECT rule_id, applicable, violations, dataset, dataset_version FROM truth_reports "
            "WHERE rule_id = 'forklift-certification' ORDER BY checked_at DESC LIMIT 1"
        ).to_pylist()
        assert report == [
            {
                "rule_id": "forklift-certification",
                "applicable": 2,
                "violations": 1,
                "dataset": DATASET,
                "dataset_version": 1,
            }
        ]
        listed = lh.truth.list_rule_sets()
        assert [(i.name, i.origin) for i in listed.rule_sets] == [("staffing", "example")] and not listed.invalid


def test_a_dataset_and_a_record_check_over_rest(tsystem, files):
    rest = tsystem.rest
    got = httpx.post(f"{rest}/v1/truth/check", json={"rule_set": "staffing", "dataset": DATASET}, timeout=60)
    assert got.status_code == 200, got.text
    body = got.json()
    assert [(v["rule_id"], files[v["key"]]) for v in body["violations"]] == [("forklift-certification", "maria.pdf")]
    assert body["violation_count"] == "1" and body["records"] == "4"  # int64 travels as a string
    candidate = {"doc_id": "c1", "state": "IL", "roles": ["forklift operator"], "certifications": ["First Aid"]}
    one = httpx.post(f"{rest}/v1/truth/check", json={"rule_set": "staffing", "record": candidate}, timeout=30)
    assert one.status_code == 200, one.text
    assert [(v["rule_id"], v["key"]) for v in one.json()["violations"]] == [
        ("forklift-certification", "c1"),
        ("il-state-valid-certification", "c1"),
    ]
    inline = "[[rules]]\nid = 'texas'\nwhen = 'state = \"TX\"'\nrequire = 'false'\n"
    got = httpx.post(
        f"{rest}/v1/truth/check", json={"rules": inline, "dataset": DATASET, "key": "file_name"}, timeout=60
    )
    assert got.status_code == 200 and [v["key"] for v in got.json()["violations"]] == ["john.pdf"]
    listed = httpx.get(f"{rest}/v1/truth/rulesets", timeout=30).json()
    assert listed["rule_sets"][0]["name"] == "staffing" and "forklift-certification" in listed["rule_sets"][0]["rules"]


def test_malformed_rules_are_400_with_their_position(tsystem):
    rest = tsystem.rest
    bad_toml = httpx.post(
        f"{rest}/v1/truth/check",
        json={"rules": '[[rules]]\nid = "r"\nrequire = "a = 1\n', "record": {}, "rules_source": "mine.toml"},
        timeout=30,
    )
    assert bad_toml.status_code == 400, bad_toml.text
    info = _info(bad_toml.json())
    assert info["reason"] == t.RULES_TOML_SYNTAX
    assert info["metadata"] == {"file": "mine.toml", "line": "3", "column": "17"}
    bad_rule = httpx.post(
        f"{rest}/v1/truth/check",
        json={"rules": "[[rules]]\nid = 'r'\nwhen = 'state in [\"IL\" \"WI\"]'\nrequire = 'true'\n", "record": {}},
        timeout=30,
    )
    assert bad_rule.status_code == 400
    info = _info(bad_rule.json())
    assert info["reason"] == t.RULE_SYNTAX
    assert {k: info["metadata"][k] for k in ("file", "rule", "line", "column")} == {
        "file": "inline",
        "rule": "r",
        "line": "3",
        "column": "24",
    }
    assert "expected , or ]" in bad_rule.json()["message"]
    with tsystem.client() as lh, pytest.raises(InvalidArgument) as caught:
        lh.truth.check(CheckRequest(rules="rules = 3\n", record={}))
    assert caught.value.reason == t.RULES_INVALID and caught.value.violations[0].field == "rules"
    neither = httpx.post(f"{rest}/v1/truth/check", json={"rule_set": "staffing"}, timeout=30)
    assert neither.status_code == 400 and _info(neither.json())["reason"] == t.TARGET_REQUIRED
    missing = httpx.post(f"{rest}/v1/truth/check", json={"rule_set": "nope", "record": {}}, timeout=30)
    assert missing.status_code == 404 and _info(missing.json())["reason"] == t.RULE_SET_NOT_FOUND


def test_a_rule_naming_a_missing_column_is_invalid_argument(tsystem):
    rules = "[[rules]]\nid = 'licensed'\nrequire = '\"Forklift\" in licences'\n"
    with tsystem.client() as lh, pytest.raises(InvalidArgument) as caught:
        lh.truth.check(CheckRequest(rules=rules, dataset=DATASET))
    assert caught.value.reason == UNKNOWN_COLUMN
    assert caught.value.metadata["rule"] == "licensed" and caught.value.metadata["column"] == "licences"
    got = httpx.post(f"{tsystem.rest}/v1/truth/check", json={"rules": rules, "dataset": DATASET}, timeout=30)
    assert got.status_code == 400 and _info(got.json())["reason"] == UNKNOWN_COLUMN
    assert "licences" in got.json()["message"] and "licensed" in got.json()["message"]


def test_ask_flags_the_candidate_that_breaks_a_rule(tsystem):
    with tsystem.client() as lh:
        answer = lh.ask(JOB_ORDER, corpora=[CORPUS], truth_rules="staffing")
        plain = lh.ask(JOB_ORDER, corpora=[CORPUS])
    flagged = {c.file_name: [v.rule_id for v in c.violations] for c in answer.candidates}
    assert flagged["maria.pdf"] == ["forklift-certification"], flagged
    assert all(v.key for c in answer.citations for v in c.violations)
    maria = [c for c in answer.citations if c.file_name == "maria.pdf"]
    assert maria and all([v.rule_id for v in c.violations] == ["forklift-certification"] for c in maria)
    assert not any(c.violations for c in plain.citations) and not any(c.violations for c in plain.candidates)
    body = {"question": JOB_ORDER, "corpora": [CORPUS], "truth_rules": "staffing"}
    rest = httpx.post(f"{tsystem.rest}/v1/ask", json=body, timeout=60)
    assert rest.status_code == 200, rest.text
    candidate = next(c for c in rest.json()["candidates"] if c["file_name"] == "maria.pdf")
    assert [v["rule_id"] for v in candidate["violations"]] == ["forklift-certification"]


def test_the_staffing_workflow_flags_the_placement_it_records(tsystem):
    with tsystem.client() as lh:
        run = lh.run_workflow("staffing-placement", inputs={"job_order": JOB_ORDER, "corpus": CORPUS})
        assert run.status == w.SUCCEEDED, run.error
        assert [n.node_id for n in run.nodes] == ["filter", "search", "relevance", "truth", "record"]
        best = run.node("relevance").output["best"]
        check = run.node("truth").output
        assert best["metadata"]["file_name"] == "maria.pdf"
        assert check["rule_ids"] == ["forklift-certification"] and not check["ok"] and check["records"] == 1
        entry = run.node("record").output
        assert entry["item_id"] == best["id"]
        assert entry["metadata"]["truth_ok"] is False
        assert entry["metadata"]["truth_violations"] == ["forklift-certification"]
        stored = lh.get_playbook_entry(entry["id"])
        assert list(stored.metadata["truth_violations"]) == ["forklift-certification"]


def test_the_cli_checks_a_rule_file_against_a_record_and_a_dataset(tsystem, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("key = 'id'\n[[rules]]\nid = 'senior'\nwhen = 'state = \"IL\"'\nrequire = 'years >= 5'\n")
    env = {**os.environ, **tsystem.env}

    def cli(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "truth", "check", "--rules", str(rules), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )

    broken = cli("--record", json.dumps({"id": "w1", "state": "IL", "years": 2}), "--json")
    assert broken.returncode == 3, broken.stderr
    assert [v["key"] for v in json.loads(broken.stdout)["violations"]] == ["w1"]
    fine = cli("--record", json.dumps({"id": "w2", "state": "IL", "years": 9}))
    assert fine.returncode == 0 and fine.stdout.startswith("0 violations of rule set inline in 1 records")
    unknown = cli("--dataset", DATASET)
    assert unknown.returncode == 1 and "UNKNOWN_COLUMN" in unknown.stderr and "years" in unknown.stderr
    rules.write_text("[[rules]]\nid = 'r'\nrequire = 'a ='\n")
    bad = cli("--record", "{}")
    assert bad.returncode == 1 and f"{rules}: rule 'r' require, line 3, column 15" in bad.stderr
