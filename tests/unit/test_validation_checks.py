"""Each check type passing and failing, as DuckDB SQL over small Parquet files, through
DuckDB's own reader (a local lake) and through pyarrow datasets (how S3 is read)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from lakehouse.api.validation import CheckResult, ValidationReport
from lakehouse.servers.settings import ValidatorSettings
from lakehouse.servers.validation.core import ValidationCore
from lakehouse.servers.validation.suite import parse_suite
from tests.support.query_lake import Lake

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def workers() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "email": ["ana@example.com", "bo@example.org", "not-an-email", "cy@example.com", None, "di@example.net"],
            "phone": ["(312) 555-0142", "312-555-0143", "555", None, None, "+1 312 555 0145"],
            "state": ["IL", "WI", "IL", "ZZ", "TX", "IL"],
            "role": ["welder", "picker", "welder", "painter", "picker", "picker"],
            "rate": [18.5, 22.0, 41.0, 15.0, None, 30.0],
            "hired": pa.array([datetime(2024, 1, d) for d in range(1, 7)], pa.timestamp("us")),
            "updated_at": pa.array(
                [NOW - timedelta(hours=h) for h in (2, 30, 50, 70, 90, 400)], pa.timestamp("us", "UTC")
            ),
        }
    )


class _SubtreeStore:
    """The lake's store seen through a non-local pyarrow filesystem: scans go through
    registered pyarrow datasets, as on S3."""

    def __init__(self, root: Path) -> None:
        self._fs = pafs.SubTreeFileSystem(str(root), pafs.LocalFileSystem())

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        return self._fs, "lake"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    lake = Lake(tmp_path_factory.mktemp("validation-lake"))
    table = workers()
    lake.commit("workers", [lake.part("workers", table)], table.schema)
    states = pa.table({"code": ["IL", "WI", "TX", None]})
    lake.commit("states", [lake.part("states", states)], states.schema)
    yield lake
    lake.catalog.close()


@pytest.fixture(scope="module", params=["native", "arrow"])
def core(request: pytest.FixtureRequest, lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> ValidationCore:
    store = lake.store if request.param == "native" else _SubtreeStore(Path(lake.base).parent)
    home = tmp_path_factory.mktemp("validation-home")
    core = ValidationCore(lake.catalog, store, ValidatorSettings(), home / "checks", home / "tmp", clock=lambda: NOW)
    assert core._scanner.native == (request.param == "native")
    return core


def run(core: ValidationCore, lake: Lake, *checks: dict, dataset: str = "workers", sample: int = 5) -> ValidationReport:
    suite = parse_suite({"checks": list(checks)}, ValidatorSettings())
    version = lake.catalog.get_dataset(dataset).current
    return core.run(dataset, version.version, version, suite, sample)


def one(core: ValidationCore, lake: Lake, check: dict, sample: int = 5) -> CheckResult:
    report = run(core, lake, check, sample=sample)
    assert report.rows == 6
    return report.checks[0]


def ids(result: CheckResult) -> list[int]:
    return [row["id"] for row in result.sample]


def test_schema_conforms(core, lake):
    result = one(
        core,
        lake,
        {
            "type": "schema",
            "columns": {
                "id": {"type": "int64", "nullable": False},
                "rate": {"type": "float"},
                "hired": {"type": "timestamp"},
                "email": {"type": "string"},
            },
        },
    )
    assert result.passed and result.failing_count == 0 and result.message == "conforms"


def test_schema_reports_missing_mistyped_unexpected_and_null_columns(core, lake):
    result = one(
        core,
        lake,
        {
            "type": "schema",
            "exact": True,
            "columns": {
                "id": {"type": "string"},
                "email": {"nullable": False},
                "zip": {"type": "string"},
                "phone": {},
                "state": {},
                "role": {},
                "rate": {"type": "double"},
                "hired": {"type": "timestamp[us]"},
            },
        },
    )
    assert not result.passed
    problems = {(p["column"], p["problem"]) for p in result.sample}
    assert problems == {("id", "type"), ("zip", "missing"), ("updated_at", "unexpected"), ("email", "nulls")}
    assert result.failing_count == 4
    assert {"column": "id", "problem": "type", "expected": "string", "actual": "int64"} in result.sample


def test_not_null(core, lake):
    assert one(core, lake, {"type": "not_null", "column": "id"}).passed
    result = one(core, lake, {"type": "not_null", "column": "email"})
    assert not result.passed and result.failing_count == 1 and ids(result) == [5]


def test_null_rate(core, lake):
    passing = one(core, lake, {"type": "null_rate", "column": "phone", "max": 0.4})
    assert passing.passed and passing.failing_count == 2 and passing.observed == pytest.approx(2 / 6)
    assert passing.sample == ()  # samples are for failures
    failing = one(core, lake, {"type": "null_rate", "column": "phone", "max": 0.25})
    assert not failing.passed and ids(failing) == [4, 5]


def test_unique_key(core, lake):
    assert one(core, lake, {"type": "unique", "columns": ["id"]}).passed
    result = one(core, lake, {"type": "unique", "columns": ["state"]})
    assert not result.passed
    assert result.failing_count == 3 and result.observed == 1  # three IL rows, one duplicated key
    assert ids(result) == [1, 3, 6]
    composite = one(core, lake, {"type": "unique", "columns": ["state", "role"]})
    assert not composite.passed and composite.failing_count == 2 and ids(composite) == [1, 3]


def test_range(core, lake):
    assert one(core, lake, {"type": "range", "column": "rate", "min": 15, "max": 41}).passed  # inclusive; null ignored
    result = one(core, lake, {"type": "range", "column": "rate", "min": 16, "max": 40})
    assert not result.passed and result.failing_count == 2 and ids(result) == [3, 4]
    dates = one(core, lake, {"type": "range", "column": "hired", "min": "2024-01-02"})
    assert not dates.passed and ids(dates) == [1]


def test_allowed_values(core, lake):
    assert one(
        core, lake, {"type": "allowed_values", "column": "role", "values": ["welder", "picker", "painter"]}
    ).passed
    result = one(core, lake, {"type": "allowed_values", "column": "role", "values": ["welder", "picker"]})
    assert not result.passed and result.failing_count == 1 and ids(result) == [4]


def test_regex_named_formats_and_patterns(core, lake):
    email = one(core, lake, {"type": "regex", "column": "email", "format": "email"})
    assert not email.passed and email.failing_count == 1 and ids(email) == [3]  # the null is not counted
    phone = one(core, lake, {"type": "regex", "column": "phone", "format": "phone"})
    assert not phone.passed and ids(phone) == [3]
    state = one(core, lake, {"type": "regex", "column": "state", "format": "state_code"})
    assert not state.passed and ids(state) == [4]
    assert one(core, lake, {"type": "regex", "column": "role", "pattern": "[a-z]+"}).passed
    assert one(core, lake, {"type": "regex", "column": "id", "pattern": "[0-9]"}).passed  # numbers as text


def test_row_count(core, lake):
    assert one(core, lake, {"type": "row_count", "min": 6, "max": 6}).passed
    short = one(core, lake, {"type": "row_count", "min": 10})
    assert not short.passed and short.failing_count == 4 and short.observed == 6
    many = one(core, lake, {"type": "row_count", "max": 2})
    assert not many.passed and many.failing_count == 4


def test_freshness(core, lake):
    fresh = one(core, lake, {"type": "freshness", "column": "updated_at", "max_age": "3h"})
    assert fresh.passed and fresh.observed == pytest.approx(7200)
    stale = one(core, lake, {"type": "freshness", "column": "updated_at", "max_age": "1h"})
    assert not stale.passed and stale.failing_count == 6
    assert ids(stale)[:2] == [1, 2]  # the newest rows first
    old = one(core, lake, {"type": "freshness", "column": "hired", "max_age": "30d"})  # a naive timestamp is UTC
    assert not old.passed and old.observed > 365 * 86400


def test_references_against_another_dataset(core, lake):
    result = one(core, lake, {"type": "references", "column": "state", "dataset": "states", "ref_column": "code"})
    assert not result.passed and result.failing_count == 1 and result.observed == 1 and ids(result) == [4]
    report = run(core, lake, {"type": "references", "column": "code", "dataset": "states"}, dataset="states")
    assert report.checks[0].passed  # a dataset references itself; nulls are not orphans


def test_samples_are_bounded(core, lake):
    result = one(core, lake, {"type": "regex", "column": "id", "pattern": "9"}, sample=2)
    assert result.failing_count == 6 and ids(result) == [1, 2]
    assert one(core, lake, {"type": "regex", "column": "id", "pattern": "9"}, sample=0).sample == ()


def test_one_suite_judges_every_check_with_warnings_apart(core, lake):
    report = run(
        core,
        lake,
        {"type": "unique", "columns": ["id"]},
        {"type": "regex", "column": "email", "format": "email", "blocking": False},
        {"type": "row_count", "min": 1},
    )
    assert report.passed and len(report.warnings) == 1 and not report.failed
    assert [c.name for c in report.checks] == ["unique(id)", "regex(email)", "row_count"]
