"""TruthCore over an in-process DuckDB standing in for the query API: record and dataset
checks agree, reports go to the lake through the ingest API, rule sets are found by name
(home over example), bad requests are clean errors; and the truth.check workflow mode."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api import truth as t
from lakehouse.api.errors import UNKNOWN_COLUMN, InvalidArgument, NotFound
from lakehouse.api.truth import CheckRequest
from lakehouse.servers.settings import Settings
from lakehouse.servers.truth.core import TruthCore
from lakehouse.servers.vocabulary import Vocabulary
from lakehouse.servers.workflows.modes import ModeContext, Services, default_catalog

CANDIDATES = [
    {"doc_id": "maria", "state": "IL", "roles": ["forklift operator"], "certifications": ["OSHA-30", "First Aid"]},
    {"doc_id": "luis", "state": "IL", "roles": ["forklift operator"], "certifications": ["OSHA-10", "Forklift"]},
    {"doc_id": "ana", "state": "WI", "roles": ["warehouse associate"], "certifications": ["OSHA-10", "Forklift"]},
    {"doc_id": "john", "state": "TX", "roles": ["welder"], "certifications": ["AWS Welding"]},
    {"doc_id": "pat", "state": "IL", "roles": ["welder"], "certifications": []},
    {"doc_id": "sam", "state": None, "roles": [], "certifications": None},
]
SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("state", pa.string()),
        ("roles", pa.list_(pa.string())),
        ("certifications", pa.list_(pa.string())),
    ]
)


class DuckQuery:
    """The QueryApi's stream over registered tables."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.con = duckdb.connect()
        for name, table in tables.items():
            self.con.register(name, table)
        self.statements: list[str] = []

    def stream(self, sql: str, **_):
        self.statements.append(sql)
        return self.con.sql(sql).to_arrow_reader()


@dataclass
class Written:
    version: int


class Ingest:
    def __init__(self) -> None:
        self.reports: list[tuple[str, pa.Table]] = []

    def ingest(self, spec, chunks):
        self.reports.append((spec.dataset, pq.read_table(io.BytesIO(b"".join(chunks)))))
        return Written(len(self.reports))


@pytest.fixture
def world(tmp_path: Path):
    settings = Settings(home=tmp_path)
    query = DuckQuery({"candidates": pa.Table.from_pylist(CANDIDATES, schema=SCHEMA)})
    ingest = Ingest()
    return TruthCore(settings, lambda: query, lambda: ingest), query, ingest, settings


def _pairs(result) -> list[tuple[str, str]]:
    return [(v.rule_id, v.key) for v in result.violations]


def test_a_dataset_check_and_record_checks_agree_and_the_counts_go_to_the_lake(world):
    core, query, ingest, _ = world
    dataset = core.check(CheckRequest(rule_set="staffing", dataset="candidates"))
    records = core.check(CheckRequest(rule_set="staffing", records=tuple(CANDIDATES)))
    expected = [
        ("forklift-certification", "maria"),
        ("il-state-valid-certification", "pat"),
        ("welder-aws-certification", "pat"),
        ("known-state", "sam"),
    ]
    assert _pairs(records) == expected
    assert sorted(_pairs(dataset)) == sorted(expected) and _pairs(dataset) == expected  # rule, then key order
    assert dataset.counts == records.counts and dataset.violation_count == records.violation_count == 4
    assert [(c.rule_id, c.applicable, c.violations) for c in dataset.counts] == [
        ("forklift-certification", 2, 1),
        ("il-state-valid-certification", 3, 1),
        ("welder-aws-certification", 2, 1),
        ("known-state", 6, 1),
    ]
    assert dataset.records == records.records == 6 and not dataset.truncated and not dataset.ok
    assert dataset.violations[0].severity == "error" and "forklift certification" in dataset.violations[0].description
    # One statement read the dataset (besides the schema probe), and the report was appended.
    assert len(query.statements) == 2 and query.statements[0].endswith("LIMIT 0")
    ((name, report),) = ingest.reports
    assert name == "truth_reports" and dataset.report_dataset == name and dataset.report_version == 1
    assert report.column("rule_id").to_pylist() == [c.rule_id for c in dataset.counts]
    assert report.column("violations").to_pylist() == [1, 1, 1, 1]
    assert set(report.column("dataset").to_pylist()) == {"candidates"} and len(set(report["check_id"])) == 1
    assert records.report_dataset == ""  # record checks write no report


def test_the_limit_bounds_the_list_not_the_counts(world):
    core, *_ = world
    result = core.check(CheckRequest(rule_set="staffing", dataset="candidates", limit=2))
    assert len(result.violations) == 2 and result.violation_count == 4 and result.truncated
    result = core.check(CheckRequest(rule_set="staffing", records=tuple(CANDIDATES), limit=1))
    assert len(result.violations) == 1 and result.violation_count == 4 and result.truncated


def test_one_record_before_a_placement(world):
    core, *_ = world
    result = core.check(CheckRequest(rule_set="staffing", record=CANDIDATES[0]))
    assert result.records == 1 and _pairs(result) == [("forklift-certification", "maria")]
    assert core.check(CheckRequest(rule_set="staffing", record=CANDIDATES[1])).ok
    keyed = core.check(CheckRequest(rule_set="staffing", record={"id": 7.0, "state": "IL"}, key="id"))
    assert {v.key for v in keyed.violations} == {"7"}  # JSON's 7.0 shown as 7


def test_inline_rules_and_their_errors_name_the_source(world):
    core, *_ = world
    rules = "[[rules]]\nid = 'tx'\nwhen = 'state = \"TX\"'\nrequire = 'false'\n"
    assert _pairs(core.check(CheckRequest(rules=rules, dataset="candidates", key="doc_id"))) == [("tx", "john")]
    with pytest.raises(InvalidArgument) as caught:
        core.check(CheckRequest(rules="[[rules]\n", rules_source="mine.toml", record={}))
    assert caught.value.reason == t.RULES_TOML_SYNTAX and caught.value.metadata["file"] == "mine.toml"
    with pytest.raises(InvalidArgument) as caught:
        core.check(CheckRequest(rules="[[rules]]\nid = 'r'\nrequire = 'a ='\n", record={}))
    assert caught.value.reason == t.RULE_SYNTAX and caught.value.metadata["file"] == "inline"
    assert caught.value.metadata["line"] == "3"


def test_a_rule_naming_a_missing_column_is_unknown_column(world):
    core, query, ingest, _ = world
    rules = "[[rules]]\nid = 'licensed'\nrequire = '\"Forklift\" in licences'\n"
    with pytest.raises(InvalidArgument) as caught:
        core.check(CheckRequest(rules=rules, dataset="candidates"))
    err = caught.value
    assert err.reason == UNKNOWN_COLUMN and err.metadata["rule"] == "licensed" and err.metadata["column"] == "licences"
    assert "rule 'licensed' names 'licences', which dataset 'candidates' does not have" in err.message
    assert len(query.statements) == 1 and not ingest.reports  # refused before the check ran
    with pytest.raises(InvalidArgument) as caught:
        core.check(CheckRequest(rule_set="staffing", dataset="candidates", key="worker_id"))
    assert caught.value.reason == UNKNOWN_COLUMN and caught.value.metadata["rule"] == ""
    with pytest.raises(InvalidArgument) as caught:
        core.check(CheckRequest(rules="[[rules]]\nid = 's'\nrequire = 'state > 1'\n", dataset="candidates"))
    assert caught.value.reason == t.RULE_TYPE_MISMATCH


def test_a_record_of_the_wrong_type_is_a_clean_error(world):
    core, *_ = world
    with pytest.raises(InvalidArgument) as caught:
        core.check(CheckRequest(rule_set="staffing", record={"roles": "forklift operator"}))
    assert caught.value.reason == t.RULE_TYPE_MISMATCH and caught.value.metadata == {
        "rule": "forklift-certification",
        "field": "roles",
    }


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (CheckRequest(record={}), t.RULES_SOURCE_REQUIRED),
        (CheckRequest(rules="x", rule_set="staffing", record={}), t.RULES_SOURCE_REQUIRED),
        (CheckRequest(rule_set="staffing"), t.TARGET_REQUIRED),
        (CheckRequest(rule_set="staffing", record={}, dataset="candidates"), t.TARGET_REQUIRED),
        (CheckRequest(rule_set="staffing", record={}, limit=-1), t.INVALID_LIMIT),
        (CheckRequest(rule_set="staffing", dataset="Bad Name"), "INVALID_DATASET_NAME"),
    ],
)
def test_bad_requests(world, request_, reason):
    core, *_ = world
    with pytest.raises(InvalidArgument) as caught:
        core.check(request_)
    assert caught.value.reason == reason


def test_rule_sets_by_name_home_over_example_and_broken_files_listed(world):
    core, _, _, settings = world
    listing = core.list_rule_sets()
    assert [(i.name, i.origin, i.key) for i in listing.rule_sets] == [("staffing", "example", "doc_id")]
    home = settings.home_dir / "rules"
    home.mkdir()
    (home / "strict.toml").write_text("[[rules]]\nid = 'r'\nrequire = 'state = \"IL\"'\n")
    (home / "broken.toml").write_text("[[rules]]\nid = 'r'\nrequire = 'state ='\n")
    (home / "mine.toml").write_text("name = 'staffing'\n[[rules]]\nid = 'only'\nrequire = 'true'\n")
    listing = core.list_rule_sets()
    assert [(i.name, i.origin, i.rules) for i in listing.rule_sets] == [
        ("staffing", "home", ("only",)),
        ("strict", "home", ("r",)),
    ]
    assert len(listing.invalid) == 1 and listing.invalid[0].startswith("home/broken.toml: rule 'r' require, line 3")
    assert core.check(CheckRequest(rule_set="staffing", record={})).ok
    with pytest.raises(NotFound) as caught:
        core.check(CheckRequest(rule_set="broken", record={}))
    assert caught.value.reason == t.RULE_SET_NOT_FOUND and "home/broken.toml: rule 'r'" in caught.value.message


def test_no_report_when_the_setting_is_empty(tmp_path):
    settings = Settings(home=tmp_path, truth={"report_dataset": ""})
    query, ingest = DuckQuery({"candidates": pa.Table.from_pylist(CANDIDATES, schema=SCHEMA)}), Ingest()
    result = TruthCore(settings, lambda: query, lambda: ingest).check(
        CheckRequest(rule_set="staffing", dataset="candidates")
    )
    assert result.violation_count == 4 and result.report_dataset == "" and not ingest.reports


# The workflow mode -------------------------------------------------------------------


def _ctx(core: TruthCore, settings: Settings) -> ModeContext:
    services = Services(
        matrix=lambda: None,
        models=lambda: None,
        query=lambda: None,
        vector=lambda: None,
        vocabulary=Vocabulary(settings.vocabulary),
        settings=settings,
        truth=lambda: core,
    )
    return ModeContext(services, workflow="w", run_id="r" * 32, node_id="truth")


def test_the_mode_flags_search_hits_and_keeps_the_ones_that_pass(world):
    core, _, _, settings = world
    mode = default_catalog().get("truth.check")
    hits = [{"id": f"{c['doc_id']}#0", "score": 0.9, "metadata": c} for c in CANDIDATES[:3]]
    args = {"rule_set": "staffing", "records": hits, "fields": "metadata"}
    assert not list(mode.validator.iter_errors(args))
    out = mode.fn(_ctx(core, settings), args)
    assert out["rule_ids"] == ["forklift-certification"] and out["violation_count"] == 1 and not out["ok"]
    assert out["results"] == [
        {"ok": False, "rule_ids": ["forklift-certification"]},
        {"ok": True, "rule_ids": []},
        {"ok": True, "rule_ids": []},
    ]
    assert out["passed"] == hits[1:] and out["passed_count"] == 2 and out["flagged_count"] == 1
    assert out["violations"][0]["key"] == "maria"
    counts = {c["rule_id"]: (c["applicable"], c["violations"]) for c in out["counts"]}
    assert counts["forklift-certification"] == (2, 1) and counts["il-state-valid-certification"] == (2, 0)
    one = mode.fn(_ctx(core, settings), {"rule_set": "staffing", "record": hits[0], "fields": "metadata"})
    assert one["rule_ids"] == ["forklift-certification"] and one["records"] == 1
    none = mode.fn(_ctx(core, settings), {"rule_set": "staffing", "record": None})
    assert none["ok"] and none["records"] == 0


def test_the_mode_checks_a_dataset(world):
    core, _, _, settings = world
    mode = default_catalog().get("truth.check")
    out = mode.fn(_ctx(core, settings), {"rule_set": "staffing", "dataset": "candidates"})
    assert out["violation_count"] == 4 and out["records"] == 6 and out["report_version"] == 1
    assert out["rule_ids"] == [
        "forklift-certification",
        "il-state-valid-certification",
        "welder-aws-certification",
        "known-state",
    ]
