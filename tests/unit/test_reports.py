"""write_report: rows reach the ingest API as one Parquet upload; nested values as JSON text."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from lakehouse.api.catalog import WriteMode
from lakehouse.servers.reports import report_table, write_report


class RecordingIngest:
    def __init__(self) -> None:
        self.calls = []

    def ingest(self, spec, chunks, **_):
        self.calls.append((spec, b"".join(chunks)))
        return "result"


def test_nested_values_become_stable_json_text():
    table = report_table([{"subject": "a", "metrics": {"b": 2, "a": 1}, "tags": ["x", "y"], "n": 3}])
    row = table.to_pylist()[0]
    assert row == {"subject": "a", "metrics": '{"a":1,"b":2}', "tags": '["x","y"]', "n": 3}


def test_rows_are_appended_as_one_parquet_upload():
    ingest = RecordingIngest()
    assert write_report(ingest, "drift_reports", [{"a": 1}, {"a": 2}]) == "result"
    spec, body = ingest.calls[0]
    assert (spec.dataset, spec.format, spec.mode) == ("drift_reports", "parquet", WriteMode.APPEND)
    assert pq.read_table(io.BytesIO(body)).column("a").to_pylist() == [1, 2]


def test_a_primary_key_upserts():
    ingest = RecordingIngest()
    write_report(ingest, "scored", [{"id": "r1", "category": "gold"}], primary_key=["id"])
    spec, _ = ingest.calls[0]
    assert (spec.mode, spec.primary_key) == (WriteMode.UPSERT, ("id",))


def test_an_empty_report_writes_nothing():
    ingest = RecordingIngest()
    assert write_report(ingest, "drift_reports", []) is None
    assert ingest.calls == []
