"""ValidationCore: requests (suite by name, text or object; a version), bad input with clean
statuses, merge-on-read, reports appended through the ingest API, and the ingest gate on
a real IngestCore (a failing blocking check commits nothing, deletes its files, journals)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.errors import UNKNOWN_COLUMN
from lakehouse.api.ingest import IngestSpec
from lakehouse.api.validation import (
    CHECK_NOT_APPLICABLE,
    CHECKS_FAILED,
    SUITE_NOT_FOUND,
    SUITE_REQUIRED,
    VALIDATION_TIMEOUT,
    ChecksFailed,
    ValidateRequest,
    report_from_pb,
    report_of,
    report_to_pb,
)
from lakehouse.servers.catalog.core import CatalogCore
from lakehouse.servers.ingest.core import IngestCore
from lakehouse.servers.settings import Settings, ValidatorSettings
from lakehouse.servers.storage.local import LocalObjectStore
from lakehouse.servers.validation import core as core_module
from lakehouse.servers.validation.core import ValidationCore
from tests.support.query_lake import PEOPLE, Lake, people

NOW = datetime(2026, 3, 1, tzinfo=UTC)
UNIQUE_IDS = "checks: [{type: unique, column: id}, {type: row_count, min: 1}]"


class FakeIngest:
    """Captures what a report append sends (the IngestApi a report is written through)."""

    def __init__(self, fail: bool = False) -> None:
        self.specs: list[IngestSpec] = []
        self.tables: list[pa.Table] = []
        self.fail = fail

    def ingest(self, spec, chunks, **kw):
        if self.fail:
            raise errors.Unavailable("the lake is down", reason="STORAGE_UNAVAILABLE")
        self.specs.append(spec)
        self.tables.append(pq.read_table(io.BytesIO(b"".join(chunks))))
        return type("Result", (), {"version": len(self.specs)})()

    def compact(self, dataset, cancelled=None):
        raise NotImplementedError


@pytest.fixture
def lake(tmp_path: Path):
    lake = Lake(tmp_path)
    lake.commit("people", [lake.part("people", people([1, 2, 3], ["a", "b", "c"]))], PEOPLE)
    yield lake
    lake.catalog.close()


def make_core(lake: Lake, tmp_path: Path, ingest=None, **settings) -> ValidationCore:
    return ValidationCore(
        lake.catalog,
        lake.store,
        ValidatorSettings(**settings),
        tmp_path / "checks",
        tmp_path / "tmp",
        ingest=(lambda: ingest) if ingest is not None else None,
        clock=lambda: NOW,
    )


def test_suite_by_text_object_or_name(lake, tmp_path):
    core = make_core(lake, tmp_path)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "people.yml").write_text(UNIQUE_IDS)
    spec = {"checks": [{"type": "unique", "column": "id"}, {"type": "row_count", "min": 1}]}
    reports = [
        core.validate(ValidateRequest("people", suite_text=UNIQUE_IDS)),
        core.validate(ValidateRequest("people", suite_spec=spec)),
        core.validate(ValidateRequest("people", suite="people")),
    ]
    assert all(r.passed and r.rows == 3 and r.version == 1 for r in reports)
    assert reports[2].suite == "people"
    assert len({r.validation_id for r in reports}) == 3


@pytest.mark.parametrize(
    "request_",
    [ValidateRequest("people"), ValidateRequest("people", suite="x", suite_text=UNIQUE_IDS)],
    ids=["none", "two"],
)
def test_exactly_one_suite(lake, tmp_path, request_):
    with pytest.raises(errors.InvalidArgument) as info:
        make_core(lake, tmp_path).validate(request_)
    assert info.value.reason == SUITE_REQUIRED


def test_bad_requests_have_clean_statuses(lake, tmp_path):
    core = make_core(lake, tmp_path)
    with pytest.raises(errors.NotFound) as info:
        core.validate(ValidateRequest("people", suite="absent"))
    assert info.value.reason == SUITE_NOT_FOUND
    with pytest.raises(errors.NotFound):
        core.validate(ValidateRequest("nobody", suite_text=UNIQUE_IDS))
    with pytest.raises(errors.NotFound):
        core.validate(ValidateRequest("people", version=9, suite_text=UNIQUE_IDS))
    with pytest.raises(errors.InvalidArgument):
        core.validate(ValidateRequest("Bad Name", suite_text=UNIQUE_IDS))
    for field, req in (
        ("version", ValidateRequest("people", version=-1, suite_text=UNIQUE_IDS)),
        ("sample_rows", ValidateRequest("people", sample_rows=-1, suite_text=UNIQUE_IDS)),
    ):
        with pytest.raises(errors.InvalidArgument) as bad:
            core.validate(req)
        assert bad.value.violations[0].field == field


def test_a_column_the_dataset_lacks_is_unknown_column(lake, tmp_path):
    suite = (
        "checks: [{type: not_null, column: id}, {type: range, column: age, min: 0}, {type: unique, columns: [id, zip]}]"
    )
    with pytest.raises(errors.InvalidArgument) as info:
        make_core(lake, tmp_path).validate(ValidateRequest("people", suite_text=suite))
    assert info.value.reason == UNKNOWN_COLUMN
    assert info.value.metadata["columns"] == "age,zip"
    assert "'range(age)' reads 'age'" in info.value.message
    assert [v.field for v in info.value.violations] == ["checks.range(age)", "checks.unique(id,zip)"]


def test_references_name_an_existing_dataset_and_column(lake, tmp_path):
    core = make_core(lake, tmp_path)
    with pytest.raises(errors.NotFound):
        core.validate(
            ValidateRequest("people", suite_text="checks: [{type: references, column: id, dataset: nowhere}]")
        )
    with pytest.raises(errors.InvalidArgument) as info:
        core.validate(
            ValidateRequest(
                "people", suite_text="checks: [{type: references, column: id, dataset: people, ref_column: x}]"
            )
        )
    assert info.value.reason == UNKNOWN_COLUMN and info.value.metadata["dataset"] == "people"


def test_a_check_the_data_cannot_take_is_not_applicable(lake, tmp_path):
    suite = (
        "checks: [{type: row_count, min: 1}, {type: range, column: score, min: 'high'}, {type: not_null, column: id}]"
    )
    with pytest.raises(errors.InvalidArgument) as info:
        make_core(lake, tmp_path).validate(ValidateRequest("people", suite_text=suite))
    assert info.value.reason == CHECK_NOT_APPLICABLE
    assert info.value.metadata["check"] == "range(score)"


def test_an_older_version_and_deltas_merged_on_read(lake, tmp_path):
    core = make_core(lake, tmp_path)
    delta = lake.delta("people", people([3, 3, 4], ["c", "c2", "d"]), ["upsert", "upsert", "upsert"], [1, 2, 3])
    base = lake.catalog.get_dataset("people").current.files
    lake.commit("people", list(base), PEOPLE, deltas=[delta], key=("id",), mode=WriteMode.UPSERT)
    report = core.validate(ValidateRequest("people", suite_text=UNIQUE_IDS))
    assert report.version == 2 and report.rows == 4 and report.passed  # the delta's duplicate 3 is merged away
    assert core.validate(ValidateRequest("people", version=1, suite_text=UNIQUE_IDS)).rows == 3


def test_reports_are_appended_one_row_per_check(lake, tmp_path):
    ingest = FakeIngest()
    core = make_core(lake, tmp_path, ingest, report_dataset="quality_reports")
    report = core.validate(
        ValidateRequest("people", suite_text="checks: [{type: unique, column: name}, {type: row_count, max: 1}]")
    )
    assert report.report_dataset == "quality_reports" and report.report_version == 1 and not report.warning
    (spec,), (table,) = ingest.specs, ingest.tables
    assert spec.dataset == "quality_reports" and spec.mode == WriteMode.APPEND
    rows = table.to_pylist()
    assert [r["check_name"] for r in rows] == ["unique(name)", "row_count"]
    assert [r["passed"] for r in rows] == [True, False]
    assert {r["validation_id"] for r in rows} == {report.validation_id}
    assert rows[1]["failing_count"] == 2 and rows[1]["gate"] is False and rows[0]["columns"] == '["name"]'


def test_a_report_that_cannot_be_written_is_a_warning(lake, tmp_path):
    core = make_core(lake, tmp_path, FakeIngest(fail=True))
    report = core.validate(ValidateRequest("people", suite_text=UNIQUE_IDS))
    assert report.passed and report.report_version == 0 and "STORAGE_UNAVAILABLE" in report.warning


def test_checks_failed_carries_the_report_through_a_status(lake, tmp_path):
    report = make_core(lake, tmp_path).validate(
        ValidateRequest("people", suite_text="checks: [{type: row_count, max: 1}]")
    )
    error = ChecksFailed(report)
    assert error.code == "FAILED_PRECONDITION" and error.reason == CHECKS_FAILED
    assert error.metadata["failed_checks"] == "row_count"
    restored = errors.FailedPrecondition("x", attachments=[_packed(report_to_pb(report))])
    assert report_of(restored) == report_of(error) == report_from_pb(report_to_pb(report))


def _packed(message):
    from google.protobuf import any_pb2

    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def test_a_validation_past_its_time_is_interrupted(lake, tmp_path):
    core = make_core(lake, tmp_path, timeout_s=0.05)
    with pytest.raises(errors.DeadlineExceeded) as info:
        with core._scanner.connect() as con, core_module._deadline(con, 0.05):
            try:
                con.execute("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3").fetchall()
            except duckdb.Error as exc:
                raise core_module._mapped(exc) from None
    assert info.value.reason == VALIDATION_TIMEOUT


# The ingest gate -------------------------------------------------------------------


class Journal:
    def __init__(self) -> None:
        self.records: list[tuple[str, BaseException, dict]] = []

    def record(self, operation, error, context=None):
        self.records.append((operation, error, dict(context or {})))
        return str(len(self.records))


@pytest.fixture
def gated(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    catalog = CatalogCore(settings.catalog_db)
    store = LocalObjectStore("lake", settings.lake_root)
    journal = Journal()
    suites = tmp_path / "checks"
    suites.mkdir()
    (suites / "ids.yaml").write_text(
        "checks: [{type: unique, column: id}, {type: not_null, column: name, blocking: false}]"
    )
    holder: dict = {}
    gate = ValidationCore(catalog, store, settings.validator, suites, tmp_path / "tmp", ingest=lambda: holder["ingest"])
    holder["ingest"] = IngestCore(catalog, store, journal, settings, gate=gate)
    yield holder["ingest"], catalog, journal, settings
    catalog.close()


def test_the_gate_commits_a_passing_version_and_reports_it(gated):
    ingest, catalog, journal, settings = gated
    result = ingest.ingest(IngestSpec("crew", "csv", checks="ids"), [b"id,name\n1,a\n2,\n"])
    assert result.version == 1 and catalog.get_dataset("crew").current_version == 1
    reports = catalog.get_dataset(settings.validator.report_dataset).current
    table = pq.read_table(settings.lake_root / reports.files[0].path).to_pylist()
    assert {(r["dataset"], r["check_name"], r["passed"], r["gate"]) for r in table} == {
        ("crew", "unique(id)", True, True),
        ("crew", "not_null(name)", False, True),  # a warning: committed anyway
    }
    assert journal.records == []


def test_the_gate_refuses_a_failing_version_and_leaves_nothing(gated):
    ingest, catalog, journal, settings = gated
    ingest.ingest(IngestSpec("crew", "csv"), [b"id,name\n1,a\n"])
    with pytest.raises(ChecksFailed) as info:
        ingest.ingest(IngestSpec("crew", "csv", checks="ids"), [b"id,name\n1,b\n3,c\n"])
    assert info.value.reason == CHECKS_FAILED and info.value.metadata["failed_checks"] == "unique(id)"
    assert info.value.report.version == 2 and info.value.report.checks[0].failing_count == 2
    assert catalog.get_dataset("crew").current_version == 1  # the append was not committed
    crew_files = sorted(p.name for p in (settings.lake_root / "datasets" / "crew").rglob("*.parquet"))
    assert len(crew_files) == 1  # the staged file is gone
    ((operation, error, context),) = journal.records
    assert operation == "ingest" and context["reason"] == CHECKS_FAILED and context["dataset"] == "crew"
    assert "unique(id)" in str(error) and context["note"] == "attempt files deleted"


def test_a_suite_that_cannot_load_refuses_the_ingest_before_any_file(gated):
    ingest, catalog, journal, settings = gated
    with pytest.raises(errors.NotFound) as info:
        ingest.ingest(IngestSpec("crew", "csv", checks="absent"), [b"id\n1\n"])
    assert info.value.reason == SUITE_NOT_FOUND
    assert not (settings.lake_root / "datasets" / "crew").exists() and journal.records == []


# The workflow mode ------------------------------------------------------------------


def test_the_validator_check_mode(lake, tmp_path):
    from dataclasses import replace

    from lakehouse.servers.workflows.modes import ModeContext, default_catalog
    from tests.support.workflows import services

    settings = Settings(home=tmp_path / "home")
    core = make_core(lake, tmp_path)
    mode = default_catalog().get("validator.check")
    assert mode is not None
    args = {
        "dataset": "people",
        "suite_spec": {"checks": [{"type": "unique", "column": "id"}, {"type": "row_count", "max": 2}]},
    }
    assert not list(mode.validator.iter_errors(args))
    assert list(mode.validator.iter_errors({"suite": "x"}))  # the dataset is required
    ctx = ModeContext(replace(services(settings), validation=lambda: core), workflow="t", run_id="r" * 32, node_id="n")
    out = mode.fn(ctx, args)
    assert out["passed"] is False and out["failed"] == ["row_count"] and out["rows"] == 3
    assert [c["name"] for c in out["checks"]] == ["unique(id)", "row_count"]
    unwired = ModeContext(services(settings), workflow="t", run_id="r" * 32, node_id="n")
    with pytest.raises(errors.Unavailable):
        mode.fn(unwired, args)
