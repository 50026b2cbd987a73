"""JSON keys that differ only in case: predicted renames match what DuckDB reads; nested ones are refused."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from lakehouse.api import errors
from lakehouse.api.ingest import JSON_EMPTY_KEY
from lakehouse.servers.ingest import json_keys
from tests.support import ingest_corpus as corpus

CASES = corpus.manifest()["json"]


def duckdb_read(path: str) -> tuple[list[str], int]:
    with duckdb.connect() as con:
        rel = con.sql("SELECT * FROM read_json($p, format = 'auto', records = true)", params={"p": path})
        return rel.columns, len(rel.fetchall())


@pytest.mark.parametrize("case", CASES, ids=[corpus.case_id(c) for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    sample = corpus.raw(case["file"]).decode()
    if "error" in case:
        with pytest.raises(errors.InvalidArgument) as info:
            json_keys.scan(sample)
        assert info.value.reason == case["error"]
        assert info.value.metadata["line"] == str(case["line"])
        assert f"line {case['line']}" in info.value.message
        return
    report = json_keys.scan(sample)
    assert report.rename_map == case["renames"]
    _, renamed = zip(*sorted(report.rename_map.items()), strict=True)
    # Both spellings kept, under the names the report announces.
    columns, rows = duckdb_read(str(corpus.CORPUS / case["file"]))
    assert columns == case["columns"] and rows == case["rows"]
    assert set(renamed) <= set(columns)
    for original, name in case["renames"].items():
        assert f"{original!r} is stored as {name!r}" in report.describe()


def test_several_spellings_follow_duckdbs_rule(tmp_path) -> None:
    text = '{"b":1}\n{"B":2,"a":3}\n{"A":4}\n{"PLATFORM":1,"Platform":2,"platform":3}\n'
    path = tmp_path / "k.ndjson"
    path.write_text(text)
    report = json_keys.scan(text)
    columns, _ = duckdb_read(str(path))
    expected = [report.rename_map.get(k, k) for k in report.keys]
    assert columns == expected == ["b", "B_1", "a", "A_1", "PLATFORM", "Platform_1", "platform_2"]


def test_array_and_concatenated_objects() -> None:
    assert json_keys.scan('[\n {"a": 1},\n {"A": 2}\n]').rename_map == {"A": "A_1"}
    assert json_keys.scan('{\n "x": 1\n}\n{\n "X": 2\n}\n').rename_map == {"X": "X_1"}


def test_a_cut_off_sample_tail_is_ignored() -> None:
    assert json_keys.scan('{"a":1}\n{"A":2}\n{"b":{"Q":1,"q').rename_map == {"A": "A_1"}


def test_nested_clash_across_records_and_inside_lists() -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        json_keys.scan('{"x":[{"Id":1}]}\n{"x":[{"id":2}]}\n')
    assert info.value.metadata == {"line": "2", "path": "x", "keys": "Id,id"}


def test_nested_clash_duckdb_cannot_read(tmp_path) -> None:
    """The refusal is not over-cautious: DuckDB itself fails on the nested file."""
    with pytest.raises(duckdb.Error):
        duckdb_read(str(corpus.CORPUS / "case_keys_nested.ndjson"))


def test_empty_key_refused() -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        json_keys.scan('{"a":1}\n{"":2}\n')
    assert info.value.reason == JSON_EMPTY_KEY and info.value.metadata["line"] == "2"


def test_no_collisions_no_report() -> None:
    report = json_keys.scan('{"a":1,"b":{"c":2}}\n')
    assert report.renames == () and report.describe() == ""
