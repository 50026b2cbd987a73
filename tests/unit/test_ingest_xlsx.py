"""Workbooks: the corpus sheets (merged headers, dates, typing, trimming) and the refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from lakehouse.api import errors
from lakehouse.api.ingest import WORKBOOK_TOO_LARGE
from lakehouse.servers.ingest import xlsx
from lakehouse.servers.settings import IngestSettings
from tests.data.ingest_fidelity import make
from tests.support import ingest_corpus as corpus

LIMITS = xlsx.XlsxLimits.from_settings(IngestSettings())
CASES = corpus.manifest()["xlsx"]


def as_row(values: dict[str, Any]) -> dict[str, Any]:
    return {k: corpus.expected_value(v) for k, v in values.items()}


@pytest.mark.parametrize("case", CASES, ids=[corpus.case_id(c) for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    path = corpus.CORPUS / case["file"]
    if "error" in case:
        with pytest.raises(errors.InvalidArgument) as info, xlsx.Workbook(path, LIMITS) as book:
            for name in book.resolve(case["sheet"]):
                book.read(name)
        assert info.value.reason == case["error"], info.value.message
        assert str(path) not in info.value.message
        return
    with xlsx.Workbook(path, LIMITS) as book:
        names = book.resolve(case["sheet"])
        if "sheets" in case:
            assert names == case["sheets"]
            return
        assert names == [case["sheet_name"]]
        table = book.read(names[0])
        rows = [r for b in table.batches(batch_rows=2) for r in b.to_pylist()]
    assert table.rows == len(rows) == case["rows"]
    assert table.schema.names == case["columns"]
    assert [str(f.type) for f in table.schema] == case["types"]
    assert table.header_rows == case["header_rows"]
    assert len(table.renames) == case.get("renamed", 0)
    if "first_row" in case:
        assert rows[0] == as_row(case["first_row"])
    if "last_row" in case:
        assert rows[-1] == as_row(case["last_row"])


def test_batches_are_bounded(tmp_path: Path) -> None:
    rows: list[list[object]] = [["n", "label"]] + [[i, f"r{i}"] for i in range(25)]
    path = tmp_path / "big.xlsx"
    path.write_bytes(make.workbook([{"name": "S", "rows": rows}]))
    with xlsx.Workbook(path, LIMITS) as book:
        batches = list(book.read("S").batches(batch_rows=10))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert batches[-1].column("n").to_pylist()[-1] == 24


def test_a_column_mixing_kinds_keeps_every_value_as_text(tmp_path: Path) -> None:
    rows: list[list[object]] = [["v"], [1], [2.5], ["x"], [("bool", True)], [("date", 45292)]]
    path = tmp_path / "mixed.xlsx"
    path.write_bytes(make.workbook([{"name": "S", "rows": rows}]))
    with xlsx.Workbook(path, LIMITS) as book:
        table = book.read("S")
        values = [r["v"] for b in table.batches(100) for r in b.to_pylist()]
    assert values == ["1", "2.5", "x", "true", "2024-01-01"]


def test_header_auto_and_given(tmp_path: Path) -> None:
    rows: list[list[object]] = [[2023, 2024], [1, 2]]
    path = tmp_path / "years.xlsx"
    path.write_bytes(make.workbook([{"name": "S", "rows": rows}]))
    with xlsx.Workbook(path, LIMITS) as book:
        auto = book.read("S")
        given = book.read("S", header="true")
    assert (auto.header_decision, auto.schema.names, auto.rows) == ("absent", ["column0", "column1"], 2)
    assert (given.header_decision, given.schema.names, given.rows) == ("given", ["2023", "2024"], 1)


def test_date_serials_follow_the_workbook_epoch(tmp_path: Path) -> None:
    rows: list[list[object]] = [["d"], [("date", 45292)]]
    for date1904, expected in ((False, dt.date(2024, 1, 1)), (True, dt.date(2028, 1, 2))):
        path = tmp_path / f"epoch{date1904}.xlsx"
        path.write_bytes(make.workbook([{"name": "S", "rows": rows}], date1904=date1904))
        with xlsx.Workbook(path, LIMITS) as book:
            [batch] = book.read("S").batches(10)
        assert batch.column("d").to_pylist() == [expected]


def test_limits(tmp_path: Path) -> None:
    path = corpus.CORPUS / "staffing.xlsx"
    with pytest.raises(errors.InvalidArgument) as info:
        xlsx.Workbook(path, xlsx.XlsxLimits(max_uncompressed_bytes=1000, max_cells=10**6))
    assert info.value.reason == WORKBOOK_TOO_LARGE
    with xlsx.Workbook(path, xlsx.XlsxLimits(max_uncompressed_bytes=10**9, max_cells=10)) as book:
        with pytest.raises(errors.InvalidArgument) as info:
            book.read("Staff")
    assert info.value.reason == WORKBOOK_TOO_LARGE


def test_sheet_dataset_names() -> None:
    names = xlsx.sheet_dataset_names("staff", ["Staff", "Q1 2024 (final)", "q1-2024 final", "***", "x" * 80])
    assert names == {
        "Staff": "staff_staff",
        "Q1 2024 (final)": "staff_q1_2024_final",
        "q1-2024 final": "staff_q1_2024_final_2",
        "***": "staff_sheet3",
        "x" * 80: "staff_" + "x" * 57,
    }
    assert all(len(n) <= 63 for n in names.values())
