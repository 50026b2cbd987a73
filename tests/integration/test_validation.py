"""Validation on the real system: checks over gRPC and over REST through Envoy
(``POST /v1/datasets/{d}:validate`` beside the catalog's ``/v1/datasets/...`` routes), bad
suites with clean statuses, a referential check across two datasets, the ingest gate (a
failing blocking suite commits nothing and is journaled; a passing one commits), reports
queryable with SQL, the ``validator.check`` workflow mode and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from lakehouse.api import errors
from lakehouse.api.validation import CHECKS_FAILED, ValidateRequest, report_of
from lakehouse.api.workflows import RunRequest
from tests.support.system import System

WORKERS_CSV = (
    b"worker_id,email,state,hourly_rate\n"
    b"1,ana@example.com,IL,18.5\n"
    b"2,bo@example.com,WI,22.0\n"
    b"3,not-an-email,IL,41.0\n"
    b"4,cy@example.com,ZZ,15.0\n"
)
STATES_CSV = b"code,name\nIL,Illinois\nWI,Wisconsin\nTX,Texas\n"
PASSING = """
name: workers_ok
checks:
  - {type: schema, columns: {worker_id: {type: int64, nullable: false}, email: {type: string}}}
  - {type: unique, column: worker_id}
  - {type: row_count, min: 1, max: 1000}
  - {type: regex, column: email, format: email, blocking: false}
"""
BLOCKING = """
checks:
  - {type: unique, column: worker_id}
  - {type: range, column: hourly_rate, min: 15, max: 40}
"""
REFERENCES = {"checks": [{"type": "references", "column": "state", "dataset": "states", "ref_column": "code"}]}


@pytest.fixture(scope="module")
def vsystem(tmp_path_factory):
    home = tmp_path_factory.mktemp("validation-home")
    (home / "checks").mkdir()
    (home / "checks" / "workers_ok.yaml").write_text(PASSING)
    (home / "checks" / "workers_strict.yaml").write_text(BLOCKING)
    system = System.start(home)
    with system.client() as lh:
        lh.ingest("workers", WORKERS_CSV, format="csv")
        lh.ingest("states", STATES_CSV, format="csv")
    yield system
    system.stop()


def post(system: System, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{system.rest}{path}", json=body, timeout=60)


def reason(response: httpx.Response) -> str:
    details = response.json().get("details", [])
    return next(d["reason"] for d in details if d.get("@type", "").endswith("ErrorInfo"))


def test_grpc_validate_by_name_with_a_warning(vsystem):
    with vsystem.client() as lh:
        report = lh.validation.validate(ValidateRequest("workers", suite="workers_ok"))
    assert report.passed and report.rows == 4 and report.suite == "workers_ok"
    (warning,) = report.warnings
    assert warning.name == "regex(email)" and warning.failing_count == 1
    assert warning.sample[0]["email"] == "not-an-email"
    assert report.report_dataset == "validation_reports" and report.report_version >= 1


def test_rest_validate_through_envoy_gives_counts_and_samples(vsystem):
    response = post(vsystem, "/v1/datasets/workers:validate", {"suite_text": BLOCKING, "sample_rows": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["passed"] is False and body["failed"] == 1 and body["rows"] == "4"
    by_name = {c["name"]: c for c in body["checks"]}
    assert by_name["unique(worker_id)"]["passed"] is True
    ranged = by_name["range(hourly_rate)"]
    assert ranged["failing_count"] == "1" and ranged["sample"][0]["worker_id"] == 3
    # The catalog's routes on the same prefix still answer beside the custom verb.
    assert httpx.get(f"{vsystem.rest}/v1/datasets/workers", timeout=30).json()["name"] == "workers"


def test_referential_check_across_two_datasets(vsystem):
    response = post(vsystem, "/v1/datasets/workers:validate", {"suite_spec": REFERENCES})
    assert response.status_code == 200, response.text
    (check,) = response.json()["checks"]
    assert check["passed"] is False and check["failing_count"] == "1" and check["sample"][0]["state"] == "ZZ"


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({"suite_spec": {"checks": [{"type": "expect_magic", "column": "x"}]}}, 400, "UNKNOWN_CHECK"),
        ({"suite_spec": {"checks": [{"type": "not_null", "column": "age"}]}}, 400, "UNKNOWN_COLUMN"),
        ({"suite_text": "checks: [\n  {type"}, 400, "INVALID_SUITE"),
        ({"suite": "absent"}, 404, "SUITE_NOT_FOUND"),
        ({}, 400, "SUITE_REQUIRED"),
        (
            {"suite_spec": {"checks": [{"type": "range", "column": "worker_id", "min": "lots"}]}},
            400,
            "CHECK_NOT_APPLICABLE",
        ),
    ],
)
def test_rest_bad_suites_have_clean_statuses(vsystem, body, status, expected):
    response = post(vsystem, "/v1/datasets/workers:validate", body)
    assert response.status_code == status, response.text
    assert reason(response) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"suite_spec": "checks"},
        {"suite": "workers_ok", "sample_rows": 2**40},
        {"suite": "workers_ok", "version": -1},
        {"suite": "../../etc/passwd"},
        {"suite_text": "\u0000"},
        {"suite_spec": {"checks": [{"type": "regex", "column": "email", "pattern": "a{99999}"}]}},
    ],
)
def test_rest_malformed_requests_are_400(vsystem, body):
    assert post(vsystem, "/v1/datasets/workers:validate", body).status_code == 400


def test_rest_a_value_no_row_can_hold_is_simply_not_allowed(vsystem):
    spec = {"checks": [{"type": "allowed_values", "column": "worker_id", "values": [1e308]}]}
    response = post(vsystem, "/v1/datasets/workers:validate", {"suite_spec": spec})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"][0]["failing_count"] == body["rows"]  # every row


def test_rest_unknown_dataset_is_404(vsystem):
    response = post(vsystem, "/v1/datasets/nobody:validate", {"suite_spec": REFERENCES})
    assert response.status_code == 404 and reason(response) == "DATASET_NOT_FOUND"


def test_grpc_unknown_check_is_invalid_argument_naming_it(vsystem):
    with vsystem.client() as lh, pytest.raises(errors.InvalidArgument) as info:
        lh.validation.validate(ValidateRequest("workers", suite_text="checks: [{type: frobnicate}]"))
    assert info.value.reason == "UNKNOWN_CHECK" and "frobnicate" in info.value.message


def test_an_ingest_failing_a_blocking_suite_commits_nothing_and_is_journaled(vsystem):
    with vsystem.client() as lh:
        before = lh.get_dataset("workers").current.version
        with pytest.raises(errors.FailedPrecondition) as info:
            lh.ingest(
                "workers",
                b"worker_id,email,state,hourly_rate\n1,dup@example.com,IL,99.0\n",
                format="csv",
                checks="workers_strict",
            )
        assert info.value.reason == CHECKS_FAILED
        report = report_of(info.value)
        assert report is not None and {c.name for c in report.failed} == {"unique(worker_id)", "range(hourly_rate)"}
        assert report.version == before + 1
        assert lh.get_dataset("workers").current.version == before
        assert lh.sql("SELECT count(*) AS n FROM workers").rows[0][0] == 4
        journaled = [e for e in lh.list_errors() if e.operation == "ingest" and e.reason == CHECKS_FAILED]
        assert journaled and journaled[-1].context["dataset"] == "workers"
        assert "unique(worker_id)" in journaled[-1].message
        reports = lh.sql(
            f"SELECT count(*) FROM validation_reports WHERE validation_id = '{report.validation_id}' AND gate"
        ).rows
        assert reports[0][0] == 2


def test_rest_ingest_with_checks_returns_the_report_in_the_400(vsystem):
    response = httpx.post(
        f"{vsystem.rest}/v1/datasets/workers:ingest?format=csv&checks=workers_strict",
        content=b"worker_id,email,state,hourly_rate\n2,x@example.com,WI,10.0\n",
        timeout=60,
    )
    assert response.status_code == 400, response.text
    details = response.json()["details"]
    assert reason(response) == CHECKS_FAILED
    (report,) = [d for d in details if d["@type"].endswith("ValidationReport")]
    assert report["passed"] is False and report["failed"] == 2


def test_an_ingest_passing_its_suite_commits(vsystem):
    with vsystem.client() as lh:
        before = lh.get_dataset("workers").current.version
        result = lh.ingest(
            "workers",
            b"worker_id,email,state,hourly_rate\n5,di@example.com,TX,25.0\n",
            format="csv",
            checks="workers_ok",
        )
        assert result.version == before + 1
        assert lh.sql("SELECT count(*) FROM workers").rows[0][0] == 5


def test_the_workflow_mode(vsystem):
    workflow = """
name: quality-gate
description: Check the states dataset before anything reads it.
nodes:
  - id: check
    mode: validator.check
    with: {dataset: states, suite_text: "checks: [{type: unique, column: code}, {type: row_count, min: 3}]"}
"""
    with vsystem.client() as lh:
        run = lh.workflows.run(RunRequest(yaml=workflow))
    node = run.node("check")
    assert run.status == "succeeded", run.error or node.error
    assert node.output["passed"] is True and node.output["failed"] == [] and len(node.output["checks"]) == 2


def test_the_cli(vsystem, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(BLOCKING)
    env = {**os.environ, **vsystem.env}
    failed = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "validate", "states", "--suite", "workers_ok"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "UNKNOWN_COLUMN" in failed.stderr  # states has no worker_id
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "validate", "workers", "--suite", str(suite)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "FAIL  range(hourly_rate)" in done.stdout and "PASS  unique(worker_id)" in done.stdout
    ok = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "validate", "workers", "--suite", "workers_ok", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["passed"] is True
